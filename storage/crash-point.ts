/**
 * Named crash points for the crash-recovery kit: `crashPoint('segment-roll')` kills the process with
 * SIGKILL when FERRYMQ_CRASH_POINT is `segment-roll` (or `segment-roll:3` for the third hit).
 * Without the variable it is a single comparison.
 */

const spec = process.env.FERRYMQ_CRASH_POINT ?? '';
const separator = spec.lastIndexOf(':');
const armedName = separator > 0 && /^\d+$/.test(spec.slice(separator + 1)) ? spec.slice(0, separator) : spec;
const armedHit = armedName === spec ? 1 : Number(spec.slice(separator + 1));
let hits = 0;

export function crashPointArmed(name: string): boolean {
  return armedName !== '' && armedName === name;
}

export function crashPoint(name: string): void {
  if (armedName === '' || armedName !== name) return;
  hits += 1;
  if (hits >= armedHit) process.kill(process.pid, 'SIGKILL');
}
