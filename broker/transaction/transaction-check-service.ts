/**
 * Resolution bookkeeping and the state check for half messages (RocketMQ's
 * TransactionalMessageCheckService, simplified):
 *
 * - Every END_TRANSACTION that commits or rolls back appends an op record to
 *   RMQ_SYS_TRANS_OP_HALF_TOPIC (body: the half message's queue offset, in decimal). The set of
 *   resolved offsets is rebuilt from those records at start, so a restart does not ask again.
 * - Every `checkIntervalMs`, half messages older than `timeoutMs` that are still unresolved are
 *   sent to a connected producer of their group as CHECK_TRANSACTION_STATE (39); the producer
 *   answers with END_TRANSACTION. After `maxChecks` unanswered checks a half message is given up
 *   (logged, never delivered).
 * - `transaction.checkOffset` (SQLite) is the half-queue offset below which everything is resolved.
 *
 * A crash between a commit's append and its op record can make a later check commit it again: a
 * duplicate, never a loss.
 */
import type { Logger } from 'pino';
import { decodeRecords, encodeRecord, type DecodedRecord } from '../../protocol/message-codec.js';
import { MessageConst } from '../../protocol/properties.js';
import type { ExtFieldsInput } from '../../protocol/remoting-command.js';
import { IntervalTask, systemClock, type Clock } from '../../storage/clock.js';
import { AppendStatus, GetMessageStatus, type MessageStoreApi } from '../../storage/types.js';
import { newTopicConfig, PERM_READ, PERM_WRITE, type TopicConfigManager } from '../topic-config-manager.js';
import { TRANS_HALF_TOPIC } from './half-message.js';

export const TRANS_OP_HALF_TOPIC = 'RMQ_SYS_TRANS_OP_HALF_TOPIC';
const CHECK_OFFSET_KEY = 'transaction.checkOffset';
/** Half records read per scan step, and at most this many steps per check round. */
const SCAN_BATCH = 64;
const SCAN_STEPS = 32;

export interface TransactionCheckOptions {
  store: MessageStoreApi;
  topics: TopicConfigManager;
  /** A half message younger than this is not checked yet (RocketMQ transactionTimeOut). */
  timeoutMs: number;
  checkIntervalMs: number;
  maxChecks: number;
  /** Sends CHECK_TRANSACTION_STATE to a live producer of `group`; false when none is connected. */
  sendCheck: (group: string, header: ExtFieldsInput, body: Buffer) => boolean;
  clock?: Clock;
  logger?: Logger;
}

export class TransactionCheckService {
  /** Resolved half offsets at or above `checkOffset`. */
  private readonly resolved = new Set<number>();
  private readonly checksSent = new Map<number, number>();
  private checkOffset = 0;
  private readonly clock: Clock;
  private readonly checkLoop: IntervalTask;

  constructor(private readonly options: TransactionCheckOptions) {
    this.clock = options.clock ?? systemClock;
    this.checkLoop = new IntervalTask(options.checkIntervalMs, () => this.checkOnce(), this.clock, (err) =>
      options.logger?.error({ err }, 'transaction check failed'),
    );
  }

  /** Creates the internal topics and rebuilds the resolved set from the op records. */
  async start(): Promise<void> {
    const { store, topics } = this.options;
    for (const topic of [TRANS_HALF_TOPIC, TRANS_OP_HALF_TOPIC]) {
      if (!topics.get(topic)) topics.put(newTopicConfig(topic, 1, PERM_READ | PERM_WRITE));
    }
    this.checkOffset = Number(store.meta.getValue(CHECK_OFFSET_KEY) ?? 0);
    for (let offset = store.minOffset(TRANS_OP_HALF_TOPIC, 0); ; ) {
      const batch = await this.readRecords(TRANS_OP_HALF_TOPIC, offset);
      if (batch.records.length === 0) break;
      for (const op of batch.records) {
        const halfOffset = Number(op.body.toString('utf8'));
        if (Number.isSafeInteger(halfOffset) && halfOffset >= this.checkOffset) this.resolved.add(halfOffset);
      }
      offset = batch.nextOffset;
    }
    this.checkLoop.start();
  }

  /** Stops the check loop and waits for a check round in progress. */
  shutdown(): Promise<void> {
    return this.checkLoop.shutdown();
  }

  isResolved(halfOffset: number): boolean {
    return halfOffset < this.checkOffset || this.resolved.has(halfOffset);
  }

