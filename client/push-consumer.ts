import type { ConsumerData } from '../protocol/bodies.js';
import { FerryMQError, InvalidArgumentError } from '../protocol/errors.js';
import { MessageConst } from '../protocol/properties.js';
import { averageStrategy } from './allocate/average.js';
import type { AllocateStrategy } from './allocate/strategy.js';
import { PullStatus } from './broker-api.js';
import { ClientInstance, type ClientMember, type ClientOptions } from './client-instance.js';
import { IntervalTask, type Clock } from '../storage/clock.js';
import { ConcurrentConsumeService } from './consume-concurrently.js';
import { OrderlyConsumeService } from './consume-orderly.js';
import type { ConsumeHost, ConsumeStats, MessageListener, MessageModel, ReceivedProcessQueue } from './consume-types.js';
import { DuplicateCounter } from './duplicate-counter.js';
import type { Logger } from './logger.js';
import { receivedFromPull, type ReceivedMessage } from './message.js';
import { compareQueues, queueKey, type MessageQueue } from './message-queue.js';
import { createOffsetStore, type OffsetStore } from './offset-store.js';
import { ProcessQueue } from './process-queue.js';
import { Producer } from './producer.js';
import { allocationReport, RebalanceService, type AllocationReport } from './rebalance-service.js';
import { backoffDelay, PULL_FAILURE_BACKOFF, sleep } from './retry.js';
import { computeStartOffset, storeHasAnyOffset, type ConsumeFromWhere } from './start-offset.js';
import { consumerDataOf, newSubscription, wireExpression, type Subscription } from './subscription.js';
import { TaskPool } from './task-pool.js';

export interface PushConsumerOptions extends ClientOptions {
  group: string;
  /** CLUSTERING (default): each message to one member, offsets on the broker. BROADCASTING: every member gets every message, offsets in a local file. */
  messageModel?: MessageModel;
  /** Where a group with no committed offset starts. Default LAST_OFFSET. A queue added to the topic later always starts at its first offset. */
  consumeFromWhere?: ConsumeFromWhere;
  /** For TIMESTAMP: ms since the epoch. Default 30 minutes ago. */
  consumeTimestamp?: number;
  allocateStrategy?: AllocateStrategy;
  /** Per-queue ordered consumption with broker queue locks. */
  orderly?: boolean;
  /** Accepted for parity with the Java client; must not exceed consumeThreadMax. */
  consumeThreadMin?: number;
  /** Listener calls running at once. Default 20. */
  consumeThreadMax?: number;
  /** Messages per listener call. Default 1. */
  consumeMessageBatchMaxSize?: number;
  /** Messages per pull request. Default 32. */
  pullBatchSize?: number;
  /** Stop pulling a queue while it holds this many unconsumed messages. Default 1000. */
  pullThresholdForQueue?: number;
  /** ...or this many MiB of bodies. Default 100. */
  pullThresholdSizeForQueueMiB?: number;
  /** Concurrent mode: stop pulling when held offsets span more than this. Default 2000. */
  consumeConcurrentlyMaxSpan?: number;
  /** Failed deliveries before the dead-letter queue. Default 16. */
  maxReconsumeTimes?: number;
  /** Default 20000. */
  rebalanceIntervalMs?: number;
  /** Offset commit period. Default 5000. */
  persistOffsetIntervalMs?: number;
  /** Long-poll hold time asked of the broker. Default 15000. */
  pullSuspendMs?: number;
  /** Pause between pulls of one queue. Default 0. */
  pullIntervalMs?: number;
  /** Orderly: pause after a failed batch. Default 1000. */
  suspendCurrentQueueTimeMs?: number;
  /** Orderly: lock renewal period. Default 20000. */
  lockIntervalMs?: number;
  /** Orderly: a lock older than this is treated as lost. Default 30000. */
  lockMaxLiveMs?: number;
  /** Broadcasting: directory of the offset files. Default ~/.ferrymq/offsets. */
  offsetStoreDir?: string;
  /** Recent deliveries remembered by the duplicate counter. Default 10000. */
  duplicateWindow?: number;
  /**
   * Verify each received body against the CRC the broker stored with it. Default false, as in
   * RocketMQ's Java client and ali-ons: the check is about a tenth of the consumer's CPU, and TCP
   * checksums the transfer. A body that fails is not delivered, nor are the ones after it in that
   * pull answer.
   */
  checkBodyCrc?: boolean;
}

