import type { ConsumerData } from '../protocol/bodies.js';
import { FerryMQError, InvalidArgumentError } from '../protocol/errors.js';
import { averageStrategy } from './allocate/average.js';
import type { AllocateStrategy } from './allocate/strategy.js';
import { PullStatus } from './broker-api.js';
import { ClientInstance, type ClientMember, type ClientOptions } from './client-instance.js';
import { IntervalTask } from '../storage/clock.js';
import type { MessageModel } from './consume-types.js';
import { receivedFromPull, type ReceivedMessage } from './message.js';
import { compareQueues, queueKey, type MessageQueue } from './message-queue.js';
import { createOffsetStore, type OffsetStore } from './offset-store.js';
import { RebalanceService } from './rebalance-service.js';
import { backoffDelay, PULL_FAILURE_BACKOFF, sleep } from './retry.js';
import { computeStartOffset, storeHasAnyOffset, type ConsumeFromWhere } from './start-offset.js';
import { consumerDataOf, newSubscription, wireExpression, type Subscription } from './subscription.js';

export interface PullConsumerOptions extends ClientOptions {
  group: string;
  /** For `subscribe`: CLUSTERING (default, queues shared by the group) or BROADCASTING (all queues). */
  messageModel?: MessageModel;
  consumeFromWhere?: ConsumeFromWhere;
  consumeTimestamp?: number;
  allocateStrategy?: AllocateStrategy;
  /** Messages per pull request and at most per `poll()`. Default 32. */
  pullBatchSize?: number;
  /** Messages buffered per queue ahead of `poll()`. Default 1000. */
  pullThresholdForQueue?: number;
  /** Long-poll hold time asked of the broker. Default 5000. */
  pullSuspendMs?: number;
  /** Commit consumed positions every `autoCommitIntervalMs` and on shutdown. Default true. */
  autoCommit?: boolean;
  autoCommitIntervalMs?: number;
  rebalanceIntervalMs?: number;
  /** Broadcasting: directory of the offset files. Default ~/.ferrymq/offsets. */
  offsetStoreDir?: string;
  /**
   * Verify each received body against the CRC the broker stored with it. Default false, as in
   * RocketMQ's Java client and ali-ons: the check is about a tenth of the consumer's CPU, and TCP
   * checksums the transfer. A body that fails is not delivered, nor are the ones after it in that
   * pull answer.
   */
  checkBodyCrc?: boolean;
}

export type SeekTarget = number | 'earliest' | 'latest' | { timestamp: number };

interface Fetcher {
  mq: MessageQueue;
  /** Bumped by seek and release: a pull answer from an older generation is dropped. */
  generation: number;
  nextPullOffset: number;
  /** One past the last message returned by poll(). */
  position: number;
  /** One past the last message known to be processed (the previous poll's batch, or commit()). */
  consumed: number;
  buffer: ReceivedMessage[];
  paused: boolean;
  released: boolean;
  filter: Subscription;
}

/**
 * Pull-style consumption: `assign` queues or `subscribe` topics (rebalanced across the group),
 * then `poll()` or `for await (const msgs of consumer)`. Background long polls fill a buffer per
 * queue; `poll()` hands out what is there. A batch counts as processed when the next `poll()`
 * starts (or on `commit()`), so committed offsets never pass a message still being handled.
 */
export class PullConsumer implements AsyncIterable<ReceivedMessage[]> {
  readonly group: string;
  readonly messageModel: MessageModel;
  private readonly options: PullConsumerOptions;
  private readonly strategy: AllocateStrategy;
  private readonly fetchers = new Map<string, Fetcher>();
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly initialQueues = new Map<string, Set<string>>();
  private assigned: MessageQueue[] | undefined;
  private lastPolled: Array<{ fetcher: Fetcher; generation: number; offset: number }> = [];
  private instance: ClientInstance | undefined;
  private store!: OffsetStore;
  private rebalancer: RebalanceService | undefined;
  private committer: IntervalTask | undefined;
  private running = false;
  private wake: (() => void) | undefined;
  private nextQueue = 0;
  private readonly member: ClientMember;

