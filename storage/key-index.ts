/**
 * The key index (QUERY_MESSAGE by key): append-only hash index files in the spirit of RocketMQ's
 * IndexFile, under `<dataDir>/index/<20-digit sequence>.kidx`. All integers little-endian.
 *
 *   header (64 bytes)
 *     0  u32  magic 0x5844494B ("KIDX")
 *     4  u32  version (1)
 *     8  u32  slotCount
 *    12  u32  maxEntries
 *    16  i64  beginTimestamp   store time of the first entry; entry times are deltas from it
 *    24  i64  endTimestamp     newest store time among the valid entries
 *    32  i64  beginPhysOffset  smallest physical offset among the valid entries
 *    40  i64  endPhysOffset    largest physical offset among the valid entries
 *    48  u32  entryCount       valid (synced) entries; later ones are ignored
 *    52  u32  slotEntryCount   entries the slot table on disk covers (<= entryCount)
 *    56  8 bytes zero
 *   slot table at 64: slotCount x u32, 1-based number of the newest entry of the bucket, 0 = empty
 *   entries at 64 + 4 * slotCount: maxEntries x 20 bytes
 *     0  i32  hash of (topic, key)
 *     4  u32  physical offset, low 32 bits
 *     8  u32  physical offset, high bits
 *    12  i32  store time - beginTimestamp (ms)
 *    16  u32  previous entry of the same bucket (1-based, 0 = none)
 *
 * Appends go into an in-memory image of the active file (a hash and a few typed-array writes per
 * key). `flush()` pwrites the new entries; `flush({ durable: true })` (before each checkpoint and at
 * close) writes them, fdatasync, header (entryCount = n, slotEntryCount unchanged), fdatasync, the
 * dirty slot pages, fdatasync, header (slotEntryCount = n), fdatasync. A slot table is thus only ever written
 * while the header already vouches for every entry it names, and whatever a crash interrupts, a
 * header with slotEntryCount < entryCount says which entries' slots may be missing: open replays
 * just those (work grows with the last flush, not the data). Files found at open are read-only
 * from then on (a new active file starts), so open reads headers only. Keys appended after the
 * checkpoint are indexed again by recovery (queries drop the duplicates). A file rolls over when
 * full or when a time delta would not fit in 32 bits; retention deletes whole files whose newest
 * entry is older than the oldest stored record.
 */
import { endianness } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { FileHandle, FileIO } from './file-io.js';

export const KEY_INDEX_DIR = 'index';
export const KEY_INDEX_HEADER_SIZE = 64;
export const KEY_INDEX_ENTRY_SIZE = 20;
const MAGIC = 0x5844494b;
const VERSION = 1;
const ENTRY_WORDS = KEY_INDEX_ENTRY_SIZE / 4;
/** Slot pages written by a durable flush: 1024 slots (4 KiB). */
const PAGE_SHIFT = 10;
const PAGE_SLOTS = 1 << PAGE_SHIFT;
const PAGE_BYTES = PAGE_SLOTS * 4;
const TWO_32 = 2 ** 32;
const FILE_NAME = /^(\d{20})\.kidx$/;

// The in-memory image is written to disk as is: typed arrays must be little-endian.
if (endianness() !== 'LE') throw new Error('the key index needs a little-endian host');

export interface KeyIndexConfig {
  slotsPerFile: number;
  maxEntriesPerFile: number;
}

/** One index entry as found by a lookup. */
export interface KeyIndexHit {
  physicalOffset: number;
  storeTimestamp: number;
}

/** FNV-1a-style mixing of `text` into `h`, two UTF-16 units per step (a shorter multiply chain). */
function mix(h: number, text: string): number {
  const pairs = text.length & ~1;
  let i = 0;
  for (; i < pairs; i += 2) h = Math.imul(h ^ (text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16)), 0x01000193);
  if (i < text.length) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  // The length goes in too, so that the topic/key boundary matters.
  return Math.imul(h ^ text.length, 0x01000193);
}

/** Murmur3's finalizer: spreads the bits before the bucket is taken modulo slotCount. */
function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

const HASH_SEED = 0x811c9dc5;

/** The 32-bit hash an entry stores for (topic, key). */
export function keyHash(topic: string, key: string): number {
  return finish(mix(mix(HASH_SEED, topic), key));
}

export function keyIndexFileName(sequence: number): string {
  return `${String(sequence).padStart(20, '0')}.kidx`;
}

export interface KeyIndexHeader {
  slotCount: number;
  maxEntries: number;
  beginTimestamp: number;
  endTimestamp: number;
  beginPhysOffset: number;
  endPhysOffset: number;
  entryCount: number;
  slotEntryCount: number;
}

