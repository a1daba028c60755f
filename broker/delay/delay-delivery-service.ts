/**
 * Moves due messages from the delay queue (one queue of SCHEDULE_TOPIC_XXXX per level) to their
 * real topic (RocketMQ's ScheduleMessageService). Each level is a loop: read from its progress
 * offset, deliver the due prefix as one batch, then persist the new progress in SQLite.
 *
 * Order of effects, per batch: append to the real queues → crash point `delay-enqueue` → progress.
 * A crash between the two redelivers the batch after restart: a duplicate, never a loss. An
 * in-flight marker (meta value `delay.inflight.<level>`) written before the appends lets the
 * level's first run after a restart count those duplicates.
 *
 * Waking: a timer per level at the next entry's due time (at most `maxSleepMs` away, which bounds
 * clock jumps), plus the store's append listener for an idle level.
 */
import type { Logger } from 'pino';
import { MIN_RECORD_SIZE, RecordPos, decodeRecord, decodeRecords, storeTimestampPos } from '../../protocol/message-codec.js';
import { readInt64 } from '../../protocol/message-id.js';
import { decodeProperties } from '../../protocol/properties.js';
import { crashPoint } from '../../storage/crash-point.js';
import { CRC_PROPERTY_NAME } from '../../storage/record-crc.js';
import { systemClock, type Clock, type TimerHandle } from '../../storage/clock.js';
import { AppendStatus, GetMessageStatus, type MessageStoreApi, type MessageToAppend } from '../../storage/types.js';
import { deliveredMessageOf, deliveryTimeOf, SCHEDULE_TOPIC, type ParkedRecord } from './delay-queue.js';
import type { DelaySchedule } from './delay-schedule.js';
import { PERM_READ } from '../topic-config-manager.js';

export interface DelayDeliveryOptions {
  store: MessageStoreApi;
  schedule: DelaySchedule;
  clock?: Clock;
  logger?: Logger;
  /** Most entries moved per batch of one level. */
  batchSize?: number;
  /** Wait before retrying a level whose append failed (disk full, store closing). */
  retryAfterMs?: number;
  /** Longest sleep of a level with waiting entries. */
  maxSleepMs?: number;
}

export interface DelayDeliveryStats {
  /** Messages appended to their real topic. */
  delivered: number;
  /** Deliveries known to repeat an earlier one (a crash or a failed batch between append and progress). */
  duplicates: number;
  /** Parked records that cannot be delivered (no REAL_TOPIC, topic gone, queue out of range, removed by retention); skipped and logged. */
  undeliverable: number;
  /** Failed appends that will be retried. */
  appendFailures: number;
}

/** Append results that retrying cannot change: the record is skipped with an error log. */
const PERMANENT_FAILURES: ReadonlySet<AppendStatus> = new Set([
  AppendStatus.TOPIC_INVALID,
  AppendStatus.QUEUE_INVALID,
  AppendStatus.BODY_TOO_LARGE,
  AppendStatus.PROPERTIES_TOO_LARGE,
]);

interface LevelState {
  timer: TimerHandle | undefined;
  /** When the level's first waiting entry is due (undefined: nothing waits). */
  nextDueAt: number | undefined;
  running: Promise<void> | undefined;
  /** Set when a wake-up arrives during a run: run again right after. */
  rerun: boolean;
  /** The crash duplicates of this level were counted (first run only). */
  recovered: boolean;
}

interface InflightMarker {
  /** Progress before the batch; the batch covers queue offsets [from, to). */
  from: number;
  to: number;
  /** Real queue → its next offset before the batch's appends. */
  targets: Record<string, number>;
}

const inflightKey = (level: number): string => `delay.inflight.${level}`;
const READ_MAX_BYTES = 4 * 1024 * 1024;

export class DelayDeliveryService {
  readonly stats: DelayDeliveryStats = { delivered: 0, duplicates: 0, undeliverable: 0, appendFailures: 0 };
  private readonly store: MessageStoreApi;
  private readonly schedule: DelaySchedule;
  private readonly clock: Clock;
  private readonly logger: Logger | undefined;
  private readonly batchSize: number;
  private readonly retryAfterMs: number;
  private readonly maxSleepMs: number;
  private readonly levels: LevelState[] = [];
  private unsubscribe: (() => void) | undefined;
  private levelCount = 0;
  private running = false;

