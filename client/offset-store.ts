import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { InvalidArgumentError } from '../protocol/errors.js';
import type { MessageModel } from './consume-types.js';
import { queueKey, type MessageQueue } from './message-queue.js';

/**
 * Where a consumer group's progress lives. Offsets are "next offset to consume"
 * (= lowest unconsumed), never an offset past a message still being processed.
 * `read` answers -1 when nothing is known.
 */
export interface OffsetStore {
  load(): Promise<void>;
  /** Memory first; with `fromStore`, asks the backing store and caches the answer. */
  read(mq: MessageQueue, fromStore?: boolean): Promise<number>;
  /** `increaseOnly` protects against a late, smaller commit from a finished batch. */
  update(mq: MessageQueue, offset: number, increaseOnly: boolean): void;
  persist(mq: MessageQueue): Promise<void>;
  persistAll(mqs: readonly MessageQueue[]): Promise<void>;
  remove(mq: MessageQueue): void;
  /** Releases what `load` took (the local file's in-process claim). */
  close(): void;
}

/** What the broker offset store needs from the client (codes 14 and 15). */
export interface BrokerOffsetBackend {
  /** Undefined when the broker has no offset for the group (code 22). */
  queryOffset(group: string, mq: MessageQueue): Promise<number | undefined>;
  updateOffset(group: string, mq: MessageQueue, offset: number): Promise<void>;
}

abstract class MemoryOffsets {
  protected readonly offsets = new Map<string, { mq: MessageQueue; offset: number }>();
  /** Last value sent to the backing store, to skip redundant commits. */
  protected readonly persisted = new Map<string, number>();

  update(mq: MessageQueue, offset: number, increaseOnly: boolean): void {
    if (offset < 0) return;
    const key = queueKey(mq);
    const current = this.offsets.get(key);
    if (current && increaseOnly && offset <= current.offset) return;
    this.offsets.set(key, { mq, offset });
  }

  remove(mq: MessageQueue): void {
    this.offsets.delete(queueKey(mq));
    this.persisted.delete(queueKey(mq));
  }

  protected memory(mq: MessageQueue): number {
    return this.offsets.get(queueKey(mq))?.offset ?? -1;
  }
}

/** CLUSTERING: offsets are kept by the broker per group, so any consumer can take over a queue. */
export class BrokerOffsetStore extends MemoryOffsets implements OffsetStore {
  constructor(
    private readonly group: string,
    private readonly backend: BrokerOffsetBackend,
  ) {
    super();
  }

  async load(): Promise<void> {}

  close(): void {}

  async read(mq: MessageQueue, fromStore = false): Promise<number> {
    if (!fromStore) return this.memory(mq);
    const stored = await this.backend.queryOffset(this.group, mq);
    if (stored === undefined || stored < 0) return -1;
    this.update(mq, stored, false);
    this.persisted.set(queueKey(mq), stored);
    return stored;
  }

  async persist(mq: MessageQueue): Promise<void> {
    const key = queueKey(mq);
    const entry = this.offsets.get(key);
    if (!entry || this.persisted.get(key) === entry.offset) return;
    await this.backend.updateOffset(this.group, mq, entry.offset);
    this.persisted.set(key, entry.offset);
  }

  async persistAll(mqs: readonly MessageQueue[]): Promise<void> {
    const results = await Promise.allSettled(mqs.map((mq) => this.persist(mq)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

interface OffsetFile {
  version: 1;
  offsets: Array<MessageQueue & { offset: number }>;
}

/**
 * BROADCASTING: every consumer keeps its own progress in a JSON file, replaced atomically
 * (write temp, fsync, rename, fsync the directory) so a crash leaves the old or the new file,
 * never a torn one.
 */
export class LocalFileOffsetStore extends MemoryOffsets implements OffsetStore {
  /** Files held by a store in this process: two writers of one file would overwrite each other. */
  private static readonly open = new Set<string>();
  private writing: Promise<void> = Promise.resolve();
  private claimed = false;

  constructor(readonly filePath: string) {
    super();
  }

  async load(): Promise<void> {
    if (!this.claimed) {
      if (LocalFileOffsetStore.open.has(this.filePath)) {
        throw new InvalidArgumentError(`offset file ${this.filePath} is already used by another consumer in this process; give each broadcasting consumer its own instanceName`);
      }
      LocalFileOffsetStore.open.add(this.filePath);
      this.claimed = true;
    }
    let text: string;
    try {
      text = await readFile(this.filePath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    const parsed = JSON.parse(text) as OffsetFile;
    if (parsed.version !== 1 || !Array.isArray(parsed.offsets)) throw new Error(`unrecognised offset file ${this.filePath}`);
    for (const { topic, brokerName, queueId, offset } of parsed.offsets) {
      const mq = { topic, brokerName, queueId };
      this.update(mq, offset, false);
      this.persisted.set(queueKey(mq), offset);
    }
  }

  async read(mq: MessageQueue): Promise<number> {
    return this.memory(mq);
  }

  close(): void {
    if (this.claimed) LocalFileOffsetStore.open.delete(this.filePath);
    this.claimed = false;
  }

  async persist(): Promise<void> {
    await this.persistAll();
  }

  /** Writes every known offset; the queue list is ignored because the file holds them all. */
  async persistAll(): Promise<void> {
    const write = this.writing.then(() => this.writeFile());
    this.writing = write.catch(() => {});
    await write;
  }

  private async writeFile(): Promise<void> {
    const body: OffsetFile = { version: 1, offsets: [...this.offsets.values()].map(({ mq, offset }) => ({ ...mq, offset })) };
    const dir = dirname(this.filePath);
    await mkdir(dir, { recursive: true });
    const temp = `${this.filePath}.tmp`;
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(JSON.stringify(body, null, 1));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, this.filePath);
    const dirHandle = await open(dir, 'r');
    try {
      await dirHandle.sync();
    } catch {
      // Some filesystems refuse fsync on a directory; the rename itself is still atomic.
    } finally {
      await dirHandle.close();
    }
  }
}

/**
 * The store a consumer of this message model uses: clustering keeps offsets on the broker,
 * broadcasting in `<offsetStoreDir>/<group>/<instanceName>.json` (default ~/.ferrymq/offsets).
 */
export function createOffsetStore(
  messageModel: MessageModel,
  group: string,
  backend: () => BrokerOffsetBackend,
  options: { offsetStoreDir?: string; instanceName?: string },
): OffsetStore {
  if (messageModel === 'CLUSTERING') return new BrokerOffsetStore(group, backend());
  const dir = options.offsetStoreDir ?? join(homedir(), '.ferrymq', 'offsets');
  return new LocalFileOffsetStore(join(dir, group, `${options.instanceName ?? 'DEFAULT'}.json`));
}