interface OwnedQueue {
  mq: MessageQueue;
  pq: ReceivedProcessQueue;
  loop: Promise<void>;
}

const INNER_PRODUCER_GROUP = 'CLIENT_INNER_PRODUCER';

/**
 * A pull loop per owned queue that hands messages to a listener: rebalanced clustering or
 * broadcasting, concurrent or orderly, with offsets committed every 5 s and on shutdown.
 */
export class PushConsumer {
  readonly group: string;
  readonly messageModel: MessageModel;
  private readonly options: PushConsumerOptions;
  private readonly strategy: AllocateStrategy;
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly owned = new Map<string, OwnedQueue>();
  /** Queues seen in each topic's first route: a queue outside it was added later and starts at its first offset. */
  private readonly initialQueues = new Map<string, Set<string>>();
  private readonly reports = new Map<string, AllocationReport>();
  private readonly duplicates: DuplicateCounter;
  private readonly counters = { consumed: 0, failed: 0, sentBack: 0 };
  private instance: ClientInstance | undefined;
  private innerProducer: Producer | undefined;
  private offsetStore!: OffsetStore;
  private pool!: TaskPool;
  private concurrent: ConcurrentConsumeService | undefined;
  private orderly: OrderlyConsumeService | undefined;
  private rebalancer: RebalanceService | undefined;
  private persister: IntervalTask | undefined;
  private locker: IntervalTask | undefined;
  private running = false;
  private readonly member: ClientMember;

  constructor(options: PushConsumerOptions) {
    if (!options.group) throw new InvalidArgumentError('consumer group is required');
    this.options = options;
    this.group = options.group;
    this.messageModel = options.messageModel ?? 'CLUSTERING';
    this.strategy = options.allocateStrategy ?? averageStrategy;
    this.duplicates = new DuplicateCounter(options.duplicateWindow ?? 10_000);
    const max = options.consumeThreadMax ?? 20;
    const min = options.consumeThreadMin ?? Math.min(20, max);
    if (!Number.isInteger(max) || max < 1) throw new InvalidArgumentError(`consumeThreadMax must be a positive integer, got ${max}`);
    if (min > max) throw new InvalidArgumentError(`consumeThreadMin (${min}) must not exceed consumeThreadMax (${max})`);
    const batch = options.consumeMessageBatchMaxSize ?? 1;
    if (!Number.isInteger(batch) || batch < 1 || batch > 1024) throw new InvalidArgumentError(`consumeMessageBatchMaxSize must be in 1..1024, got ${batch}`);
    const pullBatch = options.pullBatchSize ?? 32;
    if (!Number.isInteger(pullBatch) || pullBatch < 1 || pullBatch > 1024) throw new InvalidArgumentError(`pullBatchSize must be in 1..1024, got ${pullBatch}`);
    this.member = {
      kind: 'consumer',
      group: this.group,
      topics: () => this.subscribedTopics(),
      consumerData: () => this.consumerData(),
      onConsumerIdsChanged: () => void this.rebalancer?.rebalanceNow(),
      resetOffsets: (topic, offsets, timestamp) => this.resetOffsets(topic, offsets, timestamp),
    };
  }

  /** Subscribes a topic with a tag expression (`*`, `TagA || TagB`). Call before or after start(). */
  subscribe(topic: string, expression = '*'): this {
    if (!topic) throw new InvalidArgumentError('topic is required');
    this.subscriptions.set(topic, newSubscription(topic, expression));
    if (this.running) {
      void this.instance!.sendHeartbeat().catch(() => {});
      void this.rebalancer!.rebalanceNow();
    }
    return this;
  }

  get clientId(): string {
    if (!this.instance) throw new FerryMQError('consumer not started');
    return this.instance.clientId;
  }