  constructor(options: DelayDeliveryOptions) {
    this.store = options.store;
    this.schedule = options.schedule;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger?.child({ component: 'delay' });
    this.batchSize = options.batchSize ?? 256;
    this.retryAfterMs = options.retryAfterMs ?? 1000;
    this.maxSleepMs = options.maxSleepMs ?? 1000;
  }

  /**
   * Ensures the schedule topic has a queue per level and starts every level. Synchronous, so the
   * broker can accept connections right after: each level's first run counts the duplicates a
   * crash left behind before delivering anything.
   */
  start(): void {
    if (this.running) return;
    // Queues beyond maxLevel (left by a longer level table) are drained too, at the last level's delay.
    this.levelCount = ensureScheduleTopic(this.store, this.schedule.maxLevel);
    for (let level = 1; level <= this.levelCount; level++) {
      this.levels[level] = { timer: undefined, nextDueAt: undefined, running: undefined, rerun: false, recovered: false };
    }
    this.running = true;
    this.unsubscribe = this.store.onAppend((topic, queueId) => {
      if (topic === SCHEDULE_TOPIC) this.wake(queueId + 1, false);
    });
    for (let level = 1; level <= this.levelCount; level++) this.wake(level, true);
  }

  /** Stops timers and waits for batches in flight; their progress is saved before this resolves. */
  async shutdown(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    const inflight: Promise<void>[] = [];
    for (const state of this.levels) {
      if (!state) continue;
      if (state.timer !== undefined) this.clock.clearTimeout(state.timer);
      state.timer = undefined;
      if (state.running) inflight.push(state.running);
    }
    await Promise.all(inflight);
  }

  /**
   * Runs a level now. An append wake-up (`force` false) is ignored when a timer is already set: that
   * timer is for an older entry of the same level, which is due no later than the new one.
   */
  private wake(level: number, force: boolean): void {
    const state = this.levels[level];
    if (!this.running || state === undefined) return;
    if (state.running) {
      state.rerun = true;
      return;
    }
    if (state.timer !== undefined) {
      if (!force) return;
      this.clock.clearTimeout(state.timer);
      state.timer = undefined;
    }
    state.running = this.runLevel(level, state);
  }

  private async runLevel(level: number, state: LevelState): Promise<void> {
    let wakeAt: number | undefined;
    try {
      if (!state.recovered) {
        state.recovered = true;
        await this.countInflightDuplicates(level);
      }
      do {
        state.rerun = false;
        wakeAt = await this.deliverDue(level);
      } while (state.rerun && this.running);
    } catch (err) {
      this.logger?.error({ err, level }, 'delay queue: delivery failed; retrying');
      wakeAt = this.clock.now() + this.retryAfterMs;
    } finally {
      state.running = undefined;
    }
    state.nextDueAt = wakeAt;
    if (this.running && wakeAt !== undefined) this.armTimer(level, state);
  }

  /** Sleeps until the level's next due time, re-checking the clock at least every `maxSleepMs`. */
  private armTimer(level: number, state: LevelState): void {
    const sleep = Math.min(Math.max((state.nextDueAt ?? 0) - this.clock.now(), 0), this.maxSleepMs);
    state.timer = this.clock.setTimeout(() => {
      state.timer = undefined;
      if (state.nextDueAt !== undefined && state.nextDueAt > this.clock.now()) this.armTimer(level, state);
      else this.wake(level, true);
    }, sleep);
  }

