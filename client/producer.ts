import { deflateSync } from 'node:zlib';
import type { TopicRouteData } from '../protocol/bodies.js';
import { BrokerResponseError, FerryMQError, InvalidArgumentError } from '../protocol/errors.js';
import { MessageSysFlag } from '../protocol/message-codec.js';
import { createUniqueId } from '../protocol/message-id.js';
import { MessageConst, encodeProperties } from '../protocol/properties.js';
import { ResponseCode } from '../protocol/response-code.js';
import type { SendMessageRequestHeader } from '../protocol/send-header.js';
import { encodeBatchBody } from '../protocol/batch-codec.js';
import { ClientInstance, type ClientMember, type ClientOptions } from './client-instance.js';
import type { Message } from './message.js';
import { queueKey, type MessageQueue } from './message-queue.js';
import { roundRobinSelector, shardingKeySelector, type QueueSelector } from './queue-selector.js';
import { retry, type BackoffOptions } from './retry.js';

export interface ProducerOptions extends ClientOptions {
  /** Producer group. Default `DEFAULT_PRODUCER`. */
  group?: string;
  /** Per-attempt send timeout. Default 3000. */
  sendTimeoutMs?: number;
  /** Extra attempts after a failed send, each on another queue (another broker when there is one). Default 2. */
  retryTimesWhenSendFailed?: number;
  /** Backoff between attempts. */
  retryBackoff?: Partial<BackoffOptions>;
  /** Bodies at least this large are zlib-compressed (single sends only). Default 4096. */
  compressBodyOverBytes?: number;
  /** Largest body accepted, before compression. Default 4 MiB (the broker default). */
  maxMessageSize?: number;
  /** Queue choice when a send passes no selector. Default round robin. */
  selector?: QueueSelector;
  /** Queues per broker for a topic the broker creates on first send (Java's defaultTopicQueueNums). Default 4. */
  defaultTopicQueueNums?: number;
}

export interface SendResult {
  /** The broker's msgId for the stored record (offset id); for a batch, the ids comma-separated. */
  msgId: string;
  /** The UNIQ_KEY the SDK put on the message; a consumer sees it as `uniqKey` (for a batch, comma-separated). */
  uniqKey: string;
  queue: MessageQueue;
  /** Offset of the (first) message in its queue. */
  queueOffset: number;
  /** 'SEND_OK', or a "stored but not yet flushed/replicated" status. */
  status: 'SEND_OK' | 'FLUSH_DISK_TIMEOUT' | 'SLAVE_NOT_AVAILABLE' | 'FLUSH_SLAVE_TIMEOUT';
}

export interface SendOptions {
  selector?: QueueSelector;
  timeoutMs?: number;
}

/** Internal fields of a send: set by consumers re-publishing to a retry topic. */
export interface RawSendFields {
  reconsumeTimes?: number;
  maxReconsumeTimes?: number;
}

/** Properties the SDK sets itself; users set them through Message fields. */
const RESERVED_PROPERTIES = new Set<string>(Object.values(MessageConst));
const CREATE_TOPIC_KEY = 'TBW102';
const DEFAULT_ROUTE_RECHECK_MS = 1_000;
/** The broker's default limit (RocketMQ maxMessageSize). */
const DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024;

interface PublishInfo {
  route: TopicRouteData;
  queues: MessageQueue[];
  /** The topic is not routed yet; sends go to the brokers of TBW102, which create it on first send. */
  viaDefaultTopic: boolean;
  fetchedAt: number;
}

/**
 * Sends messages: picks a queue (round robin, or a selector such as `shardingKeySelector`), adds
 * tags/keys/UNIQ_KEY/delay properties, and retries a failed send on another queue up to a limit.
 */
export class Producer {
  readonly group: string;
  private readonly options: ProducerOptions;
  private readonly defaultSelector: QueueSelector;
  private readonly publishInfo = new Map<string, PublishInfo>();
  private instance: ClientInstance | undefined;
  private readonly member: ClientMember;

