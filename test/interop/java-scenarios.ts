/**
 * Runs the Java interop scenarios (test/interop/java, io.ferrymq.interop.Scenarios) against a name
 * server and parses their report lines:
 *   SCENARIO <name> PASS <ms> | SCENARIO <name> FAIL <ms> <reason> | NOTE <name> <text>
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/common.js';
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
  'retry-and-dlq',
  'orderly-failure-moves-on',
  'delay-level',
  'tag-filter',
  'resume-after-restart',
  'transaction',
  'sql-filter-rejected',
] as const;

/**
 * Run in a second JVM with binary headers (rocketmq.serialize.type=ROCKETMQ) and the client's
 * default 20 s rebalance interval (the first JVM rebalances every second to be quick).
 */
export const BINARY_SCENARIOS = ['serialize-rocketmq', 'rebalance-on-notify'] as const;

/** How the second JVM runs: see BINARY_SCENARIOS. */
export const SECOND_JVM = {
  serialize: 'ROCKETMQ',
  sysProps: { 'rocketmq.client.rebalance.waitInterval': '20000' },
} as const;

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
  /** Distinct broker answers the Java client logged as errors ("CODE: 24 DESC: ..."), with counts. */
  brokerErrors: string[];
}

/** Counts the distinct `CODE: n DESC: ...` answers and failed responses in the Java client's log. */
export function summarizeClientLog(log: string): string[] {
  const counts = new Map<string, number>();
  const pattern = /(CODE: \d+\s+DESC: [^\n]*?)(?: BROKER: \S+)?(?:\n|$)|(getResponseCommand failed, [^\n]*)/g;
  for (const match of log.matchAll(pattern)) {
    // Fresh topic and group names differ per run; fold them so identical answers group together.
    const line = (match[1] ?? match[2]!).replace(/_[0-9a-f]{10}\b/g, '_*');
    counts.set(line, (counts.get(line) ?? 0) + 1);
  }
  return [...counts].sort((x, y) => y[1] - x[1]).map(([line, n]) => `${n}x ${line}`);
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
  {
    serialize,
    sysProps = {},
    timeoutMs = 240_000,
  }: { serialize?: 'ROCKETMQ'; sysProps?: Record<string, string>; timeoutMs?: number } = {},
): Promise<ScenarioRun> {
  const args = [nameSrv, ...(serialize ? ['--serialize', serialize] : []), ...scenarios];
  const home = await tempDir('ferrymq-java-');
  try {
    const raw = await runJavaKit('io.ferrymq.interop.Scenarios', args, { timeoutMs, home: home.path, sysProps });
    const logFile = join(home.path, 'logs/rocketmqlogs/rocketmq_client.log');
    const brokerErrors = existsSync(logFile) ? summarizeClientLog(readFileSync(logFile, 'utf8')) : [];
    return { results: parseScenarioOutput(raw.stdout), raw, brokerErrors };
  } finally {
    await home.cleanup();
  }
}

/** One line per run for the test log: each scenario's outcome and time. */
export function summarize(run: ScenarioRun): string {
  return [...run.results.values()].map((r) => `${r.name} ${r.passed ? 'ok' : 'FAIL'} ${(r.ms / 1000).toFixed(1)}s`).join(', ');
}

/** A failure message with the scenario's reason and the tail of the JVM's stderr. */
export function describeFailure(run: ScenarioRun, name: string): string {
  const result = run.results.get(name);
  const stderrTail = run.raw.stderr.split('\n').slice(-20).join('\n');
  const errors = run.brokerErrors.length ? `\nerrors the Java client logged in this run:\n  ${run.brokerErrors.slice(0, 15).join('\n  ')}` : '';
  if (!result) return `scenario ${name} reported nothing (exit ${run.raw.code})${errors}\n${stderrTail}`;
  return `scenario ${name} failed: ${result.reason}${errors}`;
}

export interface ProbeRun {
  /** Probe name → its deterministic answer line ("code=0 offset=6 ..."). */
  answers: Map<string, string>;
  /** Probe name → the broker's remark (free text). */
  remarks: Map<string, string>;
  raw: JavaRunResult;
}

/** Runs io.ferrymq.interop.Probes (raw requests built with the Java client's classes). */
export async function runProbes(nameSrv: string, timeoutMs = 120_000): Promise<ProbeRun> {
  const raw = await runJavaKit('io.ferrymq.interop.Probes', [nameSrv], { timeoutMs });
  const answers = new Map<string, string>();
  const remarks = new Map<string, string>();
  for (const line of raw.stdout.split('\n')) {
    const probe = /^PROBE (\S+) (.*)$/.exec(line);
    if (probe) answers.set(probe[1]!, probe[2]!);
    const remark = /^REMARK (\S+) (.*)$/.exec(line);
    if (remark) remarks.set(remark[1]!, remark[2]!);
  }
  return { answers, remarks, raw };
}

/**
 * The open differences recorded in docs/compatibility.md: table rows whose first cell is
 * `probe:<name>` or `scenario:<name>`. Tests expect exactly these to differ, so the document
 * stays true both ways (a fixed difference must leave the table).
 */
export function knownDifferences(markdown: string): { probes: Set<string>; scenarios: Set<string> } {
  const probes = new Set<string>();
  const scenarios = new Set<string>();
  for (const match of markdown.matchAll(/^\| `(probe|scenario):([a-z0-9A-Z_-]+)`/gm)) {
    (match[1] === 'probe' ? probes : scenarios).add(match[2]!);
  }
  return { probes, scenarios };
}