  constructor(options: PullConsumerOptions) {
    if (!options.group) throw new InvalidArgumentError('consumer group is required');
    this.options = options;
    this.group = options.group;
    this.messageModel = options.messageModel ?? 'CLUSTERING';
    this.strategy = options.allocateStrategy ?? averageStrategy;
    this.member = {
      kind: 'consumer',
      group: this.group,
      topics: () => this.topics(),
      consumerData: () => this.consumerData(),
      onConsumerIdsChanged: () => void this.rebalancer?.rebalanceNow(),
      resetOffsets: async (topic, offsets, timestamp) => {
        for (const [key, fetcher] of [...this.fetchers]) {
          if (fetcher.mq.topic !== topic) continue;
          await this.seek(fetcher.mq, offsets?.get(key) ?? (timestamp < 0 ? 'latest' : { timestamp }));
        }
      },
    };
  }

  async start(): Promise<void> {
    if (this.running) return;
    const instance = ClientInstance.acquire(this.options, this.member);
    this.instance = instance;
    this.store = createOffsetStore(this.messageModel, this.group, () => instance.offsetBackend(), this.options);
    try {
      await this.store.load();
    } catch (error) {
      await instance.release(this.member);
      throw error;
    }
    this.running = true;
    this.rebalancer = new RebalanceService(this.options.rebalanceIntervalMs ?? 20_000, () => this.rebalance(), instance.clock, instance.logger);
    this.rebalancer.start();
    if (this.options.autoCommit ?? true) {
      this.committer = new IntervalTask(this.options.autoCommitIntervalMs ?? 5_000, () => this.persist(), instance.clock, (err) => instance.logger.warn({ err }, 'auto-commit failed'));
      this.committer.start();
    }
  }

  /** Readable queues of a topic. */
  async queuesOf(topic: string): Promise<MessageQueue[]> {
    const instance = this.client();
    const route = await instance.updateRoute(topic);
    if (!route) throw new FerryMQError(`topic "${topic}" does not exist`, { code: 17 });
    return instance.subscribeQueues(route, topic);
  }

  /** Consumes exactly these queues (no rebalancing). Replaces any previous assignment or subscription. */
  async assign(queues: readonly MessageQueue[], expression = '*'): Promise<void> {
    this.client();
    this.subscriptions.clear();
    this.assigned = [...queues].sort(compareQueues);
    const filters = new Map<string, Subscription>();
    for (const mq of this.assigned) if (!filters.has(mq.topic)) filters.set(mq.topic, newSubscription(mq.topic, expression));
    await this.updateFetchers(this.assigned, (topic) => filters.get(topic)!);
  }

  /** Consumes a topic with the group: queues are spread over the members (or all of them when broadcasting). */
  async subscribe(topic: string, expression = '*'): Promise<void> {
    const instance = this.client();
    if (this.assigned) throw new InvalidArgumentError('this consumer uses assign(); subscribe() and assign() do not mix');
    this.subscriptions.set(topic, newSubscription(topic, expression));
    await instance.updateRoute(topic);
    await instance.sendHeartbeat().catch(() => {});
    await this.rebalancer!.rebalanceNow();
  }

  /** Queues currently consumed, sorted. */
  assignment(): MessageQueue[] {
    return [...this.fetchers.values()].map((f) => f.mq).sort(compareQueues);
  }