  /** Delivers every due entry of `level`; returns when to look again (undefined: the level is empty). */
  private async deliverDue(level: number): Promise<number | undefined> {
    const queueId = level - 1;
    for (;;) {
      if (!this.running) return undefined;
      let offset = this.store.meta.getDelayProgress(level) ?? 0;
      const minOffset = this.store.minOffset(SCHEDULE_TOPIC, queueId);
      if (offset < minOffset) {
        // Retention (fileReservedTime, size caps) deleted entries before they were due.
        this.stats.undeliverable += minOffset - offset;
        this.logger?.error({ level, offset, minOffset }, 'delay queue: retention removed entries that were not delivered yet');
        this.store.meta.putDelayProgress(level, minOffset);
        offset = minOffset;
      }
      if (offset >= this.store.maxOffset(SCHEDULE_TOPIC, queueId)) return undefined;
      const result = await this.store.read(SCHEDULE_TOPIC, queueId, offset, this.batchSize, READ_MAX_BYTES);
      if (result.status !== GetMessageStatus.FOUND) return undefined;
      const now = this.clock.now();
      const due: ParkedRecord[] = [];
      let nextDue: number | undefined;
      for (const buffer of result.buffers) {
        for (let at = 0; nextDue === undefined && at < buffer.length; ) {
          const size = buffer.readInt32BE(at);
          if (size < MIN_RECORD_SIZE || size > buffer.length - at) throw new Error(`delay queue level ${level}: bad record size ${size} at ${at}`);
          // The due time needs only the store timestamp: later entries are not decoded at all.
          const storeTimestamp = readInt64(buffer, at + storeTimestampPos(buffer.readInt32BE(at + RecordPos.SYSFLAG)));
          const dueAt = deliveryTimeOf({ storeTimestamp }, level, this.schedule, now);
          if (dueAt > now) nextDue = dueAt;
          else due.push(decodeRecord(buffer, at));
          at += size;
        }
      }
      if (due.length > 0) {
        const delivered = await this.deliverBatch(level, offset, due);
        if (!delivered) return this.clock.now() + this.retryAfterMs;
      }
      if (nextDue !== undefined) return nextDue;
      if (due.length === 0) return undefined;
    }
  }

  /** Appends a batch and advances progress past what went through; false when a retry is needed. */
  private async deliverBatch(level: number, from: number, records: ParkedRecord[]): Promise<boolean> {
    const messages = records.map((record) => deliveredMessageOf(record));
    const marker: InflightMarker = { from, to: records[records.length - 1].queueOffset + 1, targets: {} };
    for (const message of messages) {
      if ('undeliverable' in message) continue;
      const key = targetKey(message.topic, message.queueId);
      marker.targets[key] ??= this.store.maxOffset(message.topic, message.queueId);
    }
    this.store.meta.setValue(inflightKey(level), JSON.stringify(marker));

    const results = await Promise.all(
      messages.map((message) => ('undeliverable' in message ? undefined : this.store.append(message))),
    );
    crashPoint('delay-enqueue');

    // Progress moves over the prefix of delivered or permanently failed records; a transient failure
    // stops it there, and whatever succeeded after it will be delivered again (counted).
    let advanced = 0;
    let blocked = false;
    for (let i = 0; i < records.length; i++) {
      const message = messages[i];
      const result = results[i];
      if ('undeliverable' in message || (result && PERMANENT_FAILURES.has(result.status))) {
        if (blocked) continue;
        const reason = 'undeliverable' in message ? message.undeliverable : `${result!.status}: ${'reason' in result! ? result!.reason : ''}`;
        this.stats.undeliverable += 1;
        this.logger?.error({ level, queueOffset: records[i].queueOffset, reason }, 'delay queue: dropping undeliverable message');
      } else if (result!.status === AppendStatus.PUT_OK) {
        this.stats.delivered += 1;
        if (blocked) this.stats.duplicates += 1;
      } else {
        this.stats.appendFailures += 1;
        if (!blocked) this.logger?.warn({ level, status: result!.status }, 'delay queue: append failed; will retry');
        blocked = true;
      }
      if (!blocked) advanced = i + 1;
    }
    if (advanced > 0) this.store.meta.putDelayProgress(level, records[advanced - 1].queueOffset + 1);
    return !blocked;
  }

