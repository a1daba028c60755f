/**
 * Runs the Java interop scenarios (test/interop/java, io.ferrymq.interop.Scenarios) against a name
 * server and parses their report lines:
 *   SCENARIO <name> PASS <ms> | SCENARIO <name> FAIL <ms> <reason> | NOTE <name> <text>
 */
import { runJavaKit, type JavaRunResult } from '../helpers/rocketmq.js';

/** Scenarios run in one JVM with JSON headers (the client's default). */
export const JSON_SCENARIOS = [
  'send-sync-async-oneway',
  'properties-roundtrip',
  'batch-send',
  'selector-by-key',
  'view-and-query',
  'vip-channel',
  'push-clustering',
  'push-broadcasting',
  'orderly-and-locks',
  'lite-pull-assign-seek',
] as const;

/** Run in a second JVM started with rocketmq.serialize.type=ROCKETMQ (binary headers). */
export const BINARY_SCENARIOS = ['serialize-rocketmq'] as const;

export interface ScenarioResult {
  name: string;
  passed: boolean;
  ms: number;
  reason?: string;
  notes: string[];
}

export interface ScenarioRun {
  results: Map<string, ScenarioResult>;
  raw: JavaRunResult;
}

export function parseScenarioOutput(stdout: string): Map<string, ScenarioResult> {
  const results = new Map<string, ScenarioResult>();
  const notes = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    const note = /^NOTE (\S+) (.*)$/.exec(line);
    if (note) {
      notes.set(note[1]!, [...(notes.get(note[1]!) ?? []), note[2]!]);
      continue;
    }
    const outcome = /^SCENARIO (\S+) (PASS|FAIL) (\d+)(?: (.*))?$/.exec(line);
    if (outcome) {
      results.set(outcome[1]!, {
        name: outcome[1]!,
        passed: outcome[2] === 'PASS',
        ms: Number(outcome[3]),
        reason: outcome[4],
        notes: [],
      });
    }
  }
  for (const [name, list] of notes) {
    const result = results.get(name);
    if (result) result.notes = list;
  }
  return results;
}

export async function runScenarios(
  nameSrv: string,
  scenarios: readonly string[],
  { serialize, timeoutMs = 240_000 }: { serialize?: 'ROCKETMQ'; timeoutMs?: number } = {},
): Promise<ScenarioRun> {
  const args = [nameSrv, ...(serialize ? ['--serialize', serialize] : []), ...scenarios];
  const raw = await runJavaKit('io.ferrymq.interop.Scenarios', args, { timeoutMs });
  return { results: parseScenarioOutput(raw.stdout), raw };
}

/** A failure message with the scenario's reason and the tail of the JVM's stderr. */
export function describeFailure(run: ScenarioRun, name: string): string {
  const result = run.results.get(name);
  const stderrTail = run.raw.stderr.split('\n').slice(-40).join('\n');
  if (!result) return `scenario ${name} reported nothing (exit ${run.raw.code})\n${stderrTail}`;
  return `scenario ${name} failed: ${result.reason}\n${stderrTail}`;
}