  async start(listener: MessageListener): Promise<void> {
    if (this.running) throw new FerryMQError('consumer already started');
    if (this.subscriptions.size === 0) throw new InvalidArgumentError('subscribe to at least one topic before start()');
    const instance = ClientInstance.acquire(this.options, this.member);
    this.instance = instance;
    try {
      this.offsetStore = createOffsetStore(this.messageModel, this.group, () => instance.offsetBackend(), this.options);
      await this.offsetStore.load();
    } catch (error) {
      await instance.release(this.member);
      this.instance = undefined;
      throw error;
    }
    if (this.messageModel === 'CLUSTERING') this.subscriptions.set(this.retryTopic, newSubscription(this.retryTopic, '*'));
    this.pool = new TaskPool(this.options.consumeThreadMax ?? 20);
    const host: ConsumeHost = {
      group: this.group,
      messageModel: this.messageModel,
      listener,
      batchSize: this.options.consumeMessageBatchMaxSize ?? 1,
      maxReconsumeTimes: this.options.maxReconsumeTimes ?? 16,
      offsetStore: this.offsetStore,
      pool: this.pool,
      logger: this.logger,
      clock: this.clock,
      duplicates: this.duplicates,
      counters: this.counters,
      sendBack: (msg, delayLevel) => this.sendBack(msg, delayLevel),
    };
    if (this.options.orderly) {
      this.orderly = new OrderlyConsumeService(host, {
        suspendCurrentQueueTimeMs: this.options.suspendCurrentQueueTimeMs ?? 1_000,
        lockMaxLiveMs: this.options.lockMaxLiveMs ?? 30_000,
      });
    } else {
      this.concurrent = new ConcurrentConsumeService(host);
    }
    this.running = true;
    this.innerProducer = Producer.inside(instance, { ...this.options, group: INNER_PRODUCER_GROUP });
    await this.innerProducer.start();
    await Promise.allSettled([...this.subscriptions.keys()].map((topic) => instance.updateRoute(topic)));
    await instance.sendHeartbeat().catch((err: unknown) => this.logger.warn({ err }, 'first heartbeat failed'));
    this.rebalancer = new RebalanceService(this.options.rebalanceIntervalMs ?? 20_000, () => this.rebalance(), this.clock, this.logger);
    await this.rebalancer.rebalanceNow();
    this.rebalancer.start();
    this.persister = new IntervalTask(this.options.persistOffsetIntervalMs ?? 5_000, () => this.persistOffsets(), this.clock, (err) => this.logger.warn({ err }, 'offset commit failed'));
    this.persister.start();
    if (this.orderly && this.messageModel === 'CLUSTERING') {
      this.locker = new IntervalTask(this.options.lockIntervalMs ?? 20_000, () => this.lockAll(), this.clock, (err) => this.logger.warn({ err }, 'queue lock renewal failed'));
      this.locker.start();
    }
  }

  /** Runs a rebalance now (also triggered by the broker's NOTIFY_CONSUMER_IDS_CHANGED). */
  async rebalanceNow(): Promise<void> {
    await this.rebalancer?.rebalanceNow();
  }

  /** Queues this consumer currently owns, sorted. */
  ownedQueues(): MessageQueue[] {
    return [...this.owned.values()].map((o) => o.mq).sort(compareQueues);
  }

  /** Per subscribed topic: queues per group member and idle members, as of the last rebalance. */
  allocationReports(): AllocationReport[] {
    return [...this.reports.values()];
  }

  stats(): ConsumeStats {
    return { ...this.counters, duplicates: this.duplicates.count };
  }

  /** Deliveries of an already-received message (at-least-once); see also `msg.uniqKey` and `msg.keys`. */
  get duplicateCount(): number {
    return this.duplicates.count;
  }

  /** Stops pulling, lets running listener calls finish, commits offsets, releases locks and unregisters. */
  async shutdown(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.rebalancer?.shutdown();
    await this.locker?.shutdown();
    await this.persister?.shutdown();
    this.concurrent?.shutdown();
    this.orderly?.shutdown();
    await this.pool.drain(true);
    await this.orderly?.allIdle();
    const owned = [...this.owned.values()];
    for (const { pq } of owned) pq.dropped = true;
    await this.persistOffsets().catch((err: unknown) => this.logger.warn({ err }, 'final offset commit failed'));
    if (this.orderly && this.messageModel === 'CLUSTERING') await this.unlock(owned.map((o) => o.mq));
    this.owned.clear();
    await this.innerProducer?.shutdown();
    this.offsetStore.close();
    await this.instance?.release(this.member);
    this.instance = undefined;
  }

  // ---- internals ----

  private get logger(): Logger {
    return this.instance!.logger;
  }

  private get clock(): Clock {
    return this.instance!.clock;
  }

  private get retryTopic(): string {
    return `%RETRY%${this.group}`;
  }

  private *subscribedTopics(): Iterable<string> {
    yield* this.subscriptions.keys();
  }

  private consumerData(): ConsumerData {
    return consumerDataOf(this.group, 'CONSUME_PASSIVELY', this.messageModel, this.options.consumeFromWhere ?? 'LAST_OFFSET', this.subscriptions.values());
  }

