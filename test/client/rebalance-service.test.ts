/**
 * Rebalance on notify: a notification during a run queues another run (that run may have read the
 * member list before the change), and members joining a group at once end with disjoint queues.
 */
import { afterEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { PullConsumer } from '../../client/index.js';
import { RebalanceService } from '../../client/rebalance-service.js';
import { systemClock } from '../../storage/clock.js';
import { createTopic, startBroker, type TestBroker } from '../helpers/broker.js';
import { uniqueName, waitFor } from '../helpers/common.js';

describe('RebalanceService', () => {
  it('runs once more after a run in progress when notified during it, and coalesces notifications before a run starts', async () => {
    let runs = 0;
    let release: () => void = () => undefined;
    const service = new RebalanceService(
      60_000,
      async () => {
        runs += 1;
        await new Promise<void>((resolve) => (release = resolve));
      },
      systemClock,
      pino({ level: 'silent' }),
    );
    const first = service.rebalanceNow();
    await waitFor(() => runs === 1, { what: 'first run started' });
    // Three notifications while the first run is in progress: one more run, after it.
    const second = service.rebalanceNow();
    expect(service.rebalanceNow()).toBe(second);
    expect(service.rebalanceNow()).toBe(second);
    release();
    await first;
    await waitFor(() => runs === 2, { what: 'second run started' });
    release();
    await second;
    expect(runs).toBe(2);
    await service.shutdown();
  });
});

describe('members joining at once', () => {
  let broker: TestBroker | undefined;
  const consumers: PullConsumer[] = [];
  afterEach(async () => {
    for (const c of consumers.splice(0)) await c.shutdown();
    await broker?.stop();
  });

  it('end with disjoint queues that cover the topic, without waiting for the periodic rebalance', async () => {
    broker = await startBroker();
    const topic = uniqueName('join');
    createTopic(broker, topic, 100);
    const group = uniqueName('g');
    const nameServer = broker.nameSrv;
    await Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        const c = new PullConsumer({ nameServer, group, instanceName: `join-${i}`, rebalanceIntervalMs: 60_000, heartbeatIntervalMs: 500 });
        consumers.push(c);
        await c.start();
        await c.subscribe(topic);
      }),
    );
    const owned = () => consumers.flatMap((c) => c.assignment().map((mq) => mq.queueId));
    await waitFor(() => owned().length === 100 && new Set(owned()).size === 100 && consumers.every((c) => c.assignment().length === 25), {
      what: 'four members owning 25 distinct queues each',
      timeoutMs: 10_000,
    });
  });
});
