/**
 * Reads V8 `.cpuprofile` files (written by `node --cpu-prof`) and ranks functions by self time.
 * A profile is a call tree of nodes with a `hitCount` each; a node's self time is its share of
 * all samples. Nodes of one function (same name, file and line) are summed.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

export interface HotFrame {
  name: string;
  location: string;
  /** Share of the busy samples (everything but `(idle)`). */
  percent: number;
  /** The caller that accounts for most of this frame's samples. */
  topCaller: string;
}

export interface ProcessProfile {
  /** Share of all samples the event loop was idle. */
  idlePercent: number;
  frames: HotFrame[];
  /** Self time summed per source file (native frames and GC under their own names), hottest first. */
  files: { file: string; percent: number }[];
}

/** Which bucket a frame's self time goes to in the per-file view. */
function fileOf(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const path = url.startsWith('file://') ? relative(process.cwd(), new URL(url).pathname) : url;
  return path.replace(/^bench\/results\/build\//, '');
}

function location(url: string, line: number): string {
  if (!url) return '';
  const path = url.startsWith('file://') ? relative(process.cwd(), new URL(url).pathname) : url;
  return line > 0 ? `${path}:${line + 1}` : path;
}

function frameName(node: ProfileNode): string {
  return node.callFrame.functionName || '(anonymous)';
}

/** The hottest `limit` functions by self time over the given profiles (summed), and the idle share. */
export function hotFrames(files: readonly string[], limit: number): ProcessProfile {
  const byFunction = new Map<string, { name: string; location: string; hits: number; callers: Map<string, number> }>();
  const byFile = new Map<string, number>();
  let busy = 0;
  let idle = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[] };
    const parentOf = new Map<number, ProfileNode>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node);
    for (const node of profile.nodes) {
      const hits = node.hitCount ?? 0;
      if (hits === 0) continue;
      const name = frameName(node);
      if (name === '(idle)') {
        idle += hits;
        continue;
      }
      busy += hits;
      byFile.set(fileOf(node), (byFile.get(fileOf(node)) ?? 0) + hits);
      const where = location(node.callFrame.url, node.callFrame.lineNumber);
      const key = `${name}@${where}`;
      const entry = byFunction.get(key) ?? { name, location: where, hits: 0, callers: new Map<string, number>() };
      entry.hits += hits;
      const parent = parentOf.get(node.id);
      const caller = parent ? `${frameName(parent)} ${location(parent.callFrame.url, parent.callFrame.lineNumber)}`.trim() : '';
      entry.callers.set(caller, (entry.callers.get(caller) ?? 0) + hits);
      byFunction.set(key, entry);
    }
  }
  const frames = [...byFunction.values()]
    .sort((a, b) => b.hits - a.hits)
    .slice(0, limit)
    .map((f) => ({
      name: f.name,
      location: f.location,
      percent: busy ? (100 * f.hits) / busy : 0,
      topCaller: [...f.callers.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '',
    }));
  const hotFiles = [...byFile.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([file, hits]) => ({ file, percent: busy ? (100 * hits) / busy : 0 }));
  return { idlePercent: busy + idle ? (100 * idle) / (busy + idle) : 0, frames, files: hotFiles };
}

/** Per subdirectory of `dir` (broker, producer, consumer): the hottest frames of its profiles. */
export function summarizeProfiles(dir: string, limit: number): Record<string, ProcessProfile> {
  const out: Record<string, ProcessProfile> = {};
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const sub = join(dir, entry.name);
    const files = readdirSync(sub).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(sub, f));
    if (files.length > 0) out[entry.name] = hotFrames(files, limit);
  }
  return out;
}
