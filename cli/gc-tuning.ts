/**
 * V8 garbage-collector tuning for the broker process. Applied by `ferrymq start` only: an
 * application that embeds `BrokerServer` keeps its own process settings.
 *
 * The broker's live heap is small (about 10 MB at 5,000 msg/s). With a heap that small, V8's
 * default rule starts marking for a full mark-compact as soon as less than one new-space capacity
 * is left below the old-generation limit, which it was after nearly every scavenge: at 5,000 msg/s
 * the broker ran a mark-compact every 400-450 ms, and each stopped the event loop for 5-15 ms
 * (atomic pause, incremental steps, weak callbacks), which set the latency p99. With these flags
 * V8 starts marking once the old generation has grown 80 % of the way from its size after the
 * last collection to the limit (by a task), or 95 % (at once): about 9 mark-compacts in 12 s instead
 * of 27-30; at 5k msg/s the p99 went from 10.1 to 7.6 ms (ASYNC_FLUSH) and 12.3 to 10.6 ms
 * (SYNC_FLUSH), medians of 3 alternating runs, with the peak RSS of the 200k-message backlog
 * unchanged. V8 reads both flags at every collection, so setting them after
 * start-up takes effect.
 */
import v8 from 'node:v8';

export const BROKER_V8_FLAGS: readonly string[] = ['--incremental-marking-soft-trigger=80', '--incremental-marking-hard-trigger=95'];

export function applyBrokerGcTuning(setFlags: (flag: string) => void = v8.setFlagsFromString): void {
  for (const flag of BROKER_V8_FLAGS) setFlags(flag);
}
