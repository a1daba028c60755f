import { errorFromResponse } from '../protocol/errors.js';
import { encodeJsonBody, parseRocketMQJson, type ConsumerListBody, type HeartbeatData, type LockBatchRequestBody, type LockBatchResponseBody, type TopicRouteData, type UnlockBatchRequestBody } from '../protocol/bodies.js';
import { createRequest, SerializeType, type CreateRequestOptions, type ExtFieldsInput, type RemotingCommand } from '../protocol/remoting-command.js';
import { RequestCode } from '../protocol/request-code.js';
import { ResponseCode } from '../protocol/response-code.js';
import { SendHeaderV2Cache, toV2, type SendMessageRequestHeader } from '../protocol/send-header.js';
import type { MessageQueue } from './message-queue.js';
import type { RemotingClient } from './remoting-client.js';

/**
 * The broker and name-server requests the SDK makes, one method per request code. Stateless:
 * callers pass the address. Non-success codes become typed errors via `errorFromResponse`,
 * except the codes a method documents as an answer (e.g. 22 QUERY_NOT_FOUND → undefined).
 */

export const PullStatus = {
  FOUND: 'FOUND',
  NO_NEW_MSG: 'NO_NEW_MSG',
  NO_MATCHED_MSG: 'NO_MATCHED_MSG',
  OFFSET_ILLEGAL: 'OFFSET_ILLEGAL',
} as const;
export type PullStatus = (typeof PullStatus)[keyof typeof PullStatus];

export interface PullRequest {
  group: string;
  queue: MessageQueue;
  offset: number;
  maxNums: number;
  subscription: string;
  subVersion: number;
  /** Clustering: the consumer's committed offset, piggybacked so the broker stores it. */
  commitOffset?: number;
  /** Long-poll: how long the broker may hold the pull when nothing is there. 0 = answer at once. */
  suspendTimeoutMs: number;
}

export interface PullResponse {
  status: PullStatus;
  nextBeginOffset: number;
  minOffset: number;
  maxOffset: number;
  /** Concatenated stored records (FOUND only). */
  body: Buffer | undefined;
}

/** `PullSysFlag` bits. */
const PULL_COMMIT_OFFSET = 1;
const PULL_SUSPEND = 2;
const PULL_SUBSCRIPTION = 4;

export interface SendResponse {
  code: number;
  msgId: string;
  queueId: number;
  queueOffset: number;
}

const SUCCESS_ONLY: readonly number[] = [ResponseCode.SUCCESS];

/** A pull's answers: FOUND, NO_NEW_MSG, NO_MATCHED_MSG and OFFSET_ILLEGAL. */
const PULL_OK_CODES: readonly number[] = [ResponseCode.SUCCESS, ResponseCode.PULL_NOT_FOUND, ResponseCode.PULL_RETRY_IMMEDIATELY, ResponseCode.PULL_OFFSET_MOVED];

/** Codes a send treats as "stored" (the flush or replication wait timed out, the message is there). */
const SEND_OK_CODES: readonly number[] = [ResponseCode.SUCCESS, ResponseCode.FLUSH_DISK_TIMEOUT, ResponseCode.SLAVE_NOT_AVAILABLE, ResponseCode.FLUSH_SLAVE_TIMEOUT];

export interface SendBackRequest {
  group: string;
  /** Physical offset of the stored message. */
  commitLogOffset: number;
  /** 0 = broker picks 3 + reconsumeTimes; < 0 = straight to the dead-letter queue. */
  delayLevel: number;
  originMsgId: string;
  originTopic: string;
  maxReconsumeTimes: number;
}

/** How request headers are serialized: RocketMQ's binary layout (the default) or JSON. */
export type HeaderFormat = keyof typeof SerializeType;

/** Throws the typed error for a response code outside `okCodes`. */
function checkCode(response: RemotingCommand, okCodes: readonly number[], requestCode: number): void {
  if (!okCodes.includes(response.code)) throw errorFromResponse(response.code, response.remark, requestCode);
}

export class BrokerApi {
  /** The same options for every request: built once. */
  private readonly requestOptions: CreateRequestOptions;
  /** Send headers' unchanging fields, encoded once (binary headers only). */
  private readonly sendHeaders: SendHeaderV2Cache | undefined;

  constructor(
    readonly remoting: RemotingClient,
    private readonly timeoutMs: number,
    headerFormat: HeaderFormat = 'ROCKETMQ',
  ) {
    this.requestOptions = { serializeType: SerializeType[headerFormat] };
    this.sendHeaders = headerFormat === 'ROCKETMQ' ? new SendHeaderV2Cache() : undefined;
  }

