import { describe, expect, it } from 'vitest';
import { DuplicateCounter } from '../../client/duplicate-counter.js';
import { ProcessQueue } from '../../client/process-queue.js';

const msg = (queueOffset: number, size = 10) => ({ queueOffset, body: Buffer.alloc(size) });

describe('ProcessQueue', () => {
  it('commits the lowest unconsumed offset, never past an in-flight message', () => {
    const pq = new ProcessQueue();
    const batch = [10, 11, 12, 13].map((o) => msg(o));
    expect(pq.add(batch)).toBe(4);
    expect(pq.count).toBe(4);
    expect(pq.byteSize).toBe(40);
    // 11 and 13 finish first; 10 is still in flight.
    expect(pq.remove([batch[1]!, batch[3]!])).toBe(10);
    expect(pq.remove([batch[0]!])).toBe(12);
    expect(pq.remove([batch[2]!])).toBe(14);
    expect(pq.count).toBe(0);
    expect(pq.byteSize).toBe(0);
  });

  it('answers -1 before anything was added and ignores re-pulled offsets', () => {
    const pq = new ProcessQueue();
    expect(pq.committableOffset()).toBe(-1);
    pq.add([msg(0), msg(1)]);
    expect(pq.add([msg(1), msg(2)])).toBe(1);
    expect(pq.count).toBe(3);
    expect(pq.span).toBe(2);
  });

  it('orderly: take in order, commit, and put a failed batch back in front', () => {
    const pq = new ProcessQueue();
    pq.add([0, 1, 2, 3, 4].map((o) => msg(o)));
    const first = pq.take(2);
    expect(first.map((m) => m.queueOffset)).toEqual([0, 1]);
    expect(pq.committableOffset()).toBe(0);
    expect(pq.commitTaken()).toBe(2);
    const second = pq.take(2);
    expect(second.map((m) => m.queueOffset)).toEqual([2, 3]);
    pq.returnTaken();
    expect(pq.committableOffset()).toBe(2);
    expect(pq.take(10).map((m) => m.queueOffset)).toEqual([2, 3, 4]);
    expect(pq.commitTaken()).toBe(5);
    expect(pq.byteSize).toBe(0);
  });

  it('clear forgets everything (seek or lost queue)', () => {
    const pq = new ProcessQueue();
    pq.add([msg(5)]);
    pq.clear();
    expect(pq.count).toBe(0);
    expect(pq.committableOffset()).toBe(-1);
    expect(pq.add([msg(1)])).toBe(1);
  });
});

describe('DuplicateCounter', () => {
  it('counts repeats inside the window and forgets the oldest id', () => {
    const counter = new DuplicateCounter(2);
    expect(counter.record('a')).toBe(false);
    expect(counter.record('a')).toBe(true);
    expect(counter.record('b')).toBe(false);
    expect(counter.record('c')).toBe(false); // 'a' falls out of the window
    expect(counter.record('a')).toBe(false);
    expect(counter.record('c')).toBe(true);
    expect(counter.count).toBe(2);
  });

  it('rejects a bad window', () => {
    expect(() => new DuplicateCounter(0)).toThrow(RangeError);
  });
});
