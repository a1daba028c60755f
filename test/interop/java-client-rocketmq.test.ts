/**
 * The Java interop scenarios against a real Apache RocketMQ (startRocketMQ(), once for this file):
 * the reference answers FerryMQ is compared with. Then the probes (raw edge-case requests) against
 * both brokers, compared answer by answer with the differences docs/compatibility.md records.
 * Also checks the test kit itself (mqadmin, stop()). Skips only when `java` or `mvn` is missing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker } from '../helpers/broker.js';
import { buildJavaKit, javaToolchainMissing, mqadmin, startRocketMQ, type RocketMQ } from '../helpers/rocketmq.js';
import {
  BINARY_SCENARIOS,
  describeFailure,
  JSON_SCENARIOS,
  knownDifferences,
  runProbes,
  runScenarios,
  SECOND_JVM,
  summarize,
  type ScenarioRun,
} from './java-scenarios.js';

const missing = javaToolchainMissing();
if (missing) console.warn(`Java interop against Apache RocketMQ skipped: ${missing}`);

describe.skipIf(missing !== null)('Java client 4.9.8 against Apache RocketMQ', () => {
  let mq: RocketMQ | undefined;
  let jsonRun: ScenarioRun;
  let binaryRun: ScenarioRun;

  beforeAll(async () => {
    buildJavaKit();
    mq = await startRocketMQ();
    jsonRun = await runScenarios(mq.nameSrv, JSON_SCENARIOS);
    binaryRun = await runScenarios(mq.nameSrv, BINARY_SCENARIOS, SECOND_JVM);
    console.info(`Java scenarios on Apache RocketMQ: ${summarize(jsonRun)}, ${summarize(binaryRun)}`);
  }, 300_000);

  afterAll(async () => {
    await mq?.stop();
  }, 60_000);

  for (const name of JSON_SCENARIOS) {
    it(name, () => {
      expect(jsonRun.results.get(name)?.passed, describeFailure(jsonRun, name)).toBe(true);
    });
  }

  for (const name of BINARY_SCENARIOS) {
    it(`${name} (binary headers, default rebalance interval)`, () => {
      expect(binaryRun.results.get(name)?.passed, describeFailure(binaryRun, name)).toBe(true);
    });
  }

  it('serves the VIP channel (broker port - 2)', () => {
    expect(jsonRun.results.get('vip-channel')?.notes.join(' ')).toContain('vipChannel=served');
  });

  it('answers the probes like FerryMQ, apart from the differences docs/compatibility.md records', async () => {
    const ferry = await startBroker();
    try {
      const [apache, ours] = await Promise.all([runProbes(mq!.nameSrv), runProbes(ferry.nameSrv)]);
      expect(apache.raw.stdout, apache.raw.stderr).toContain('PROBES DONE');
      expect(ours.raw.stdout, ours.raw.stderr).toContain('PROBES DONE');
      expect([...ours.answers.keys()]).toEqual([...apache.answers.keys()]);
      const differing = [...apache.answers.keys()].filter((name) => apache.answers.get(name) !== ours.answers.get(name));
      const documented = knownDifferences(readFileSync(new URL('../../docs/compatibility.md', import.meta.url), 'utf8')).probes;
      const report = (names: string[]) =>
        names
          .map((n) => `${n}\n  Apache RocketMQ: ${apache.answers.get(n)} (${apache.remarks.get(n) ?? ''})\n  FerryMQ:         ${ours.answers.get(n)} (${ours.remarks.get(n) ?? ''})`)
          .join('\n');
      const undocumented = differing.filter((n) => !documented.has(n));
      const fixed = [...documented].filter((n) => !differing.includes(n));
      expect(undocumented, `differences missing from docs/compatibility.md:\n${report(undocumented)}`).toEqual([]);
      expect(fixed, `no longer different, delete these rows from docs/compatibility.md:\n${report(fixed)}`).toEqual([]);
    } finally {
      await ferry.stop();
    }
  }, 180_000);

  it('mqadmin (rocketmq-tools 4.9.8) works against it', async () => {
    const clusters = await mqadmin(['clusterList', '-n', mq!.nameSrv]);
    expect(clusters.code, clusters.stderr).toBe(0);
    expect(clusters.stdout).toContain(mq!.brokerAddr);
    expect(clusters.stdout).toContain(mq!.brokerName);
  }, 60_000);

  it('stop() ends both JVMs and removes the temp dir', async () => {
    const { pids, dir } = mq!;
    await mq!.stop();
    mq = undefined;
    for (const pid of [pids.nameSrv, pids.broker]) {
      expect(() => process.kill(pid, 0), `pid ${pid} still alive`).toThrow();
    }
    expect(existsSync(dir)).toBe(false);
  }, 60_000);
});
