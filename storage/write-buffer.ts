/**
 * Pending appends are encoded straight into pooled fixed-size chunks, which go to `writev` as they
 * are: no per-message allocation and no Buffer.concat. Chunks return to the pool after the write.
 */

/**
 * Two sizes of chunk: a buffer's first chunk is small and the rest full-size, so a batch of one
 * record (one message per queue per write, as with hundreds of queues) holds a few KiB rather than a
 * whole write's worth; with a thousand queues writing at once that was 64 MiB of chunks in flight,
 * far past what the pool keeps, and the fresh allocations kept the GC busy.
 */
export class ChunkPool {
  private readonly free: Buffer[] = [];
  private readonly freeFirst: Buffer[] = [];

  constructor(
    readonly chunkSize: number,
    readonly firstChunkSize = Math.min(chunkSize, 4096),
    private readonly maxFree = 64,
    private readonly maxFreeFirst = 1024,
  ) {}

  /** A chunk of at least `minimum` bytes; a small one when it starts a buffer. */
  take(minimum: number, first = false): Buffer {
    if (first && minimum <= this.firstChunkSize) return this.freeFirst.pop() ?? Buffer.allocUnsafe(this.firstChunkSize);
    if (minimum > this.chunkSize) return Buffer.allocUnsafe(minimum);
    return this.free.pop() ?? Buffer.allocUnsafe(this.chunkSize);
  }

  give(chunk: Buffer): void {
    if (chunk.length === this.chunkSize && this.free.length < this.maxFree) this.free.push(chunk);
    else if (chunk.length === this.firstChunkSize && this.freeFirst.length < this.maxFreeFirst) this.freeFirst.push(chunk);
  }
}

/** An append-only byte sequence made of pool chunks. */
export class ChunkedWriteBuffer {
  private readonly chunks: Buffer[] = [];
  /** Bytes used in each chunk (a record never straddles two chunks). */
  private readonly used: number[] = [];
  /** Total bytes reserved. */
  length = 0;

  constructor(private readonly pool: ChunkPool) {}

  /** Offset in the chunk `reserve` returned last at which its bytes go. */
  reservedAt = 0;

  /** Reserves `size` contiguous bytes; returns the chunk to write them to, at `reservedAt`. */
  reserve(size: number): Buffer {
    let last = this.chunks.length - 1;
    if (last < 0 || this.chunks[last].length - this.used[last] < size) {
      this.chunks.push(this.pool.take(size, last < 0));
      this.used.push(0);
      last += 1;
    }
    const at = this.used[last];
    this.used[last] = at + size;
    this.length += size;
    this.reservedAt = at;
    return this.chunks[last];
  }

  /** The reserved bytes as a list of views, in order. */
  views(): Buffer[] {
    return this.chunks.map((chunk, i) => (this.used[i] === chunk.length ? chunk : chunk.subarray(0, this.used[i])));
  }

  /** Hands every chunk back to the pool; the buffer must not be used afterwards. */
  release(): void {
    for (const chunk of this.chunks) this.pool.give(chunk);
    this.chunks.length = 0;
    this.used.length = 0;
    this.length = 0;
  }
}