export function encodeKeyIndexHeader(h: KeyIndexHeader): Buffer {
  const buf = Buffer.alloc(KEY_INDEX_HEADER_SIZE);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt32LE(VERSION, 4);
  buf.writeUInt32LE(h.slotCount, 8);
  buf.writeUInt32LE(h.maxEntries, 12);
  buf.writeBigInt64LE(BigInt(h.beginTimestamp), 16);
  buf.writeBigInt64LE(BigInt(h.endTimestamp), 24);
  buf.writeBigInt64LE(BigInt(h.beginPhysOffset), 32);
  buf.writeBigInt64LE(BigInt(h.endPhysOffset), 40);
  buf.writeUInt32LE(h.entryCount, 48);
  buf.writeUInt32LE(h.slotEntryCount, 52);
  return buf;
}

/** The header, or why it is not one. */
export function decodeKeyIndexHeader(buf: Buffer): KeyIndexHeader | string {
  if (buf.length < KEY_INDEX_HEADER_SIZE) return 'short header';
  if (buf.readUInt32LE(0) !== MAGIC) return 'bad magic';
  if (buf.readUInt32LE(4) !== VERSION) return `unknown version ${buf.readUInt32LE(4)}`;
  const h: KeyIndexHeader = {
    slotCount: buf.readUInt32LE(8),
    maxEntries: buf.readUInt32LE(12),
    beginTimestamp: Number(buf.readBigInt64LE(16)),
    endTimestamp: Number(buf.readBigInt64LE(24)),
    beginPhysOffset: Number(buf.readBigInt64LE(32)),
    endPhysOffset: Number(buf.readBigInt64LE(40)),
    entryCount: buf.readUInt32LE(48),
    slotEntryCount: buf.readUInt32LE(52),
  };
  if (h.slotCount === 0 || h.maxEntries === 0 || h.entryCount > h.maxEntries || h.slotEntryCount > h.entryCount) return 'implausible counts';
  return h;
}

/** The writable part of a file held in memory (active, or rolled over and not yet all on disk). */
interface Image {
  slots: Int32Array;
  slotBytes: Buffer;
  words: Int32Array;
  entryBytes: Buffer;
  /** Slot pages changed since the last durable flush. */
  dirty: Uint8Array;
}

function newImage(slotCount: number, maxEntries: number): Image {
  const slotBuffer = new ArrayBuffer(slotCount * 4);
  const entryBuffer = new ArrayBuffer(maxEntries * KEY_INDEX_ENTRY_SIZE);
  return {
    slots: new Int32Array(slotBuffer),
    slotBytes: Buffer.from(slotBuffer),
    words: new Int32Array(entryBuffer),
    entryBytes: Buffer.from(entryBuffer),
    dirty: new Uint8Array(Math.ceil(slotCount / PAGE_SLOTS)),
  };
}

interface SlotPage {
  index: number;
  bytes: Buffer;
}

/** Copies of the slot pages changed since the last durable flush; clears their dirty marks. */
function takeDirtyPages(image: Image): SlotPage[] {
  const pages: SlotPage[] = [];
  for (let p = 0; p < image.dirty.length; p++) {
    if (image.dirty[p] === 0) continue;
    image.dirty[p] = 0;
    const from = p * PAGE_BYTES;
    pages.push({ index: p, bytes: Buffer.from(image.slotBytes.subarray(from, Math.min(from + PAGE_BYTES, image.slotBytes.length))) });
  }
  return pages;
}

/** After a failed flush: the pages must go out with the next one. */
function markDirty(image: Image, pages: readonly SlotPage[]): void {
  for (const page of pages) image.dirty[page.index] = 1;
}

class IndexFile {
  beginTimestamp = 0;
  endTimestamp = 0;
  beginPhysOffset = Number.MAX_SAFE_INTEGER;
  endPhysOffset = 0;
  /** Entries appended (in memory) or valid (on disk). */
  count = 0;
  /** Entries pwritten from the image. */
  written = 0;
  /** Entries the slot table on disk covers (as the header says). */
  slotsOnDisk = 0;
  /** Present while appends may still come or are not all on disk; afterwards lookups read the file. */
  image: Image | undefined;
  handle: FileHandle | undefined;

  constructor(
    readonly sequence: number,
    readonly path: string,
    readonly slotCount: number,
    readonly maxEntries: number,
  ) {}

  get entriesAt(): number {
    return KEY_INDEX_HEADER_SIZE + this.slotCount * 4;
  }

