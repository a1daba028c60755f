/**
 * Operating a FerryMQ broker (or a RocketMQ 4.x broker, for the codes they share) over the admin
 * request codes: topics, groups and their lag, offset resets, runtime info, and message lookups.
 * One address serves as both name server and broker, as FerryMQ does; every call is one request.
 */
import {
  decodeConsumeStats,
  decodeResetOffsetBody,
  decodeTopicStatsTable,
  type ConsumeStats,
  type ConsumerConnection,
  type ConnectionInfo,
  type QueueEntry,
  type SubscriptionGroupBody,
  type TopicConfigBody,
  type TopicOffset,
} from '../protocol/admin-bodies.js';
import { encodeJsonBody, parseRocketMQJson } from '../protocol/bodies.js';
import { decodeRecords, type DecodedRecord } from '../protocol/message-codec.js';
import { decodeOffsetMsgId } from '../protocol/message-id.js';
import { RequestCode } from '../protocol/request-code.js';
import { ResponseCode } from '../protocol/response-code.js';
import { BrokerApi, type HeaderFormat } from './broker-api.js';
import { defaultLogger, type Logger } from './logger.js';
import { RemotingClient } from './remoting-client.js';


export interface AdminClientOptions {
  /** `host:port` of the broker. */
  address: string;
  /** Per-request timeout. Default 5000. */
  requestTimeoutMs?: number;
  /** Request header serialization, as for producers and consumers. Default `ROCKETMQ` (binary). */
  headerFormat?: HeaderFormat;
  logger?: Logger;
}

export interface TopicCreateOptions {
  queueNums?: number;
  /** RocketMQ perm bits: 4 read, 2 write. Default 6. */
  perm?: number;
  order?: boolean;
}

export interface ResetOffsetOptions {
  group: string;
  topic: string;
  /** Exactly one target. `timestamp`: the first message stored at or after it. */
  to: { earliest: true } | { latest: true } | { offset: number } | { timestamp: number };
  /** Only this queue (default: every queue of the topic). */
  queueId?: number;
}

export interface ResetOffsetResult {
  offsets: QueueEntry<number>[];
  /** Live consumers told to move (RESET_CONSUMER_CLIENT_OFFSET). */
  notifiedClients: number;
}

/** `timestamp` value meaning "end of queue" in INVOKE_BROKER_TO_RESET_OFFSET. */
const RESET_TO_LATEST = -1;

export class AdminClient {
  readonly address: string;
  private readonly remoting: RemotingClient;
  private readonly api: BrokerApi;
  private readonly timeoutMs: number;

  constructor(options: AdminClientOptions) {
    this.address = options.address;
    const timeoutMs = (this.timeoutMs = options.requestTimeoutMs ?? 5_000);
    // One attempt: an operator wants "cannot connect" now, not after a backoff series.
    this.remoting = new RemotingClient({ requestTimeoutMs: timeoutMs, connectTimeoutMs: timeoutMs, connectRetries: 0, logger: options.logger ?? defaultLogger() });
    this.api = new BrokerApi(this.remoting, timeoutMs, options.headerFormat);
  }

  close(): void {
    this.remoting.close();
  }

  // topics

  async createTopic(topic: string, options: TopicCreateOptions = {}): Promise<void> {
    await this.api.createTopic(this.address, topic, { readQueueNums: options.queueNums, writeQueueNums: options.queueNums, perm: options.perm, order: options.order });
  }

  async deleteTopic(topic: string): Promise<void> {
    await this.api.call(this.address, RequestCode.DELETE_TOPIC_IN_BROKER, { topic });
  }

  /** Every topic config, system topics included, sorted by name. */
  async topicConfigs(): Promise<TopicConfigBody[]> {
    const response = await this.api.call(this.address, RequestCode.GET_ALL_TOPIC_CONFIG);
    const body = parseRocketMQJson<{ topicConfigTable?: Record<string, TopicConfigBody> }>(response.body ?? '{}');
    return Object.values(body.topicConfigTable ?? {}).sort((a, b) => (a.topicName < b.topicName ? -1 : a.topicName > b.topicName ? 1 : 0));
  }

  /** Per queue: min and max offset and the newest store time. Throws TOPIC_NOT_EXIST (17) for an unknown topic. */
  async topicStats(topic: string): Promise<QueueEntry<TopicOffset>[]> {
    const response = await this.api.call(this.address, RequestCode.GET_TOPIC_STATS_INFO, { topic });
    return decodeTopicStatsTable(response.body ?? Buffer.from('{}'));
  }

  // groups

  async consumeStats(group: string, topic?: string): Promise<ConsumeStats> {
    const response = await this.api.call(this.address, RequestCode.GET_CONSUME_STATS, { consumerGroup: group, topic });
    return decodeConsumeStats(response.body ?? Buffer.from('{}'));
  }

  /** The group's live consumers and subscriptions; undefined when none is online (206). */
  async consumerConnections(group: string): Promise<ConsumerConnection | undefined> {
    const response = await this.api.call(this.address, RequestCode.GET_CONSUMER_CONNECTION_LIST, { consumerGroup: group }, undefined, {
      okCodes: [ResponseCode.SUCCESS, ResponseCode.CONSUMER_NOT_ONLINE],
    });
    if (response.code !== ResponseCode.SUCCESS || !response.body) return undefined;
    return parseRocketMQJson<ConsumerConnection>(response.body);
  }