  /** An internal producer that joins an existing client instance (consumers use one for retry re-publishing). */
  static inside(instance: ClientInstance, options: ProducerOptions): Producer {
    const producer = new Producer(options);
    producer.instance = instance;
    instance.join(producer.member);
    return producer;
  }

  constructor(options: ProducerOptions) {
    this.options = options;
    this.group = options.group ?? 'DEFAULT_PRODUCER';
    this.defaultSelector = options.selector ?? roundRobinSelector();
    this.member = { kind: 'producer', group: this.group, topics: () => this.publishInfo.keys() };
  }

  get clientId(): string {
    return this.client().clientId;
  }

  async start(): Promise<void> {
    if (this.instance) return;
    this.instance = ClientInstance.acquire(this.options, this.member);
  }

  /** Writable queues of a topic, from a fresh route lookup. */
  async publishQueues(topic: string): Promise<MessageQueue[]> {
    return (await this.publishInfoOf(topic, true)).queues;
  }

  async send(msg: Message, options: SendOptions = {}): Promise<SendResult> {
    const body = this.checkMessage(msg);
    const uniqKey = createUniqueId();
    const properties = this.buildProperties(msg, uniqKey);
    let sysFlag = 0;
    let wireBody = body;
    if (body.length >= (this.options.compressBodyOverBytes ?? 4096)) {
      wireBody = deflateSync(body);
      sysFlag |= MessageSysFlag.COMPRESSED;
    }
    return this.sendWithRetries(msg.topic, msg, options, (queue) => ({
      header: this.header(queue, { sysFlag, flag: msg.flag ?? 0, properties }),
      body: wireBody,
      batch: false,
      uniqKey,
    }));
  }

  /**
   * Sends messages of one topic in one request (code 320); they land in one queue, in order.
   * Delay levels are not allowed in a batch (as in RocketMQ).
   */
  async sendBatch(msgs: readonly Message[], options: SendOptions = {}): Promise<SendResult> {
    if (msgs.length === 0) throw new InvalidArgumentError('sendBatch needs at least one message');
    const topic = msgs[0]!.topic;
    const uniqKeys: string[] = [];
    const entries = msgs.map((msg, i) => {
      if (msg.topic !== topic) throw new InvalidArgumentError(`sendBatch: message ${i} is for topic "${msg.topic}", the batch is for "${topic}"`);
      if (msg.delayLevel) throw new InvalidArgumentError(`sendBatch: message ${i} has a delay level; batches cannot be delayed`);
      const body = this.checkMessage(msg);
      const uniqKey = createUniqueId();
      uniqKeys.push(uniqKey);
      return { flag: msg.flag ?? 0, body, properties: this.buildProperties(msg, uniqKey) };
    });
    const body = encodeBatchBody(entries);
    const max = this.options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    if (body.length > max) throw new InvalidArgumentError(`batch body is ${body.length} bytes; the limit (maxMessageSize) is ${max}: send fewer messages per batch`);
    return this.sendWithRetries(topic, msgs[0]!, options, (queue) => ({
      header: this.header(queue, { sysFlag: 0, flag: 0, properties: '', batch: true }),
      body,
      batch: true,
      uniqKey: uniqKeys.join(','),
    }));
  }

  /** Used by consumers to re-publish a failed message to `%RETRY%<group>` when send-back fails. */
  async sendRaw(topic: string, body: Buffer, properties: Record<string, string>, fields: RawSendFields & { flag?: number; sysFlag?: number }): Promise<SendResult> {
    const encoded = encodeProperties(properties);
    return this.sendWithRetries(topic, { topic, body }, {}, (queue) => ({
      header: this.header(queue, { sysFlag: fields.sysFlag ?? 0, flag: fields.flag ?? 0, properties: encoded, reconsumeTimes: fields.reconsumeTimes, maxReconsumeTimes: fields.maxReconsumeTimes }),
      body,
      batch: false,
      uniqKey: properties[MessageConst.UNIQ_KEY] ?? '',
    }));
  }

  async shutdown(): Promise<void> {
    const instance = this.instance;
    this.instance = undefined;
    await instance?.release(this.member);
  }

