/**
 * Pending appends are encoded straight into pooled fixed-size chunks, which go to `writev` as they
 * are: no per-message allocation and no Buffer.concat. Chunks return to the pool after the write.
 */

export class ChunkPool {
  private readonly free: Buffer[] = [];

  constructor(
    readonly chunkSize: number,
    private readonly maxFree = 64,
  ) {}

  take(minimum: number): Buffer {
    if (minimum > this.chunkSize) return Buffer.allocUnsafe(minimum);
    return this.free.pop() ?? Buffer.allocUnsafe(this.chunkSize);
  }

  give(chunk: Buffer): void {
    if (chunk.length === this.chunkSize && this.free.length < this.maxFree) this.free.push(chunk);
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
      this.chunks.push(this.pool.take(size));
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