  /** One request; throws the typed error for any code outside `okCodes`. */
  async call(address: string, code: number, ext?: ExtFieldsInput, body?: Buffer, options: { timeoutMs?: number; okCodes?: readonly number[] } = {}): Promise<RemotingCommand> {
    return await this.exchange(address, createRequest(code, ext, body, this.requestOptions), options.timeoutMs ?? this.timeoutMs, options.okCodes ?? SUCCESS_ONLY);
  }

  private async exchange(address: string, request: RemotingCommand, timeoutMs: number, okCodes: readonly number[]): Promise<RemotingCommand> {
    const response = await this.remoting.invoke(address, request, timeoutMs);
    checkCode(response, okCodes, request.code);
    return response;
  }

  /** Route of a topic, or undefined when the name server does not know it (17). */
  async getRoute(nameServer: string, topic: string): Promise<TopicRouteData | undefined> {
    const response = await this.call(nameServer, RequestCode.GET_ROUTEINFO_BY_TOPIC, { topic }, undefined, { okCodes: [ResponseCode.SUCCESS, ResponseCode.TOPIC_NOT_EXIST] });
    if (response.code === ResponseCode.TOPIC_NOT_EXIST || !response.body) return undefined;
    return parseRocketMQJson<TopicRouteData>(response.body);
  }

  async heartbeat(address: string, data: HeartbeatData): Promise<void> {
    await this.call(address, RequestCode.HEART_BEAT, undefined, encodeJsonBody(data));
  }

  async unregister(address: string, clientId: string, group: { producerGroup?: string; consumerGroup?: string }): Promise<void> {
    await this.call(address, RequestCode.UNREGISTER_CLIENT, { clientID: clientId, ...group });
  }

  /**
   * Not async, and the remoting call is not awaited through exchange(): the answer is one `then` away
   * from the connection's promise (a send is the one request made per message).
   */
  send(address: string, header: SendMessageRequestHeader, body: Buffer, timeoutMs: number, batch = false): Promise<SendResponse> {
    const code = batch ? RequestCode.SEND_BATCH_MESSAGE : RequestCode.SEND_MESSAGE_V2;
    const request = createRequest(code, undefined, body, this.requestOptions);
    if (this.sendHeaders) this.sendHeaders.apply(request, header);
    else request.extFields = toV2(header);
    return this.remoting.invoke(address, request, timeoutMs).then((response) => {
      checkCode(response, SEND_OK_CODES, code);
      return {
        code: response.code,
        msgId: response.extFields.msgId ?? '',
        queueId: Number(response.extFields.queueId ?? header.queueId),
        queueOffset: Number(response.extFields.queueOffset ?? -1),
      };
    });
  }

  async pull(address: string, request: PullRequest, timeoutMs: number): Promise<PullResponse> {
    const commit = request.commitOffset !== undefined && request.commitOffset > 0;
    const sysFlag = (commit ? PULL_COMMIT_OFFSET : 0) | (request.suspendTimeoutMs > 0 ? PULL_SUSPEND : 0) | PULL_SUBSCRIPTION;
    const ext: ExtFieldsInput = {
      consumerGroup: request.group,
      topic: request.queue.topic,
      queueId: request.queue.queueId,
      queueOffset: request.offset,
      maxMsgNums: request.maxNums,
      sysFlag,
      commitOffset: commit ? request.commitOffset : 0,
      suspendTimeoutMillis: request.suspendTimeoutMs,
      subscription: request.subscription,
      subVersion: request.subVersion,
      expressionType: 'TAG',
    };
    // Awaited here rather than through call(): two async frames less per pull.
    const response = await this.remoting.invoke(address, createRequest(RequestCode.PULL_MESSAGE, ext, undefined, this.requestOptions), timeoutMs);
    checkCode(response, PULL_OK_CODES, RequestCode.PULL_MESSAGE);
    const status =
      response.code === ResponseCode.SUCCESS ? PullStatus.FOUND
      : response.code === ResponseCode.PULL_NOT_FOUND ? PullStatus.NO_NEW_MSG
      : response.code === ResponseCode.PULL_RETRY_IMMEDIATELY ? PullStatus.NO_MATCHED_MSG
      : PullStatus.OFFSET_ILLEGAL;
    return {
      status,
      nextBeginOffset: Number(response.extFields.nextBeginOffset ?? request.offset),
      minOffset: Number(response.extFields.minOffset ?? 0),
      maxOffset: Number(response.extFields.maxOffset ?? 0),
      body: response.body,
    };
  }