  private async rebalance(): Promise<void> {
    if (!this.running) return;
    const instance = this.instance!;
    for (const sub of [...this.subscriptions.values()]) {
      const route = await instance.route(sub.topic).catch((err: unknown) => {
        this.logger.debug({ err, topic: sub.topic }, 'no route yet');
        return undefined;
      });
      if (!route) continue;
      const all = instance.subscribeQueues(route, sub.topic);
      if (!this.initialQueues.has(sub.topic)) this.initialQueues.set(sub.topic, new Set(all.map(queueKey)));
      let mine: MessageQueue[];
      if (this.messageModel === 'BROADCASTING') {
        mine = all;
      } else {
        const ids = await instance.consumerIds(this.group, sub.topic);
        // The broker has not seen our heartbeat yet; keep what we have until it does.
        if (!ids.includes(instance.clientId)) continue;
        mine = this.strategy.allocate({ group: this.group, clientId: instance.clientId, queues: all, clientIds: ids });
        const report = allocationReport(this.strategy, this.group, sub.topic, all, ids);
        const previous = this.reports.get(sub.topic);
        const changed = previous?.idleConsumers.join() !== report.idleConsumers.join();
        if (changed && report.idleConsumers.length > 0 && !sub.topic.startsWith('%RETRY%')) {
          this.logger.warn({ topic: sub.topic, idle: report.idleConsumers, queues: all.length }, 'more consumers than queues: some members are idle');
        }
        this.reports.set(sub.topic, report);
      }
      if (!this.running) return;
      await this.updateOwnedQueues(sub, mine);
    }
  }

  private async updateOwnedQueues(sub: Subscription, mine: readonly MessageQueue[]): Promise<void> {
    let groupConsumesTopic: Promise<boolean> | undefined;
    const route = this.instance!.cachedRoute(sub.topic);
    const consumesTopic = () => (groupConsumesTopic ??= route ? storeHasAnyOffset(this.offsetStore, this.instance!.subscribeQueues(route, sub.topic)) : Promise.resolve(false));
    const wanted = new Set(mine.map(queueKey));
    for (const [key, owned] of [...this.owned]) {
      if (owned.mq.topic === sub.topic && !wanted.has(key)) await this.releaseQueue(key, owned);
    }
    for (const mq of mine) {
      const key = queueKey(mq);
      if (this.owned.has(key) || !this.running) continue;
      const pq: ReceivedProcessQueue = new ProcessQueue<ReceivedMessage>();
      if (this.orderly && this.messageModel === 'CLUSTERING') {
        const locked = await this.lock([mq]);
        if (locked.length === 0) continue;
        pq.locked = true;
        pq.lastLockTimestamp = this.clock.now();
      }
      let offset: number;
      try {
        offset = await computeStartOffset({
          instance: this.instance!,
          store: this.offsetStore,
          mq,
          where: this.options.consumeFromWhere ?? 'LAST_OFFSET',
          timestamp: this.options.consumeTimestamp ?? Date.now() - 30 * 60_000,
          addedLater: !this.initialQueues.get(mq.topic)?.has(queueKey(mq)),
          groupConsumesTopic: consumesTopic,
        });
      } catch (err) {
        this.logger.warn({ err, queue: mq }, 'cannot compute the start offset; will retry at the next rebalance');
        continue;
      }
      this.offsetStore.update(mq, offset, false);
      const entry: OwnedQueue = { mq, pq, loop: Promise.resolve() };
      this.owned.set(key, entry);
      entry.loop = this.pullLoop(entry, offset);
      this.logger.debug({ queue: mq, offset }, 'queue assigned');
    }
  }

  private async releaseQueue(key: string, owned: OwnedQueue): Promise<void> {
    owned.pq.dropped = true;
    this.owned.delete(key);
    if (this.orderly) {
      // Keep the broker lock until the running batch is over, so the next owner cannot start
      // the queue mid-batch; a slow listener must not hold up the rest of the rebalance.
      const idle = this.orderly.idle(owned.pq);
      const settled = await Promise.race([idle.then(() => true), sleep(1_000).then(() => false)]);
      if (!settled) {
        void idle.then(() => this.finishRelease(owned));
        return;
      }
    }
    await this.finishRelease(owned);
  }

