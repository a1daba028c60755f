/**
 * The V8 flags `ferrymq start` sets for the broker process: set through the given setter, and
 * known to this Node's V8 (a flag V8 does not know is only reported on stdout, so a Node upgrade
 * that dropped one would otherwise pass unnoticed).
 */
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { applyBrokerGcTuning, BROKER_V8_FLAGS } from '../../cli/gc-tuning.js';

function setFlagsInChild(flags: readonly string[]): Promise<{ code: number; output: string }> {
  const script = "const v8 = require('node:v8'); for (const flag of JSON.parse(process.argv[1])) v8.setFlagsFromString(flag);";
  return new Promise((resolve) => {
    execFile(process.execPath, ['-e', script, JSON.stringify(flags)], (err, stdout, stderr) => {
      resolve({ code: err ? 1 : 0, output: stdout + stderr });
    });
  });
}

describe('broker GC tuning', () => {
  it('sets the incremental-marking triggers', () => {
    const set: string[] = [];
    applyBrokerGcTuning((flag) => set.push(flag));
    expect(set).toEqual([...BROKER_V8_FLAGS]);
    expect(set.some((flag) => flag.startsWith('--incremental-marking-soft-trigger='))).toBe(true);
    expect(set.some((flag) => flag.startsWith('--incremental-marking-hard-trigger='))).toBe(true);
  });

  it('uses flags this V8 knows (an unknown one is reported, not refused)', async () => {
    const known = await setFlagsInChild(BROKER_V8_FLAGS);
    expect(known).toEqual({ code: 0, output: '' });
    // The check itself: a flag V8 does not have is reported.
    const unknown = await setFlagsInChild(['--no-such-ferrymq-flag']);
    expect(unknown.output).toMatch(/unrecognized flag/);
  });
});