  /** Live producers of a group; [] when none. */
  async producerConnections(group: string): Promise<ConnectionInfo[]> {
    const response = await this.api.call(this.address, RequestCode.GET_PRODUCER_CONNECTION_LIST, { producerGroup: group }, undefined, {
      okCodes: [ResponseCode.SUCCESS, ResponseCode.SYSTEM_ERROR],
    });
    if (response.code !== ResponseCode.SUCCESS || !response.body) return [];
    return parseRocketMQJson<{ connectionSet?: ConnectionInfo[] }>(response.body).connectionSet ?? [];
  }

  async subscriptionGroups(): Promise<SubscriptionGroupBody[]> {
    const response = await this.api.call(this.address, RequestCode.GET_ALL_SUBSCRIPTIONGROUP_CONFIG);
    const body = parseRocketMQJson<{ subscriptionGroupTable?: Record<string, SubscriptionGroupBody> }>(response.body ?? '{}');
    return Object.values(body.subscriptionGroupTable ?? {}).sort((a, b) => (a.groupName < b.groupName ? -1 : a.groupName > b.groupName ? 1 : 0));
  }

  async createSubscriptionGroup(config: Partial<SubscriptionGroupBody> & { groupName: string }): Promise<void> {
    await this.api.call(this.address, RequestCode.UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, undefined, encodeJsonBody(config));
  }

  async deleteSubscriptionGroup(group: string, removeOffset = false): Promise<void> {
    await this.api.call(this.address, RequestCode.DELETE_SUBSCRIPTIONGROUP, { groupName: group, removeOffset });
  }

  /** The group's committed offset on one queue; undefined when it has none. */
  async committedOffset(group: string, topic: string, queueId: number): Promise<number | undefined> {
    return this.api.queryConsumerOffset(this.address, group, { topic, brokerName: '', queueId });
  }

  async commitOffset(group: string, topic: string, queueId: number, offset: number): Promise<void> {
    await this.api.updateConsumerOffset(this.address, group, { topic, brokerName: '', queueId }, offset);
  }

  /** Every committed offset: `topic@group` → queueId → offset. */
  async allConsumerOffsets(): Promise<Record<string, Record<string, number>>> {
    const response = await this.api.call(this.address, RequestCode.GET_ALL_CONSUMER_OFFSET);
    return parseRocketMQJson<{ offsetTable?: Record<string, Record<string, number>> }>(response.body ?? '{}').offsetTable ?? {};
  }

  /** Moves the group's committed offsets (running consumers follow via 220). Always forced: backwards or forwards. */
  async resetOffset(options: ResetOffsetOptions): Promise<ResetOffsetResult> {
    const { to } = options;
    const timestamp = 'timestamp' in to ? to.timestamp : 'latest' in to ? RESET_TO_LATEST : 0;
    const response = await this.api.call(this.address, RequestCode.INVOKE_BROKER_TO_RESET_OFFSET, {
      topic: options.topic,
      group: options.group,
      timestamp,
      isForce: true,
      offset: 'offset' in to ? to.offset : undefined,
      queueId: options.queueId,
    });
    return {
      offsets: decodeResetOffsetBody(response.body ?? Buffer.from('{}')),
      notifiedClients: Number(response.extFields.notifiedClients ?? 0),
    };
  }

  // broker

  /** GET_BROKER_RUNTIME_INFO's key/value table. */
  async runtimeInfo(): Promise<Record<string, string>> {
    const response = await this.api.call(this.address, RequestCode.GET_BROKER_RUNTIME_INFO);
    return parseRocketMQJson<{ table?: Record<string, string> }>(response.body ?? '{}').table ?? {};
  }

  // messages

  /** The stored record behind an offset msgId; undefined when the broker has no record there. */
  async viewMessage(msgId: string): Promise<DecodedRecord | undefined> {
    const { physicalOffset: offset } = decodeOffsetMsgId(msgId);
    const response = await this.api.call(this.address, RequestCode.VIEW_MESSAGE_BY_ID, { offset }, undefined, {
      okCodes: [ResponseCode.SUCCESS, ResponseCode.SYSTEM_ERROR],
    });
    if (response.code !== ResponseCode.SUCCESS || !response.body) return undefined;
    return decodeRecords(response.body)[0];
  }

  /** Messages of `topic` whose keys include `key` (at most `maxNum`, newest index entries first as stored). */
  async queryByKey(topic: string, key: string, maxNum = 32): Promise<DecodedRecord[]> {
    const response = await this.api.call(
      this.address,
      RequestCode.QUERY_MESSAGE,
      { topic, key, maxNum, beginTimestamp: 0, endTimestamp: Number.MAX_SAFE_INTEGER },
      undefined,
      { okCodes: [ResponseCode.SUCCESS, ResponseCode.QUERY_NOT_FOUND] },
    );
    if (response.code !== ResponseCode.SUCCESS || !response.body) return [];
    return decodeRecords(response.body);
  }

  /**
   * Reads stored records of one queue from `offset` without committing anything (the pull carries
   * no commit flag): how `dlq list` browses a dead-letter queue. Returns the records and the next offset.
   */
  async readQueue(group: string, topic: string, queueId: number, offset: number, maxNums = 32): Promise<{ records: DecodedRecord[]; nextOffset: number }> {
    const pulled = await this.api.pull(
      this.address,
      { group, queue: { topic, brokerName: '', queueId }, offset, maxNums, subscription: '*', subVersion: 0, suspendTimeoutMs: 0 },
      this.timeoutMs,
    );
    return { records: pulled.body ? decodeRecords(pulled.body) : [], nextOffset: pulled.nextBeginOffset };
  }
}
