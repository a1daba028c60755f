import { describe, expect, it, vi } from 'vitest';
import { ClientRegistry, type ConsumerHeartbeat } from '../../broker/client-registry.js';
import { FakeClock } from '../../storage/clock.js';
import { settle } from '../helpers/common.js';

const consumer = (groupName: string, topic = 'T'): ConsumerHeartbeat => ({
  groupName,
  consumeType: 'CONSUME_PASSIVELY',
  messageModel: 'CLUSTERING',
  consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET',
  subscriptions: [{ topic, subString: 'TagA', tagsSet: ['TagA'], codeSet: [80_204_913], subVersion: 1 }],
});

/** Moves the fake clock one scan interval at a time, letting each expiry scan run. */
async function advance(clock: FakeClock, ms: number, scanIntervalMs: number): Promise<void> {
  for (let moved = 0; moved < ms; moved += scanIntervalMs) {
    clock.advance(Math.min(scanIntervalMs, ms - moved));
    await settle();
  }
}

describe('ClientRegistry', () => {
  it('tracks members, notifies on change, and expires silent channels', async () => {
    const clock = new FakeClock();
    const changed = vi.fn();
    const expired = vi.fn();
    const warn = vi.fn();
    const logger = { warn } as never;
    const registry = new ClientRegistry({ expiryMs: 120_000, scanIntervalMs: 10_000, clock, logger, onConsumerIdsChanged: changed, onChannelExpired: expired });
    registry.start();
    const a = { id: 1, remoteAddress: 'a' };
    const b = { id: 2, remoteAddress: 'b' };
    registry.heartbeat(a, 'ip@1', ['P'], [consumer('G')]);
    expect(changed).toHaveBeenLastCalledWith('G', [a]);
    registry.heartbeat(a, 'ip@1', ['P'], [consumer('G')]);
    expect(changed).toHaveBeenCalledTimes(1); // a repeat heartbeat is no change
    registry.heartbeat(b, 'ip@2', [], [consumer('G')]);
    expect(changed).toHaveBeenLastCalledWith('G', [a, b]);
    expect(changed).toHaveBeenCalledTimes(2);
    registry.heartbeat(a, 'ip@1', ['P'], [consumer('G', 'T2')]); // subscribes another topic
    expect(changed).toHaveBeenCalledTimes(3);
    registry.heartbeat(b, 'ip@2', [], [consumer('G', 'T2')]);
    expect(changed).toHaveBeenCalledTimes(3);
    registry.heartbeat(b, 'ip@2', [], [consumer('G')]);
    expect(registry.consumerIds('G')).toEqual(['ip@1', 'ip@2']);
    expect(registry.subscription('G', 'T')?.subString).toBe('TagA');

    registry.unregister(b, { consumerGroup: 'G' });
    expect(changed).toHaveBeenLastCalledWith('G', [a]);
    expect(registry.consumerIds('G')).toEqual(['ip@1']);

    await advance(clock, 60_000, 10_000);
    registry.heartbeat(b, 'ip@1', [], [consumer('G')]);
    expect(warn).toHaveBeenCalledTimes(1); // same clientId on two connections
    await advance(clock, 70_000, 10_000); // a's last heartbeat is 130 s old, b's 70 s
    expect(expired).toHaveBeenCalledWith(a);
    expect(registry.consumerIds('G')).toEqual(['ip@1']);
    registry.channelClosed(b);
    expect(registry.hasConsumerGroup('G')).toBe(false);
    await registry.shutdown();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('logs a failed expiry scan and keeps scanning', async () => {
    const clock = new FakeClock();
    const error = vi.fn();
    const logger = { warn: vi.fn(), error } as never;
    const expired = vi.fn().mockImplementationOnce(() => {
      throw new Error('close failed');
    });
    const registry = new ClientRegistry({ expiryMs: 1_000, scanIntervalMs: 500, clock, logger, onChannelExpired: expired });
    registry.start();
    const a = { id: 1, remoteAddress: 'a' };
    const b = { id: 2, remoteAddress: 'b' };
    registry.heartbeat(a, 'ip@1', ['P'], []);
    await advance(clock, 1_500, 500);
    expect(expired).toHaveBeenCalledWith(a);
    expect(error).toHaveBeenCalledTimes(1);
    registry.heartbeat(b, 'ip@2', ['P'], []);
    await advance(clock, 1_500, 500);
    expect(expired).toHaveBeenLastCalledWith(b);
    expect(registry.producerClients('P')).toEqual([]);
    await registry.shutdown();
  });
});