  private async finishRelease(owned: OwnedQueue): Promise<void> {
    // A late finish after shutdown, or after the queue came back to us, has nothing left to do.
    if (!this.running || this.owned.has(queueKey(owned.mq))) return;
    await this.offsetStore.persist(owned.mq).catch((err: unknown) => this.logger.warn({ err, queue: owned.mq }, 'offset commit of a released queue failed'));
    this.offsetStore.remove(owned.mq);
    if (this.orderly && this.messageModel === 'CLUSTERING') await this.unlock([owned.mq]);
    this.logger.debug({ queue: owned.mq }, 'queue released');
  }

  private async pullLoop(owned: OwnedQueue, startOffset: number): Promise<void> {
    const { mq, pq } = owned;
    const instance = this.instance!;
    const sub = this.subscriptions.get(mq.topic)!;
    const pullBatchSize = this.options.pullBatchSize ?? 32;
    const countLimit = this.options.pullThresholdForQueue ?? 1_000;
    const byteLimit = (this.options.pullThresholdSizeForQueueMiB ?? 100) * 1024 * 1024;
    const maxSpan = this.options.consumeConcurrentlyMaxSpan ?? 2_000;
    const suspendMs = this.options.pullSuspendMs ?? 15_000;
    const retryTopic = this.messageModel === 'CLUSTERING' ? this.retryTopic : undefined;
    let next = startOffset;
    let failures = 0;
    while (this.running && !pq.dropped) {
      if (pq.count >= countLimit || pq.byteSize >= byteLimit || (!this.orderly && pq.span > maxSpan)) {
        await sleep(50);
        continue;
      }
      if (this.orderly && !this.orderly.isLockValid(pq)) {
        await sleep(200);
        continue;
      }
      try {
        const address = instance.masterAddress(mq.brokerName) ?? (await instance.requireMaster(mq.brokerName));
        const committed = this.messageModel === 'CLUSTERING' ? await this.offsetStore.read(mq) : -1;
        const result = await instance.api.pull(
          address,
          { group: this.group, queue: mq, offset: next, maxNums: pullBatchSize, subscription: wireExpression(sub), subVersion: sub.subVersion, commitOffset: committed, suspendTimeoutMs: suspendMs },
          instance.longPollTimeoutMs(suspendMs),
        );
        failures = 0;
        if (pq.dropped || !this.running) break;
        switch (result.status) {
          case PullStatus.FOUND: {
            const pullOffsets = { minOffset: String(result.minOffset), maxOffset: String(result.maxOffset) };
            const messages = receivedFromPull(result.body, mq, sub.parsed, retryTopic, this.options.checkBodyCrc ?? false, pullOffsets);
            next = result.nextBeginOffset;
            if (pq.add(messages) > 0) {
              if (this.orderly) this.orderly.submit(pq, mq);
              else this.concurrent!.submit(pq, mq, messages);
            }
            break;
          }
          case PullStatus.NO_NEW_MSG:
          case PullStatus.NO_MATCHED_MSG:
            next = result.nextBeginOffset;
            if (pq.count === 0) this.offsetStore.update(mq, next, true);
            break;
          case PullStatus.OFFSET_ILLEGAL:
            this.logger.warn({ queue: mq, offset: next, nextBeginOffset: result.nextBeginOffset }, 'pull offset out of range; moving to the broker\'s offset');
            next = result.nextBeginOffset;
            pq.clear();
            this.offsetStore.update(mq, next, false);
            await this.offsetStore.persist(mq).catch(() => {});
            break;
        }
        if (this.options.pullIntervalMs) await sleep(this.options.pullIntervalMs);
      } catch (err) {
        if (!this.running || pq.dropped) break;
        const delay = backoffDelay(failures++, PULL_FAILURE_BACKOFF);
        this.logger.debug({ err, queue: mq, delay }, 'pull failed');
        await sleep(delay);
      }
    }
  }

  private async persistOffsets(): Promise<void> {
    const queues = [...this.owned.values()].map((o) => o.mq);
    await this.offsetStore.persistAll(queues);
  }