  get size(): number {
    return this.entriesAt + this.maxEntries * KEY_INDEX_ENTRY_SIZE;
  }

  header(entryCount: number, slotEntryCount: number): Buffer {
    return encodeKeyIndexHeader({
      slotCount: this.slotCount,
      maxEntries: this.maxEntries,
      beginTimestamp: this.beginTimestamp,
      endTimestamp: this.endTimestamp,
      beginPhysOffset: entryCount === 0 ? 0 : this.beginPhysOffset,
      endPhysOffset: this.endPhysOffset,
      entryCount,
      slotEntryCount,
    });
  }
}

export class KeyIndex {
  /** Oldest first; the last one is the active file. */
  private readonly files: IndexFile[] = [];
  private flushing: Promise<void> = Promise.resolve();
  /** The topic of the last add and its part of the hash: a batch's keys share one topic. */
  private lastTopic = '';
  private lastTopicHash = mix(HASH_SEED, '');

  private constructor(
    private readonly io: FileIO,
    private readonly dir: string,
    private readonly config: KeyIndexConfig,
    private readonly logger: Logger,
  ) {}

  /** Loads the index files under `dir` (headers only, plus the replay of an unfinished flush). */
  static async open(io: FileIO, dir: string, config: KeyIndexConfig, logger: Logger): Promise<KeyIndex> {
    await io.mkdir(dir);
    const index = new KeyIndex(io, dir, config, logger);
    const sequences = (await io.readdir(dir))
      .map((name) => FILE_NAME.exec(name)?.[1])
      .filter((s): s is string => s !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    for (const sequence of sequences) {
      const file = await index.load(sequence);
      if (file) index.files.push(file);
    }
    index.roll();
    return index;
  }

  private async load(sequence: number): Promise<IndexFile | undefined> {
    const path = join(this.dir, keyIndexFileName(sequence));
    const handle = await this.io.open(path, 'write');
    try {
      const headerBytes = Buffer.alloc(KEY_INDEX_HEADER_SIZE);
      await this.io.read(handle, headerBytes, 0, KEY_INDEX_HEADER_SIZE, 0);
      const header = decodeKeyIndexHeader(headerBytes);
      if (typeof header === 'string' || header.entryCount === 0) {
        // No valid entry (a file whose creation or first flush did not complete): nothing to keep.
        if (typeof header === 'string') this.logger.warn({ path, reason: header }, 'deleting a key index file without a valid header');
        await this.io.close(handle);
        await this.io.unlink(path);
        return undefined;
      }
      const file = new IndexFile(sequence, path, header.slotCount, header.maxEntries);
      file.beginTimestamp = header.beginTimestamp;
      file.endTimestamp = header.endTimestamp;
      file.beginPhysOffset = header.beginPhysOffset;
      file.endPhysOffset = header.endPhysOffset;
      file.count = file.written = header.entryCount;
      file.slotsOnDisk = header.slotEntryCount;
      if (file.slotsOnDisk < file.count) await this.replaySlots(file, handle);
      await this.io.close(handle);
      return file;
    } catch (err) {
      await this.io.close(handle).catch(() => undefined);
      throw err;
    }
  }

  /** Puts entries (slotEntryCount, entryCount] into the slot table on disk (a flush did not get to it). */
  private async replaySlots(file: IndexFile, handle: FileHandle): Promise<void> {
    const from = file.slotsOnDisk;
    const bytes = Buffer.alloc((file.count - from) * KEY_INDEX_ENTRY_SIZE);
    await this.io.read(handle, bytes, 0, bytes.length, file.entriesAt + from * KEY_INDEX_ENTRY_SIZE);
    const newest = new Map<number, number>();
    for (let i = 0; i < file.count - from; i++) newest.set((bytes.readInt32LE(i * KEY_INDEX_ENTRY_SIZE) >>> 0) % file.slotCount, from + i + 1);
    const value = Buffer.alloc(4);
    for (const [slot, n] of newest) {
      value.writeUInt32LE(n, 0);
      await this.io.writev(handle, [value], KEY_INDEX_HEADER_SIZE + slot * 4);
    }
    await this.io.datasync(handle);
    await this.io.writev(handle, [file.header(file.count, file.count)], 0);
    await this.io.datasync(handle);
    file.slotsOnDisk = file.count;
    this.logger.warn({ path: file.path, entries: file.count - from, slots: newest.size }, 'key index slots replayed after an unfinished flush');
  }

  /** Starts a new active file (in memory; created on disk by the next flush). */
  private roll(): IndexFile {
    const last = this.files[this.files.length - 1];
    const sequence = last ? last.sequence + 1 : 0;
    const file = new IndexFile(sequence, join(this.dir, keyIndexFileName(sequence)), this.config.slotsPerFile, this.config.maxEntriesPerFile);
    file.image = newImage(file.slotCount, file.maxEntries);
    this.files.push(file);
    return file;
  }

  /** Indexes one key of a stored record; memory only, never fails. */
  add(topic: string, key: string, physicalOffset: number, storeTimestamp: number): void {
    let file = this.files[this.files.length - 1];
    if (file.count === 0) file.beginTimestamp = storeTimestamp;
    let delta = storeTimestamp - file.beginTimestamp;
    if (file.count === file.maxEntries || delta > 0x7fffffff || delta < -0x80000000) {
      file = this.roll();
      file.beginTimestamp = storeTimestamp;
      delta = 0;
    }
    const image = file.image!;
    if (topic !== this.lastTopic) {
      this.lastTopic = topic;
      this.lastTopicHash = mix(HASH_SEED, topic);
    }
    const hash = finish(mix(this.lastTopicHash, key));
    const slot = (hash >>> 0) % file.slotCount;
    const n = ++file.count;
    const w = (n - 1) * ENTRY_WORDS;
    const words = image.words;
    words[w] = hash;
    words[w + 1] = physicalOffset % TWO_32;
    words[w + 2] = physicalOffset / TWO_32;
    words[w + 3] = delta;
    words[w + 4] = image.slots[slot];
    image.slots[slot] = n;
    image.dirty[slot >>> PAGE_SHIFT] = 1;
    if (storeTimestamp > file.endTimestamp) file.endTimestamp = storeTimestamp;
    if (physicalOffset < file.beginPhysOffset) file.beginPhysOffset = physicalOffset;
    if (physicalOffset > file.endPhysOffset) file.endPhysOffset = physicalOffset;
  }

  /**
   * Writes new entries out (pwrite). `durable`: also makes every entry appended so far valid on disk
   * (see the file comment) and lets rolled-over files go from memory. Flushes run one at a time; a
   * failed one leaves the state as it was (the next one writes it again) and throws.
   */
  flush({ durable = false }: { durable?: boolean } = {}): Promise<void> {
    const run = this.flushing.then(() => this.flushFiles(durable));
    this.flushing = run.catch(() => undefined);
    return run;
  }

  private async flushFiles(durable: boolean): Promise<void> {
    for (const file of this.files.filter((f) => f.image && f.count > 0)) {
      await this.ensureCreated(file);
      // Entry count and slot pages as of one moment: appends during the awaits below must not leak
      // into this flush's slot pages (they would name entries its header does not vouch for).
      const n = file.count;
      const pages = durable && n > file.slotsOnDisk ? takeDirtyPages(file.image!) : [];
      if (n > file.written) {
        const bytes = file.image!.entryBytes.subarray(file.written * KEY_INDEX_ENTRY_SIZE, n * KEY_INDEX_ENTRY_SIZE);
        try {
          await this.io.writev(file.handle!, [bytes], file.entriesAt + file.written * KEY_INDEX_ENTRY_SIZE);
        } catch (err) {
          markDirty(file.image!, pages);
          throw err;
        }
        file.written = n;
      }
      if (durable) await this.makeDurable(file, n, pages);
    }
  }

  private async ensureCreated(file: IndexFile): Promise<void> {
    if (file.handle) return;
    const handle = await this.io.open(file.path, 'create');
    try {
      // The full size up front, all zeros (whatever a file of this name held before is gone).
      await this.io.truncate(handle, 0);
      await this.io.truncate(handle, file.size);
      await this.io.writev(handle, [file.header(0, 0)], 0);
    } catch (err) {
      await this.io.close(handle).catch(() => undefined);
      throw err;
    }
    file.handle = handle;
  }

  private async makeDurable(file: IndexFile, n: number, pages: readonly SlotPage[]): Promise<void> {
    if (n > file.slotsOnDisk) {
      const handle = file.handle!;
      try {
        await this.io.datasync(handle);
        if (file.slotsOnDisk === 0) await this.io.fsyncDir(this.dir);
        await this.io.writev(handle, [file.header(n, file.slotsOnDisk)], 0);
        await this.io.datasync(handle);
        for (const page of pages) await this.io.writev(handle, [page.bytes], KEY_INDEX_HEADER_SIZE + page.index * PAGE_BYTES);
        await this.io.datasync(handle);
        await this.io.writev(handle, [file.header(n, n)], 0);
        await this.io.datasync(handle);
      } catch (err) {
        markDirty(file.image!, pages);
        throw err;
      }
      file.slotsOnDisk = n;
    }
    // A rolled-over file gets no more entries: once all are on disk, lookups read the file.
    if (file !== this.files[this.files.length - 1] && file.slotsOnDisk === file.count) {
      file.image = undefined;
      await this.io.close(file.handle!);
      file.handle = undefined;
    }
  }

  /**
   * Entries of (topic, key) stored within [beginTimestamp, endTimestamp], newest file first and,
   * within a file, newest entry first. Calls `visit` for each until it returns false. Hash matches
   * only: the caller checks the records (collisions) and drops duplicates.
   */
  async lookup(topic: string, key: string, beginTimestamp: number, endTimestamp: number, visit: (hit: KeyIndexHit) => Promise<boolean>): Promise<void> {
    const hash = keyHash(topic, key);
    for (const file of [...this.files].reverse()) {
      if (file.count === 0 || file.endTimestamp < beginTimestamp) continue;
      const slot = (hash >>> 0) % file.slotCount;
      const reader = file.image ? imageReader(file.image) : await this.diskReader(file);
      if (!reader) continue;
      try {
        let n = await reader.slot(slot);
        while (n > 0 && n <= file.count) {
          const entry = await reader.entry(n);
          if (entry[0] === hash) {
            const storeTimestamp = file.beginTimestamp + entry[3];
            if (storeTimestamp >= beginTimestamp && storeTimestamp <= endTimestamp) {
              const physicalOffset = (entry[2] >>> 0) * TWO_32 + (entry[1] >>> 0);
              if (!(await visit({ physicalOffset, storeTimestamp }))) return;
            }
          }
          // Chains only point backwards; anything else is corruption and ends the walk.
          const prev = entry[4];
          n = prev >= 0 && prev < n ? prev : 0;
        }
      } finally {
        await reader.close();
      }
    }
  }

  private async diskReader(file: IndexFile): Promise<EntryReader | undefined> {
    let handle: FileHandle;
    try {
      handle = await this.io.open(file.path, 'read');
    } catch (err) {
      // Retention deleted it meanwhile.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const buf = Buffer.alloc(KEY_INDEX_ENTRY_SIZE);
    const words = new Int32Array(ENTRY_WORDS);
    return {
      slot: async (slot) => {
        const got = await this.io.read(handle, buf, 0, 4, KEY_INDEX_HEADER_SIZE + slot * 4);
        return got === 4 ? buf.readInt32LE(0) : 0;
      },
      entry: async (n) => {
        const got = await this.io.read(handle, buf, 0, KEY_INDEX_ENTRY_SIZE, file.entriesAt + (n - 1) * KEY_INDEX_ENTRY_SIZE);
        for (let i = 0; i < ENTRY_WORDS; i++) words[i] = got === KEY_INDEX_ENTRY_SIZE ? buf.readInt32LE(i * 4) : 0;
        return words;
      },
      close: () => this.io.close(handle),
    };
  }

  /** Deletes files (all on disk) whose newest entry is older than `timestamp`; returns how many. */
  async deleteFilesBefore(timestamp: number): Promise<number> {
    let deleted = 0;
    while (this.files.length > 1 && !this.files[0].image && this.files[0].endTimestamp < timestamp) {
      const file = this.files.shift()!;
      await this.io.unlink(file.path);
      deleted += 1;
    }
    if (deleted > 0) {
      await this.io.fsyncDir(this.dir);
      this.logger.info({ deleted }, 'retention deleted key index files');
    }
    return deleted;
  }

  /** Index files on disk or in memory (tests, stats). */
  fileCount(): number {
    return this.files.length;
  }

  /** Closes the open files; call after a durable flush to keep what is only in memory. */
  async close(): Promise<void> {
    await this.flushing;
    for (const file of this.files) {
      if (!file.handle) continue;
      await this.io.close(file.handle).catch(() => undefined);
      file.handle = undefined;
    }
  }
}

interface EntryReader {
  slot(slot: number): Promise<number> | number;
  /** The five words of entry `n` (1-based); valid until the next call. */
  entry(n: number): Promise<Int32Array> | Int32Array;
  close(): Promise<void> | void;
}

function imageReader(image: Image): EntryReader {
  return {
    slot: (slot) => image.slots[slot],
    entry: (n) => image.words.subarray((n - 1) * ENTRY_WORDS, n * ENTRY_WORDS),
    close: () => undefined,
  };
}
