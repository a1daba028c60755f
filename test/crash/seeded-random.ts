// The crash kit replays the same kill moments for the same seed with the generator the
// crash-simulating FileIO already uses.
export { seededRandom } from '../../storage/crash-sim-file-io.js';

/** An integer in [min, max]. */
export function randomInt(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}
