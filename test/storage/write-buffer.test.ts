/** Pending-append buffers: a small first chunk, full-size chunks after it, both reused through the pool. */
import { describe, expect, it } from 'vitest';
import { ChunkedWriteBuffer, ChunkPool } from '../../storage/write-buffer.js';

describe('ChunkedWriteBuffer', () => {
  it('starts in a small chunk, so a batch of one record holds a few KiB rather than a full chunk', () => {
    const pool = new ChunkPool(64 * 1024);
    const one = new ChunkedWriteBuffer(pool);
    one.reserve(1100);
    expect(one.views().map((v) => v.length)).toEqual([1100]);
    expect((one as unknown as { chunks: Buffer[] }).chunks[0]!.length).toBe(4096);
    // Records never straddle chunks: the fourth 1,100-byte record opens a full-size chunk.
    const many = new ChunkedWriteBuffer(pool);
    for (let i = 0; i < 60; i++) many.reserve(1100);
    expect(many.views().map((v) => v.length)).toEqual([3300, 57 * 1100]);
    expect(many.length).toBe(60 * 1100);
  });

  it('takes a record larger than the small chunk straight into a full-size one, or its own buffer', () => {
    const pool = new ChunkPool(64 * 1024);
    const buffer = new ChunkedWriteBuffer(pool);
    const chunk = buffer.reserve(10_000);
    expect(chunk.length).toBe(64 * 1024);
    expect(pool.take(100_000).length).toBe(100_000);
  });

  it('hands both sizes back to the pool for reuse', () => {
    const pool = new ChunkPool(64 * 1024);
    const buffer = new ChunkedWriteBuffer(pool);
    for (let i = 0; i < 10; i++) buffer.reserve(1100);
    const [small, large] = (buffer as unknown as { chunks: Buffer[] }).chunks;
    buffer.release();
    expect(pool.take(100, true)).toBe(small);
    expect(pool.take(100)).toBe(large);
  });
});
