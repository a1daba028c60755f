/**
 * Group commit for directory fsyncs: many queues created at once in one topic directory share a
 * few fsyncs instead of one each. A caller's promise settles with an fsync that started after the
 * call, so every entry created before the call is durable when it resolves.
 */
import type { FileIO } from './file-io.js';

interface Round {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function newRound(): Round {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export class DirectorySyncer {
  /** Per directory: the round that starts after the running one (if any callers wait for it). */
  private readonly dirs = new Map<string, { next: Round | undefined }>();

  constructor(private readonly io: FileIO) {}

  sync(dir: string): Promise<void> {
    let state = this.dirs.get(dir);
    const idle = !state;
    if (!state) this.dirs.set(dir, (state = { next: undefined }));
    state.next ??= newRound();
    const round = state.next;
    if (idle) void this.run(dir, state);
    return round.promise;
  }

  private async run(dir: string, state: { next: Round | undefined }): Promise<void> {
    while (state.next) {
      const round = state.next;
      state.next = undefined;
      try {
        await this.io.fsyncDir(dir);
        round.resolve();
      } catch (err) {
        round.reject(err);
      }
    }
    this.dirs.delete(dir);
  }
}