  /** The group's stored offset, or undefined when the broker has none (22). */
  async queryConsumerOffset(address: string, group: string, mq: MessageQueue): Promise<number | undefined> {
    const response = await this.call(address, RequestCode.QUERY_CONSUMER_OFFSET, { topic: mq.topic, consumerGroup: group, queueId: mq.queueId }, undefined, {
      timeoutMs: Math.max(this.timeoutMs, 5_000),
      okCodes: [ResponseCode.SUCCESS, ResponseCode.QUERY_NOT_FOUND],
    });
    return response.code === ResponseCode.SUCCESS ? Number(response.extFields.offset) : undefined;
  }

  async updateConsumerOffset(address: string, group: string, mq: MessageQueue, offset: number): Promise<void> {
    await this.call(address, RequestCode.UPDATE_CONSUMER_OFFSET, { topic: mq.topic, consumerGroup: group, queueId: mq.queueId, commitOffset: offset });
  }

  async maxOffset(address: string, mq: MessageQueue): Promise<number> {
    const response = await this.call(address, RequestCode.GET_MAX_OFFSET, { topic: mq.topic, queueId: mq.queueId });
    return Number(response.extFields.offset);
  }

  async minOffset(address: string, mq: MessageQueue): Promise<number> {
    const response = await this.call(address, RequestCode.GET_MIN_OFFSET, { topic: mq.topic, queueId: mq.queueId });
    return Number(response.extFields.offset);
  }

  async searchOffset(address: string, mq: MessageQueue, timestamp: number): Promise<number> {
    const response = await this.call(address, RequestCode.SEARCH_OFFSET_BY_TIMESTAMP, { topic: mq.topic, queueId: mq.queueId, timestamp });
    return Number(response.extFields.offset);
  }

  /** Live client ids of a consumer group, as the broker sees them; [] when none (Java answers 1). */
  async consumerIds(address: string, group: string): Promise<string[]> {
    const response = await this.call(address, RequestCode.GET_CONSUMER_LIST_BY_GROUP, { consumerGroup: group }, undefined, { okCodes: [ResponseCode.SUCCESS, ResponseCode.SYSTEM_ERROR] });
    if (response.code !== ResponseCode.SUCCESS || !response.body) return [];
    const body = parseRocketMQJson<Partial<ConsumerListBody>>(response.body);
    return body.consumerIdList ?? [];
  }

  async sendBack(address: string, request: SendBackRequest): Promise<void> {
    await this.call(address, RequestCode.CONSUMER_SEND_MSG_BACK, {
      offset: request.commitLogOffset,
      group: request.group,
      delayLevel: request.delayLevel,
      originMsgId: request.originMsgId,
      originTopic: request.originTopic,
      unitMode: false,
      maxReconsumeTimes: request.maxReconsumeTimes,
    });
  }

  /** Locks queues for an orderly consumer; returns the ones this client now holds. */
  async lockQueues(address: string, group: string, clientId: string, queues: readonly MessageQueue[]): Promise<MessageQueue[]> {
    const response = await this.call(address, RequestCode.LOCK_BATCH_MQ, undefined, encodeJsonBody({ consumerGroup: group, clientId, mqSet: [...queues] } satisfies LockBatchRequestBody));
    if (!response.body) return [];
    return (parseRocketMQJson<Partial<LockBatchResponseBody>>(response.body).lockOKMQSet ?? []).map((mq) => ({ topic: mq.topic, brokerName: mq.brokerName, queueId: Number(mq.queueId) }));
  }

  async unlockQueues(address: string, group: string, clientId: string, queues: readonly MessageQueue[]): Promise<void> {
    await this.call(address, RequestCode.UNLOCK_BATCH_MQ, undefined, encodeJsonBody({ consumerGroup: group, clientId, mqSet: [...queues] } satisfies UnlockBatchRequestBody));
  }

  /** Creates or updates a topic on one broker (code 17); used by tests, examples and admin tools. */
  async createTopic(address: string, topic: string, options: { readQueueNums?: number; writeQueueNums?: number; perm?: number; order?: boolean } = {}): Promise<void> {
    await this.call(address, RequestCode.UPDATE_AND_CREATE_TOPIC, {
      topic,
      defaultTopic: 'TBW102',
      readQueueNums: options.readQueueNums ?? 4,
      writeQueueNums: options.writeQueueNums ?? options.readQueueNums ?? 4,
      perm: options.perm ?? 6,
      topicFilterType: 'SINGLE_TAG',
      topicSysFlag: 0,
      order: options.order ?? false,
    });
  }

}