  /**
   * Up to `pullBatchSize` messages, waiting at most `timeoutMs` for some to arrive; [] on timeout.
   * Marks the previous poll's messages as processed.
   */
  async poll(timeoutMs = 1_000): Promise<ReceivedMessage[]> {
    this.client();
    if (this.wake) throw new FerryMQError('poll() is already waiting: call poll() from one place at a time');
    this.acknowledgePrevious();
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const batch = this.take();
      if (batch.length > 0 || !this.running) return batch;
      const left = deadline - Date.now();
      if (left <= 0) return [];
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** Commits the positions of everything returned by poll() so far. */
  async commit(): Promise<void> {
    this.client();
    for (const fetcher of this.fetchers.values()) {
      fetcher.consumed = fetcher.position;
      this.store.update(fetcher.mq, fetcher.position, false);
    }
    this.lastPolled = [];
    await this.store.persistAll(this.assignment());
  }

  /** The committed offset of a queue (-1 if none). */
  async committed(mq: MessageQueue): Promise<number> {
    return this.store.read(mq, true);
  }

  /** Moves a queue to an offset, its first or last offset, or the offset nearest a time. */
  async seek(mq: MessageQueue, target: SeekTarget): Promise<void> {
    const instance = this.client();
    const fetcher = this.fetchers.get(queueKey(mq));
    if (!fetcher) throw new InvalidArgumentError(`queue ${queueKey(mq)} is not assigned to this consumer`);
    const address = await instance.requireMaster(mq.brokerName);
    let offset: number;
    if (typeof target === 'number') {
      if (!Number.isSafeInteger(target) || target < 0) throw new InvalidArgumentError(`seek offset must be a non-negative integer, got ${target}`);
      offset = target;
    } else if (target === 'earliest') offset = await instance.api.minOffset(address, mq);
    else if (target === 'latest') offset = await instance.api.maxOffset(address, mq);
    else offset = await instance.api.searchOffset(address, mq, target.timestamp);
    fetcher.generation++;
    fetcher.buffer = [];
    fetcher.nextPullOffset = fetcher.position = fetcher.consumed = offset;
    this.store.update(mq, offset, false);
    void this.fetchLoop(fetcher);
  }

  pause(queues: readonly MessageQueue[]): void {
    for (const mq of queues) {
      const fetcher = this.fetchers.get(queueKey(mq));
      if (fetcher) fetcher.paused = true;
    }
  }

  resume(queues: readonly MessageQueue[]): void {
    for (const mq of queues) {
      const fetcher = this.fetchers.get(queueKey(mq));
      if (fetcher) fetcher.paused = false;
    }
    this.wake?.();
  }

  /** `for await (const msgs of consumer)`: yields non-empty batches until shutdown(). */
  async *[Symbol.asyncIterator](): AsyncIterator<ReceivedMessage[]> {
    while (this.running) {
      const batch = await this.poll(1_000);
      if (batch.length > 0) yield batch;
    }
  }

  async shutdown(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake?.();
    await this.rebalancer?.shutdown();
    await this.committer?.shutdown();
    // The last batch handed out was not acknowledged by another poll: its offsets are not committed.
    for (const fetcher of this.fetchers.values()) {
      fetcher.released = true;
      fetcher.generation++;
    }
    await this.persist().catch((err: unknown) => this.instance!.logger.warn({ err }, 'final commit failed'));
    this.fetchers.clear();
    this.store.close();
    await this.instance!.release(this.member);
    this.instance = undefined;
  }

  // ---- internals ----

  private client(): ClientInstance {
    if (!this.instance || !this.running) throw new FerryMQError('pull consumer not started: call start() first');
    return this.instance;
  }

  private *topics(): Iterable<string> {
    yield* this.subscriptions.keys();
    for (const mq of this.assigned ?? []) yield mq.topic;
  }

  private consumerData(): ConsumerData {
    return consumerDataOf(this.group, 'CONSUME_ACTIVELY', this.messageModel, this.options.consumeFromWhere ?? 'LAST_OFFSET', this.subscriptions.values());
  }

  private acknowledgePrevious(): void {
    for (const { fetcher, generation, offset } of this.lastPolled) {
      if (fetcher.generation !== generation || fetcher.released) continue;
      fetcher.consumed = Math.max(fetcher.consumed, offset);
      this.store.update(fetcher.mq, fetcher.consumed, true);
    }
    this.lastPolled = [];
  }

  /** Takes buffered messages, round robin over queues, up to pullBatchSize. */
  private take(): ReceivedMessage[] {
    const max = this.options.pullBatchSize ?? 32;
    const fetchers = [...this.fetchers.values()].filter((f) => !f.paused && f.buffer.length > 0);
    const out: ReceivedMessage[] = [];
    for (let i = 0; i < fetchers.length && out.length < max; i++) {
      const fetcher = fetchers[(this.nextQueue + i) % fetchers.length]!;
      const part = fetcher.buffer.splice(0, max - out.length);
      if (part.length === 0) continue;
      out.push(...part);
      fetcher.position = part[part.length - 1]!.queueOffset + 1;
      this.lastPolled.push({ fetcher, generation: fetcher.generation, offset: fetcher.position });
    }
    this.nextQueue++;
    return out;
  }

  private async persist(): Promise<void> {
    await this.store.persistAll(this.assignment());
  }

  private async rebalance(): Promise<void> {
    if (!this.running || this.assigned) return;
    const instance = this.instance!;
    const mine: MessageQueue[] = [];
    for (const topic of this.subscriptions.keys()) {
      const route = await instance.route(topic);
      if (!route) continue;
      const all = instance.subscribeQueues(route, topic);
      if (!this.initialQueues.has(topic)) this.initialQueues.set(topic, new Set(all.map(queueKey)));
      if (this.messageModel === 'BROADCASTING') {
        mine.push(...all);
        continue;
      }
      const ids = await instance.consumerIds(this.group, topic);
      if (!ids.includes(instance.clientId)) {
        // Not registered yet: keep the current queues of this topic.
        mine.push(...this.assignment().filter((mq) => mq.topic === topic));
        continue;
      }
      mine.push(...this.strategy.allocate({ group: this.group, clientId: instance.clientId, queues: all, clientIds: ids }));
    }
    await this.updateFetchers(mine, (topic) => this.subscriptions.get(topic)!);
  }

  private async updateFetchers(queues: readonly MessageQueue[], filterOf: (topic: string) => Subscription): Promise<void> {
    const instance = this.instance!;
    const wanted = new Set(queues.map(queueKey));
    for (const [key, fetcher] of [...this.fetchers]) {
      if (wanted.has(key)) continue;
      fetcher.released = true;
      fetcher.generation++;
      this.fetchers.delete(key);
      this.store.update(fetcher.mq, fetcher.consumed, false);
      await this.store.persist(fetcher.mq).catch(() => {});
      this.store.remove(fetcher.mq);
    }
    const topicsWithOffsets = new Map<string, Promise<boolean>>();
    for (const mq of queues) {
      const key = queueKey(mq);
      if (this.fetchers.has(key)) continue;
      const route = instance.cachedRoute(mq.topic);
      const offset = await computeStartOffset({
        instance,
        store: this.store,
        mq,
        where: this.options.consumeFromWhere ?? 'LAST_OFFSET',
        timestamp: this.options.consumeTimestamp ?? Date.now() - 30 * 60_000,
        addedLater: this.initialQueues.has(mq.topic) && !this.initialQueues.get(mq.topic)!.has(key),
        groupConsumesTopic: () => {
          let known = topicsWithOffsets.get(mq.topic);
          if (!known) topicsWithOffsets.set(mq.topic, (known = route ? storeHasAnyOffset(this.store, instance.subscribeQueues(route, mq.topic)) : Promise.resolve(false)));
          return known;
        },
      });
      const fetcher: Fetcher = { mq, generation: 0, nextPullOffset: offset, position: offset, consumed: offset, buffer: [], paused: false, released: false, filter: filterOf(mq.topic) };
      this.store.update(mq, offset, false);
      this.fetchers.set(key, fetcher);
      void this.fetchLoop(fetcher);
    }
  }

  private async fetchLoop(fetcher: Fetcher): Promise<void> {
    const instance = this.instance!;
    const generation = fetcher.generation;
    const current = () => this.running && !fetcher.released && fetcher.generation === generation;
    const threshold = this.options.pullThresholdForQueue ?? 1_000;
    const suspendMs = this.options.pullSuspendMs ?? 5_000;
    let failures = 0;
    while (current()) {
      if (fetcher.paused || fetcher.buffer.length >= threshold) {
        await sleep(20);
        continue;
      }
      try {
        const address = instance.masterAddress(fetcher.mq.brokerName) ?? (await instance.requireMaster(fetcher.mq.brokerName));
        const result = await instance.api.pull(
          address,
          { group: this.group, queue: fetcher.mq, offset: fetcher.nextPullOffset, maxNums: this.options.pullBatchSize ?? 32, subscription: wireExpression(fetcher.filter), subVersion: Date.now(), suspendTimeoutMs: suspendMs },
          instance.longPollTimeoutMs(suspendMs),
        );
        failures = 0;
        if (!current()) return;
        if (result.status === PullStatus.FOUND) {
          const messages = receivedFromPull(result.body, fetcher.mq, fetcher.filter.parsed, undefined, this.options.checkBodyCrc ?? false);
          fetcher.buffer.push(...messages);
          if (messages.length > 0) this.wake?.();
        } else if (result.status === PullStatus.OFFSET_ILLEGAL) {
          instance.logger.warn({ queue: fetcher.mq, offset: fetcher.nextPullOffset, nextBeginOffset: result.nextBeginOffset }, 'pull offset out of range; moving to the broker\'s offset');
        }
        fetcher.nextPullOffset = result.nextBeginOffset;
      } catch (err) {
        if (!current()) return;
        const delay = backoffDelay(failures++, PULL_FAILURE_BACKOFF);
        instance.logger.debug({ err, queue: fetcher.mq, delay }, 'pull failed');
        await sleep(delay);
      }
    }
  }
}
