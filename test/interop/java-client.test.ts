/**
 * The reference Java client (Apache RocketMQ rocketmq-client 4.9.8) against FerryMQ: the same
 * scenarios java-client-rocketmq.test.ts runs against Apache RocketMQ, against a FerryMQ broker
 * started in-process on port 0. Skips only when `java` or `mvn` is missing.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { buildJavaKit, javaToolchainMissing } from '../helpers/rocketmq.js';
import {
  BINARY_SCENARIOS,
  describeFailure,
  JSON_SCENARIOS,
  knownDifferences,
  runScenarios,
  SECOND_JVM,
  summarize,
  type ScenarioRun,
} from './java-scenarios.js';

const compatibilityDoc = new URL('../../docs/compatibility.md', import.meta.url);
/** Scenarios docs/compatibility.md lists as failing on FerryMQ: they must still fail. */
const knownFailures = knownDifferences(readFileSync(compatibilityDoc, 'utf8')).scenarios;

const missing = javaToolchainMissing();
if (missing) console.warn(`Java interop against FerryMQ skipped: ${missing}`);

describe.skipIf(missing !== null)('Java client 4.9.8 against FerryMQ', () => {
  let broker: TestBroker | undefined;
  let jsonRun: ScenarioRun;
  let binaryRun: ScenarioRun;

  beforeAll(async () => {
    buildJavaKit();
    broker = await startBroker();
    jsonRun = await runScenarios(broker.nameSrv, JSON_SCENARIOS);
    binaryRun = await runScenarios(broker.nameSrv, BINARY_SCENARIOS, SECOND_JVM);
    console.info(`Java scenarios on FerryMQ: ${summarize(jsonRun)}, ${summarize(binaryRun)}`);
  }, 400_000);

  afterAll(async () => {
    await broker?.stop();
  });

  const expectOutcome = (run: ScenarioRun, name: string) => {
    if (knownFailures.has(name)) {
      expect(run.results.get(name)?.passed, `${name} now passes: delete its row from docs/compatibility.md`).toBe(false);
    } else {
      expect(run.results.get(name)?.passed, describeFailure(run, name)).toBe(true);
    }
  };

  for (const name of JSON_SCENARIOS) {
    it(knownFailures.has(name) ? `${name} (known difference, see docs/compatibility.md)` : name, () => expectOutcome(jsonRun, name));
  }

  for (const name of BINARY_SCENARIOS) {
    it(`${name} (binary headers, default rebalance interval)`, () => expectOutcome(binaryRun, name));
  }

  it('VIP channel (broker port - 2): served, or the docs tell users to set vipChannelEnabled=false', () => {
    const notes = jsonRun.results.get('vip-channel')?.notes.join(' ') ?? '';
    expect(notes).toMatch(/vipChannel=(served|not-served)/);
    if (notes.includes('vipChannel=not-served')) {
      const guide = readFileSync(new URL('../../docs/java-client.md', import.meta.url), 'utf8');
      expect(guide).toContain('setVipChannelEnabled(false)');
    }
  });
});