  /** Sends a failed message back (36); if that fails, re-publishes it to the retry topic ourselves. */
  private async sendBack(msg: ReceivedMessage, delayLevel: number): Promise<boolean> {
    const instance = this.instance!;
    const maxReconsumeTimes = this.options.maxReconsumeTimes ?? 16;
    try {
      const address = await instance.requireMaster(msg.queue.brokerName);
      await instance.api.sendBack(address, { group: this.group, commitLogOffset: msg.commitLogOffset, delayLevel, originMsgId: msg.msgId, originTopic: msg.topic, maxReconsumeTimes });
      return true;
    } catch (err) {
      this.logger.warn({ err, msgId: msg.msgId }, 'send-back failed; re-publishing to the retry topic');
    }
    try {
      const properties: Record<string, string> = { ...msg.properties };
      delete properties[MessageConst.MIN_OFFSET];
      delete properties[MessageConst.MAX_OFFSET];
      properties[MessageConst.RETRY_TOPIC] ??= msg.topic;
      properties[MessageConst.ORIGIN_MESSAGE_ID] ??= msg.msgId;
      // At the max (or asked for the DLQ) the broker routes it to %DLQ%<group> on its own.
      const reconsumeTimes = delayLevel < 0 ? Math.max(msg.reconsumeTimes, maxReconsumeTimes) : msg.reconsumeTimes + 1;
      if (delayLevel >= 0) properties[MessageConst.DELAY] = String(3 + msg.reconsumeTimes);
      properties[MessageConst.RECONSUME_TIME] = String(reconsumeTimes);
      properties[MessageConst.MAX_RECONSUME_TIMES] = String(maxReconsumeTimes);
      await this.innerProducer!.sendRaw(this.retryTopic, msg.body, properties, { flag: msg.flag, reconsumeTimes, maxReconsumeTimes });
      return true;
    } catch (err) {
      this.logger.warn({ err, msgId: msg.msgId }, 're-publishing to the retry topic failed; retrying locally');
      return false;
    }
  }

  private async lock(queues: readonly MessageQueue[]): Promise<MessageQueue[]> {
    const instance = this.instance!;
    const locked: MessageQueue[] = [];
    for (const [brokerName, mqs] of byBroker(queues)) {
      try {
        locked.push(...(await instance.api.lockQueues(await instance.requireMaster(brokerName), this.group, instance.clientId, mqs)));
      } catch (err) {
        this.logger.warn({ err, brokerName }, 'lock request failed');
      }
    }
    return locked;
  }

  private async unlock(queues: readonly MessageQueue[]): Promise<void> {
    const instance = this.instance!;
    await Promise.allSettled(
      [...byBroker(queues)].map(async ([brokerName, mqs]) => instance.api.unlockQueues(await instance.requireMaster(brokerName), this.group, instance.clientId, mqs)),
    );
  }

  /** Renews the locks of every owned queue; a queue whose lock was lost stops being consumed. */
  private async lockAll(): Promise<void> {
    const owned = [...this.owned.values()];
    if (owned.length === 0) return;
    const locked = new Set((await this.lock(owned.map((o) => o.mq))).map(queueKey));
    const now = this.clock.now();
    for (const { mq, pq } of owned) {
      if (locked.has(queueKey(mq))) {
        pq.locked = true;
        pq.lastLockTimestamp = now;
        this.orderly?.submit(pq, mq);
      } else {
        pq.locked = false;
      }
    }
  }

  /** 220 from the broker: drop what was pulled from `topic` and resume at the given offsets (or by `timestamp`). */
  private async resetOffsets(topic: string, offsets: ReadonlyMap<string, number> | undefined, timestamp: number): Promise<void> {
    const instance = this.instance!;
    for (const [key, owned] of [...this.owned]) {
      if (owned.mq.topic !== topic) continue;
      let offset = offsets?.get(key);
      if (offset === undefined) {
        const address = await instance.requireMaster(owned.mq.brokerName);
        offset = timestamp < 0 ? await instance.api.maxOffset(address, owned.mq) : await instance.api.searchOffset(address, owned.mq, timestamp);
      }
      // The old loop may sit in a long poll; it is dropped and its answer discarded.
      owned.pq.dropped = true;
      this.owned.delete(key);
      this.offsetStore.update(owned.mq, offset, false);
      await this.offsetStore.persist(owned.mq).catch(() => {});
      const pq: ReceivedProcessQueue = new ProcessQueue<ReceivedMessage>();
      pq.locked = owned.pq.locked;
      pq.lastLockTimestamp = owned.pq.lastLockTimestamp;
      const entry: OwnedQueue = { mq: owned.mq, pq, loop: Promise.resolve() };
      this.owned.set(key, entry);
      entry.loop = this.pullLoop(entry, offset);
    }
  }
}

/** Lock and unlock requests go to each queue's own broker. */
function byBroker(queues: readonly MessageQueue[]): Map<string, MessageQueue[]> {
  const groups = new Map<string, MessageQueue[]>();
  for (const mq of queues) {
    const group = groups.get(mq.brokerName);
    if (group) group.push(mq);
    else groups.set(mq.brokerName, [mq]);
  }
  return groups;
}
