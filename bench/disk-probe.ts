/**
 * The disk's own floor for SYNC_FLUSH latency: the time of one 1 KiB write followed by fdatasync,
 * sampled back to back in a temp file on the filesystem the brokers' data dirs use. No broker can
 * acknowledge a synced message faster than this, so the summary prints it beside the latency figures.
 */
import { closeSync, fdatasyncSync, mkdirSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { quantile } from './workload.js';

export interface DiskSyncLatency {
  samples: number;
  p50: number;
  p99: number;
  max: number;
}

/** `samples` appends of `bytes` each with an fdatasync after each one; times in ms. */
export function probeDiskSync(samples = 400, bytes = 1024, dir = tmpdir()): DiskSyncLatency {
  const root = mkdtempSync(join(dir, 'ferrymq-disk-probe-'));
  const fd = openSync(join(root, 'probe'), 'w');
  const block = Buffer.alloc(bytes, 0x5a);
  const times: number[] = [];
  try {
    for (let i = 0, position = 0; i < samples; i++, position += bytes) {
      const started = process.hrtime.bigint();
      writeSync(fd, block, 0, bytes, position);
      fdatasyncSync(fd);
      times.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  } finally {
    closeSync(fd);
    rmSync(root, { recursive: true, force: true });
  }
  times.sort((a, b) => a - b);
  return { samples, p50: quantile(times, 0.5), p99: quantile(times, 0.99), max: times[times.length - 1] ?? 0 };
}

/** statfs(2) magic numbers of filesystems that keep files in memory. */
const MEMORY_FILESYSTEMS = new Map([
  [0x01021994, 'tmpfs'],
  [0x858458f6, 'ramfs'],
]);

/**
 * The name of the in-memory filesystem `dir` is on (tmpfs, ramfs), or undefined for any other:
 * fdatasync there returns at once, so SYNC_FLUSH figures measured on it say nothing about a disk.
 */
export function memoryFileSystemOf(dir: string): string | undefined {
  return MEMORY_FILESYSTEMS.get(statfsSync(dir).type);
}

/**
 * The directory a benchmark keeps its data in (`dir`, or the system temp dir), made if missing,
 * and a warning to print when it is in memory.
 */
export function benchDataRoot(dir: string | undefined): { root: string; memoryFs: string | undefined; warning: string | undefined } {
  const root = resolve(dir ?? tmpdir());
  mkdirSync(root, { recursive: true });
  const memoryFs = memoryFileSystemOf(root);
  const warning = memoryFs && `warning: the data dir ${root} is on ${memoryFs} (memory): fdatasync returns at once there, so SYNC_FLUSH figures measure no disk; pass --data on the disk you deploy on`;
  return { root, memoryFs, warning };
}