  private client(): ClientInstance {
    if (!this.instance) throw new FerryMQError('producer not started: call start() first');
    return this.instance;
  }

  private async sendWithRetries(
    topic: string,
    msg: Message,
    options: SendOptions,
    build: (queue: MessageQueue) => { header: SendMessageRequestHeader; body: Buffer; batch: boolean; uniqKey: string },
  ): Promise<SendResult> {
    const instance = this.client();
    const selector = options.selector ?? (msg.shardingKey ? shardingKeySelector : undefined);
    const failedBrokers = new Set<string>();
    const tried = new Set<string>();
    return retry(
      async (attempt) => {
        const info = await this.publishInfoOf(topic, attempt > 0);
        if (info.queues.length === 0) throw new FerryMQError(`topic "${topic}" has no writable queue`, { retriable: true });
        // A selector (or a sharding key) decides the queue for per-key order; a retry must not move the message elsewhere.
        const queue = selector ? selector.select(info.queues, msg) : this.pickQueue(info.queues, msg, failedBrokers, tried);
        tried.add(queueKey(queue));
        const { header, body, batch, uniqKey } = build(queue);
        try {
          const address = await instance.requireMaster(queue.brokerName);
          const response = await instance.api.send(address, header, body, options.timeoutMs ?? this.options.sendTimeoutMs ?? 3_000, batch);
          return {
            msgId: response.msgId,
            uniqKey,
            queue: { ...queue, queueId: response.queueId },
            queueOffset: response.queueOffset,
            status: sendStatus(response.code),
          };
        } catch (error) {
          failedBrokers.add(queue.brokerName);
          throw error;
        }
      },
      {
        retries: this.options.retryTimesWhenSendFailed ?? 2,
        initialDelayMs: 20,
        maxDelayMs: 1_000,
        ...this.options.retryBackoff,
        shouldRetry: (error) => isRetriableSendError(error),
        onRetry: (error, attempt) => instance.logger.debug({ err: error, topic, attempt }, 'send failed, retrying on another queue'),
      },
    );
  }

  /** Default queue choice: the selector's pick, moved off brokers and queues that already failed this send. */
  private pickQueue(queues: readonly MessageQueue[], msg: Message, failedBrokers: Set<string>, tried: Set<string>): MessageQueue {
    const first = this.defaultSelector.select(queues, msg);
    if (tried.size === 0) return first;
    const start = queues.indexOf(first);
    const ordered = [...queues.slice(start), ...queues.slice(0, start)];
    return (
      ordered.find((q) => !failedBrokers.has(q.brokerName) && !tried.has(queueKey(q))) ??
      ordered.find((q) => !tried.has(queueKey(q))) ??
      first
    );
  }

  /**
   * Queues for a topic, recomputed only when the instance's route object changes. A topic without
   * a route is sent through the brokers of TBW102 (they create it on first send, like Java's
   * producer), and its real route is looked up again after a second.
   */
  private async publishInfoOf(topic: string, refresh = false): Promise<PublishInfo> {
    const instance = this.client();
    let route = refresh ? await instance.updateRoute(topic) : instance.cachedRoute(topic);
    const cached = this.publishInfo.get(topic);
    if (!route && !refresh && !(cached?.viaDefaultTopic && instance.clock.now() - cached.fetchedAt < DEFAULT_ROUTE_RECHECK_MS)) {
      route = await instance.updateRoute(topic);
    }
    if (route) {
      if (cached && cached.route === route) return cached;
      const info = { route, queues: instance.publishQueues(route, topic), viaDefaultTopic: false, fetchedAt: instance.clock.now() };
      this.publishInfo.set(topic, info);
      return info;
    }
    if (cached?.viaDefaultTopic && !refresh) return cached;
    const defaultRoute = await instance.route(CREATE_TOPIC_KEY);
    if (!defaultRoute) {
      throw new BrokerResponseError(ResponseCode.TOPIC_NOT_EXIST, 'TOPIC_NOT_EXIST', `no route for topic "${topic}", and no ${CREATE_TOPIC_KEY} route to create it through`, undefined);
    }
    const info = { route: defaultRoute, queues: instance.publishQueues(limitQueues(defaultRoute, this.options.defaultTopicQueueNums ?? 4), topic), viaDefaultTopic: true, fetchedAt: instance.clock.now() };
    this.publishInfo.set(topic, info);
    return info;
  }

