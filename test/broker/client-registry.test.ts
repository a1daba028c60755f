import { describe, expect, it, vi } from 'vitest';
import { ClientRegistry, type ConsumerHeartbeat } from '../../broker/client-registry.js';
import { FakeClock } from '../../storage/clock.js';

const consumer = (groupName: string, topic = 'T'): ConsumerHeartbeat => ({
  groupName,
  consumeType: 'CONSUME_PASSIVELY',
  messageModel: 'CLUSTERING',
  consumeFromWhere: 'CONSUME_FROM_LAST_OFFSET',
  subscriptions: [{ topic, subString: 'TagA', tagsSet: ['TagA'], codeSet: [80_204_913], subVersion: 1 }],
});

describe('ClientRegistry', () => {
  it('tracks members, notifies on change, and expires silent channels', () => {
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

    clock.advance(60_000);
    registry.heartbeat(b, 'ip@1', [], [consumer('G')]);
    expect(warn).toHaveBeenCalledTimes(1); // same clientId on two connections
    clock.advance(70_000); // a's last heartbeat is 130 s old, b's 70 s
    expect(expired).toHaveBeenCalledWith(a);
    expect(registry.consumerIds('G')).toEqual(['ip@1']);
    registry.channelClosed(b);
    expect(registry.hasConsumerGroup('G')).toBe(false);
    registry.shutdown();
  });
});
