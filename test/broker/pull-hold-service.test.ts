import { describe, expect, it, vi } from 'vitest';
import { PullHoldService } from '../../broker/pull-hold-service.js';
import { FakeClock } from '../../storage/clock.js';

function setup(maxOffset = 5) {
  const clock = new FakeClock();
  const offsets = { value: maxOffset };
  const service = new PullHoldService({ maxPerConnection: 2, maxTotal: 3, maxOffsetOf: () => offsets.value, clock });
  service.start();
  return { clock, offsets, service };
}

const pull = (rerun: () => void, connectionId = 1, offset = 5, timeoutMs = 15_000) => ({
  topic: 'T',
  queueId: 0,
  offset,
  connectionId,
  timeoutMs,
  rerun,
});

describe('PullHoldService', () => {
  it('re-runs a held pull exactly at its timeout', () => {
    const { clock, service } = setup();
    const rerun = vi.fn();
    expect(service.hold(pull(rerun))).toBe(true);
    clock.advance(14_999);
    expect(rerun).not.toHaveBeenCalled();
    clock.advance(1);
    expect(rerun).toHaveBeenCalledTimes(1);
    expect(service.heldCount()).toBe(0);
  });

  it('re-runs pulls of different timeouts each at its own deadline, whatever was woken before', () => {
    const { clock, service } = setup();
    const woken = vi.fn();
    const long = vi.fn();
    const short = vi.fn();
    service.hold(pull(woken, 1, 5, 1_000));
    service.hold(pull(long, 1, 7, 15_000));
    clock.advance(500);
    service.hold(pull(short, 2, 7, 5_000));
    service.notify('T', 0, 6);
    expect(woken).toHaveBeenCalledTimes(1);
    clock.advance(4_999);
    expect(short).not.toHaveBeenCalled();
    clock.advance(1);
    expect(short).toHaveBeenCalledTimes(1);
    clock.advance(9_499);
    expect(long).not.toHaveBeenCalled();
    clock.advance(1);
    expect(long).toHaveBeenCalledTimes(1);
    expect(woken).toHaveBeenCalledTimes(1);
    expect(service.heldCount()).toBe(0);
  });

  it('keeps its deadlines when the wall clock steps back (system clock)', async () => {
    const service = new PullHoldService({ maxPerConnection: 2, maxTotal: 3, maxOffsetOf: () => 5 });
    service.start();
    const rerun = vi.fn();
    const realNow = Date.now();
    const stepped = vi.spyOn(Date, 'now').mockReturnValue(realNow);
    try {
      service.hold(pull(rerun, 1, 5, 50));
      stepped.mockReturnValue(realNow - 3_600_000);
      await new Promise((resolve) => setTimeout(resolve, 120));
      expect(rerun).toHaveBeenCalledTimes(1);
    } finally {
      stepped.mockRestore();
      service.shutdown();
    }
  });

  it('wakes pulls below the new max offset only, once', () => {
    const { clock, service } = setup();
    const waiting = vi.fn();
    const ahead = vi.fn();
    service.hold(pull(waiting, 1, 5));
    service.hold(pull(ahead, 2, 7));
    expect(service.heldOnTopic('T')).toBe(2);
    expect(service.heldOnTopic('U')).toBe(0);
    service.notify('T', 0, 6);
    service.notify('T', 1, 100);
    expect(waiting).toHaveBeenCalledTimes(1);
    expect(ahead).not.toHaveBeenCalled();
    clock.advance(20_000); // the woken pull's timer is gone
    expect(waiting).toHaveBeenCalledTimes(1);
    expect(ahead).toHaveBeenCalledTimes(1);
  });

  it('refuses holds past the per-connection and total bounds, and drops a closed connection', () => {
    const { clock, service } = setup();
    const rerun = vi.fn();
    expect(service.hold(pull(rerun, 1))).toBe(true);
    expect(service.hold(pull(rerun, 1))).toBe(true);
    expect(service.hold(pull(rerun, 1))).toBe(false);
    expect(service.hold(pull(rerun, 2))).toBe(true);
    expect(service.hold(pull(rerun, 3))).toBe(false);
    service.dropConnection(1);
    expect(service.heldCount()).toBe(1);
    expect(service.heldCount(1)).toBe(0);
    clock.advance(60_000);
    expect(rerun).toHaveBeenCalledTimes(1);
  });

  it('wakes every held pull of a deleted topic, on all its queues, and no other', () => {
    const { service } = setup();
    const onT = vi.fn();
    const onTopicWithT = vi.fn();
    service.hold({ ...pull(onT, 1), queueId: 0 });
    service.hold({ ...pull(onT, 2), queueId: 3 });
    service.hold({ ...pull(onTopicWithT, 3), topic: 'T_1' });
    expect(service.heldOnTopic('T')).toBe(2);
    service.wakeTopic('T');
    expect(onT).toHaveBeenCalledTimes(2);
    expect(onTopicWithT).not.toHaveBeenCalled();
    expect(service.heldOnTopic('T')).toBe(0);
    expect(service.heldOnTopic('T_1')).toBe(1);
  });

  it('answers at once when data arrived between the read and the hold', async () => {
    const { service, offsets } = setup();
    offsets.value = 6;
    const rerun = vi.fn();
    expect(service.hold(pull(rerun))).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(rerun).toHaveBeenCalledTimes(1);
    expect(service.heldCount()).toBe(0);
  });
});
