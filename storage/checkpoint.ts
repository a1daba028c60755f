/**
 * The checkpoint: per queue, the (offset, segment, position) up to which data is known synced and
 * indexed, so crash recovery scans only what came after. Written as temp file → fdatasync → rename
 * → fsync of the directory, so a crash leaves either the old or the new checkpoint.
 *
 * File content (JSON): {"version":1,"queues":[[topic, queueId, offset, segmentBase, position], ...]}
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { IntervalTask, type Clock } from './clock.js';
import { crashPoint } from './crash-point.js';
import { replaceFile, type FileIO } from './file-io.js';
import type { DurableMark } from './flush-policy.js';
import type { QueueLog } from './queue-log.js';
import type { SegmentHandleCache } from './segment.js';

export const CHECKPOINT_FILE = 'checkpoint';
const CHECKPOINT_VERSION = 1;

export type CheckpointMarks = Map<string, DurableMark>;

export function checkpointKey(topic: string, queueId: number): string {
  return `${topic}/${queueId}`;
}

/** The checkpoint's marks; empty when the file is missing or unreadable (recovery then scans everything). */
export async function readCheckpoint(io: FileIO, dataDir: string, logger: Logger): Promise<CheckpointMarks> {
  const marks: CheckpointMarks = new Map();
  const path = join(dataDir, CHECKPOINT_FILE);
  const stats = await io.stat(path);
  if (!stats) return marks;
  const handle = await io.open(path, 'read');
  try {
    const bytes = Buffer.alloc(stats.size);
    await io.read(handle, bytes, 0, stats.size, 0);
    const parsed = JSON.parse(bytes.toString('utf8')) as { version: number; queues: [string, number, number, number, number][] };
    if (parsed.version !== CHECKPOINT_VERSION || !Array.isArray(parsed.queues)) throw new Error(`unknown checkpoint version ${parsed.version}`);
    for (const [topic, queueId, offset, segmentBase, position] of parsed.queues) {
      marks.set(checkpointKey(topic, queueId), { offset, segmentBase, position });
    }
  } catch (err) {
    logger.warn({ err, path }, 'checkpoint unreadable; recovery will scan whole queues');
    marks.clear();
  } finally {
    await io.close(handle);
  }
  return marks;
}

export interface CheckpointEntry {
  topic: string;
  queueId: number;
  mark: DurableMark | undefined;
}

export async function writeCheckpoint(io: FileIO, dataDir: string, entries: readonly CheckpointEntry[]): Promise<void> {
  const rows: [string, number, number, number, number][] = [];
  for (const { topic, queueId, mark } of entries) {
    if (mark) rows.push([topic, queueId, mark.offset, mark.segmentBase, mark.position]);
  }
  const bytes = Buffer.from(JSON.stringify({ version: CHECKPOINT_VERSION, queues: rows }));
  await replaceFile(io, join(dataDir, CHECKPOINT_FILE), bytes, () => crashPoint('checkpoint-write'));
}

/** Writes the checkpoint every `intervalMs` when a queue's durable mark moved. */
export class CheckpointService {
  private readonly loop: IntervalTask;
  private lastWritten = '';
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly io: FileIO,
    private readonly handles: SegmentHandleCache,
    private readonly dataDir: string,
    private readonly queues: () => Iterable<QueueLog>,
    clock: Clock,
    intervalMs: number,
    logger: Logger,
    /** Makes durable what a checkpoint vouches for beyond the logs and index files (the key index). */
    private readonly beforeWrite: () => Promise<void> | void = () => {},
  ) {
    this.loop = new IntervalTask(intervalMs, () => this.runOnce(), clock, (err) => logger.error({ err }, 'checkpoint failed'));
  }

  start(): void {
    this.loop.start();
  }

  /** Stops the timer and waits for a timed run in progress. */
  shutdown(): Promise<void> {
    return this.loop.shutdown();
  }

  /**
   * Writes out in-memory index entries and syncs the index files written since the last checkpoint,
   * then records the marks. The marks are read first: whatever they cover was readable, so its index
   * entries are among those written out, and so are their keys (`beforeWrite`): recovery re-indexes
   * keys only of the records after the checkpoint.
   */
  runOnce(force = false): Promise<void> {
    // One at a time: two writers would share the temp file.
    const run = this.queue.then(() => this.write(force));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async write(force: boolean): Promise<void> {
    const queues = [...this.queues()];
    const entries: CheckpointEntry[] = queues.map((q) => ({ topic: q.topic, queueId: q.queueId, mark: q.synced }));
    const signature = JSON.stringify(entries);
    if (!force && signature === this.lastWritten) return;
    await this.beforeWrite();
    for (const queue of queues) {
      await queue.flushIndexTails();
      const segments = [...queue.indexUnsynced];
      queue.indexUnsynced.clear();
      for (const segment of segments) {
        if (segment.deleted) continue;
        const files = await this.handles.acquire(segment);
        try {
          await this.io.datasync(files.idx);
        } catch (err) {
          queue.indexUnsynced.add(segment);
          throw err;
        } finally {
          this.handles.release(segment);
        }
      }
    }
    await writeCheckpoint(this.io, this.dataDir, entries);
    this.lastWritten = signature;
  }
}