  /** Records that the half message at `halfOffset` was committed or rolled back. */
  async resolve(halfOffset: number): Promise<void> {
    const result = await this.options.store.append({
      topic: TRANS_OP_HALF_TOPIC,
      queueId: 0,
      body: Buffer.from(String(halfOffset), 'utf8'),
      flag: 0,
      properties: `${MessageConst.TAGS}\u0001d\u0002`,
      sysFlag: 0,
      bornTimestamp: this.clock.now(),
      bornHost: { ip: '127.0.0.1', port: 0 },
      reconsumeTimes: 0,
      tagsCode: 0,
      keys: [],
    });
    if (result.status !== AppendStatus.PUT_OK) {
      // The resolution still holds in memory; after a restart the producer may be asked again.
      this.options.logger?.warn({ halfOffset, status: result.status }, 'transaction op record not written');
    }
    this.resolved.add(halfOffset);
    this.checksSent.delete(halfOffset);
  }

  /** One check round (also run by the timer). */
  async checkOnce(): Promise<void> {
    const { store, timeoutMs, maxChecks, sendCheck, logger } = this.options;
    const now = this.clock.now();
    let offset = Math.max(this.checkOffset, store.minOffset(TRANS_HALF_TOPIC, 0));
    scan: for (let step = 0; step < SCAN_STEPS; step++) {
      const batch = await this.readRecords(TRANS_HALF_TOPIC, offset);
      if (batch.records.length === 0) break;
      for (const half of batch.records) {
        if (this.isResolved(half.queueOffset)) continue;
        if (now - half.storeTimestamp < timeoutMs) break scan; // later ones are younger still
        const sent = this.checksSent.get(half.queueOffset) ?? 0;
        if (sent >= maxChecks) {
          logger?.warn({ halfOffset: half.queueOffset, msgId: half.msgId }, 'transaction state unknown after the last check; the half message is discarded');
          await this.resolve(half.queueOffset);
          continue;
        }
        const group = half.propertyMap[MessageConst.PGROUP] ?? '';
        if (sendCheck(group, checkHeaderOf(half), checkBodyOf(half))) this.checksSent.set(half.queueOffset, sent + 1);
      }
      offset = batch.nextOffset;
    }
    this.advanceCheckOffset(offset);
  }

  private advanceCheckOffset(limit: number): void {
    const before = this.checkOffset;
    while (this.checkOffset < limit && this.resolved.has(this.checkOffset)) this.resolved.delete(this.checkOffset++);
    if (this.checkOffset !== before) this.options.store.meta.setValue(CHECK_OFFSET_KEY, String(this.checkOffset));
  }

  private async readRecords(topic: string, offset: number): Promise<{ records: DecodedRecord[]; nextOffset: number }> {
    const read = await this.options.store.read(topic, 0, offset, SCAN_BATCH, 4 * 1024 * 1024);
    if (read.status !== GetMessageStatus.FOUND) return { records: [], nextOffset: offset };
    return { records: decodeRecords(Buffer.concat(read.buffers)), nextOffset: read.nextBeginOffset };
  }
}

function checkHeaderOf(half: DecodedRecord): ExtFieldsInput {
  const uniqueKey = half.propertyMap[MessageConst.UNIQ_KEY];
  return {
    tranStateTableOffset: half.queueOffset,
    commitLogOffset: half.physicalOffset,
    msgId: uniqueKey ?? half.msgId,
    transactionId: uniqueKey,
    offsetMsgId: half.msgId,
  };
}

/**
 * The half message as the producer knows it: on its real topic and queue. Fields are copied one by
 * one: a decoded record computes some lazily (getters), which a spread would miss.
 */
function checkBodyOf(half: DecodedRecord): Buffer {
  return encodeRecord({
    topic: half.propertyMap[MessageConst.REAL_TOPIC] ?? half.topic,
    queueId: Number(half.propertyMap[MessageConst.REAL_QID] ?? half.queueId),
    flag: half.flag,
    queueOffset: half.queueOffset,
    physicalOffset: half.physicalOffset,
    sysFlag: half.sysFlag,
    bornTimestamp: half.bornTimestamp,
    bornHost: half.bornHost,
    storeTimestamp: half.storeTimestamp,
    storeHost: half.storeHost,
    reconsumeTimes: half.reconsumeTimes,
    preparedTransactionOffset: half.preparedTransactionOffset,
    body: half.body,
    properties: half.properties,
    bodyCrc: half.bodyCrc,
  });
}