  private header(
    queue: MessageQueue,
    fields: { sysFlag: number; flag: number; properties: string; batch?: boolean } & RawSendFields,
  ): SendMessageRequestHeader {
    return {
      producerGroup: this.group,
      topic: queue.topic,
      defaultTopic: CREATE_TOPIC_KEY,
      defaultTopicQueueNums: this.options.defaultTopicQueueNums ?? 4,
      queueId: queue.queueId,
      sysFlag: fields.sysFlag,
      bornTimestamp: Date.now(),
      flag: fields.flag,
      properties: fields.properties,
      reconsumeTimes: fields.reconsumeTimes ?? 0,
      unitMode: false,
      maxReconsumeTimes: fields.maxReconsumeTimes,
      batch: fields.batch ?? false,
    };
  }

  private checkMessage(msg: Message): Buffer {
    if (!msg || typeof msg.topic !== 'string' || msg.topic.length === 0) throw new InvalidArgumentError('message topic is required');
    const body = typeof msg.body === 'string' ? Buffer.from(msg.body, 'utf8') : msg.body;
    if (!Buffer.isBuffer(body) || body.length === 0) throw new InvalidArgumentError(`message body for topic "${msg.topic}" is empty`);
    const max = this.options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    if (body.length > max) throw new InvalidArgumentError(`message body is ${body.length} bytes; the limit (maxMessageSize) is ${max}`);
    if (msg.delayLevel !== undefined && (!Number.isInteger(msg.delayLevel) || msg.delayLevel < 0)) {
      throw new InvalidArgumentError(`delayLevel must be a non-negative integer, got ${msg.delayLevel}`);
    }
    for (const name of Object.keys(msg.properties ?? {})) {
      if (RESERVED_PROPERTIES.has(name)) throw new InvalidArgumentError(`property "${name}" is reserved; use the Message field instead`);
    }
    return body;
  }

  private buildProperties(msg: Message, uniqKey: string): string {
    const keys = typeof msg.keys === 'string' ? msg.keys : msg.keys?.join(' ');
    return encodeProperties({
      ...msg.properties,
      [MessageConst.TAGS]: msg.tags || undefined,
      [MessageConst.KEYS]: keys || undefined,
      [MessageConst.UNIQ_KEY]: uniqKey,
      [MessageConst.DELAY]: msg.delayLevel ? msg.delayLevel : undefined,
      [MessageConst.SHARDING_KEY]: msg.shardingKey,
      [MessageConst.WAIT]: 'true',
    });
  }
}

function sendStatus(code: number): SendResult['status'] {
  switch (code) {
    case ResponseCode.FLUSH_DISK_TIMEOUT: return 'FLUSH_DISK_TIMEOUT';
    case ResponseCode.SLAVE_NOT_AVAILABLE: return 'SLAVE_NOT_AVAILABLE';
    case ResponseCode.FLUSH_SLAVE_TIMEOUT: return 'FLUSH_SLAVE_TIMEOUT';
    default: return 'SEND_OK';
  }
}

function isRetriableSendError(error: unknown): boolean {
  if (error instanceof InvalidArgumentError) return false;
  if (error instanceof BrokerResponseError) {
    // The broker refused this message itself; another queue will refuse it too.
    return error.code !== ResponseCode.MESSAGE_ILLEGAL;
  }
  return true;
}

/** Java's producer caps a not-yet-created topic at `defaultTopicQueueNums` queues per broker. */
function limitQueues(route: TopicRouteData, queueNums: number): TopicRouteData {
  return {
    ...route,
    queueDatas: (route.queueDatas ?? []).map((qd) => ({
      ...qd,
      readQueueNums: Math.min(queueNums, Number(qd.readQueueNums)),
      writeQueueNums: Math.min(queueNums, Number(qd.writeQueueNums)),
    })),
  };
}
