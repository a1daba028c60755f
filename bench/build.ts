/**
 * Compiles what the benchmark processes run (broker entry, producer and consumer) with tsc into
 * bench/results/build, as an install runs dist/. Running them through tsx instead would measure
 * tsx's transform too: it keeps function names with a `__name()` call per closure created, which
 * showed up at several percent of the consumer's CPU profile.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

export interface CompiledEntries {
  /** `node <child> producer|consumer <job>` */
  child: string;
  /** `node <broker> start ...` (ferrymq start only) */
  broker: string;
}

/** Compiles from sources; undefined when already running compiled code (then use these files as they are). */
export function compileBenchProcesses(log: (line: string) => void): CompiledEntries | undefined {
  if (!import.meta.url.endsWith('.ts')) return undefined;
  const out = join(here, 'results/build');
  // typescript's exports map hides bin/; its package.json is exported and sits beside it.
  const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin/tsc');
  const started = Date.now();
  const result = spawnSync(process.execPath, [tsc, '-p', join(here, 'tsconfig.json')], { encoding: 'utf8' });
  const entries = { child: join(out, 'bench/child.js'), broker: join(out, 'test/crash/broker-main.js') };
  // Type errors elsewhere in the tree still emit JavaScript; only missing output is fatal.
  if (!existsSync(entries.child) || !existsSync(entries.broker)) {
    throw new Error(`tsc -p bench/tsconfig.json produced no output:\n${result.stdout}\n${result.stderr}`);
  }
  if (result.status !== 0) log(`tsc reported type errors (compiled anyway):\n${result.stdout.split('\n').slice(0, 5).join('\n')}`);
  log(`compiled the benchmark processes in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return entries;
}