  /**
   * After a crash between a batch's appends and its progress, the batch is delivered again. Count
   * how many of its messages already reached their real queue, by matching the records appended
   * there since the marker was written.
   */
  private async countInflightDuplicates(level: number): Promise<void> {
    const text = this.store.meta.getValue(inflightKey(level));
    if (!text) return;
    const marker = JSON.parse(text) as InflightMarker;
    const progress = this.store.meta.getDelayProgress(level) ?? 0;
    if (progress >= marker.to) return;
    const parked = await this.readParked(level, Math.max(progress, marker.from), marker.to - Math.max(progress, marker.from));
    const pending = new Map<string, string[]>();
    for (const record of parked) {
      const message = deliveredMessageOf(record);
      if ('undeliverable' in message) continue;
      const key = targetKey(message.topic, message.queueId);
      const list = pending.get(key) ?? [];
      list.push(fingerprintOf(message));
      pending.set(key, list);
    }
    let found = 0;
    for (const [key, fingerprints] of pending) {
      const before = marker.targets[key];
      if (before === undefined) continue;
      const [topic, queueText] = splitTargetKey(key);
      const queueId = Number(queueText);
      const appended = this.store.maxOffset(topic, queueId) - before;
      if (appended <= 0) continue;
      const result = await this.store.read(topic, queueId, before, Math.min(appended, this.batchSize * 4), READ_MAX_BYTES);
      const remaining = new Map<string, number>();
      for (const f of fingerprints) remaining.set(f, (remaining.get(f) ?? 0) + 1);
      for (const buffer of result.buffers) {
        for (const record of decodeRecords(buffer)) {
          const f = fingerprintOf(record);
          const left = remaining.get(f) ?? 0;
          if (left > 0) {
            remaining.set(f, left - 1);
            found += 1;
          }
        }
      }
    }
    if (found > 0) {
      this.stats.duplicates += found;
      this.logger?.warn({ level, duplicates: found }, 'delay queue: a crash interrupted a batch; redelivering it duplicates messages');
    }
  }

  private async readParked(level: number, offset: number, count: number): Promise<ParkedRecord[]> {
    const out: ParkedRecord[] = [];
    if (count <= 0) return out;
    const result = await this.store.read(SCHEDULE_TOPIC, level - 1, offset, count, READ_MAX_BYTES);
    for (const buffer of result.buffers) for (const record of decodeRecords(buffer)) out.push(record);
    return out;
  }
}

/**
 * Creates (or widens) the schedule topic so that every level has its queue; returns its queue count.
 * Read-only for clients, as RocketMQ forbids sends to it: the send path answers NO_PERMISSION, while
 * the broker's own parking and delivery go straight to the store.
 */
export function ensureScheduleTopic(store: MessageStoreApi, maxLevel: number): number {
  const existing = store.meta.getTopic(SCHEDULE_TOPIC);
  // Never shrink: entries parked under a longer table stay readable (they clamp on delivery).
  const queues = Math.max(maxLevel, existing?.writeQueueNums ?? 0, existing?.readQueueNums ?? 0);
  if (existing?.writeQueueNums === queues && existing.readQueueNums === queues && existing.perm === PERM_READ) return queues;
  store.meta.putTopic({ topicName: SCHEDULE_TOPIC, readQueueNums: queues, writeQueueNums: queues, perm: PERM_READ, topicSysFlag: 0, order: false });
  return queues;
}

function targetKey(topic: string, queueId: number): string {
  return `${queueId}:${topic}`;
}

function splitTargetKey(key: string): [string, string] {
  const at = key.indexOf(':');
  return [key.slice(at + 1), key.slice(0, at)];
}

/**
 * Identity of a delivered message, good enough to recognise the same delivery twice. The store's
 * own record-CRC property differs between copies and is left out.
 */
function fingerprintOf(message: Pick<MessageToAppend, 'bornTimestamp' | 'body' | 'properties' | 'flag' | 'reconsumeTimes'>): string {
  const properties = decodeProperties(message.properties);
  delete properties[CRC_PROPERTY_NAME];
  const sorted = Object.keys(properties)
    .sort()
    .map((k) => `${k}=${properties[k]}`)
    .join('\u0002');
  return `${message.bornTimestamp}|${message.flag}|${message.reconsumeTimes}|${message.body.toString('base64')}|${sorted}`;
}
