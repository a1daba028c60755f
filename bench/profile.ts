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
}

export interface HotFrame {
  name: string;
  location: string;
  percent: number;
}

function location(url: string, line: number): string {
  if (!url) return '';
  const path = url.startsWith('file://') ? relative(process.cwd(), new URL(url).pathname) : url;
  return `${path}:${line + 1}`;
}

/** Top `limit` functions by self time over the given profiles (summed). */
export function hotFrames(files: readonly string[], limit: number): HotFrame[] {
  const byFunction = new Map<string, { name: string; location: string; hits: number }>();
  let total = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[] };
    for (const node of profile.nodes) {
      const hits = node.hitCount ?? 0;
      if (hits === 0) continue;
      total += hits;
      const { functionName, url, lineNumber } = node.callFrame;
      const name = functionName || '(anonymous)';
      const where = location(url, lineNumber);
      const key = `${name}@${where}`;
      const entry = byFunction.get(key) ?? { name, location: where, hits: 0 };
      entry.hits += hits;
      byFunction.set(key, entry);
    }
  }
  return [...byFunction.values()]
    .sort((a, b) => b.hits - a.hits)
    .slice(0, limit)
    .map((f) => ({ name: f.name, location: f.location, percent: total ? (100 * f.hits) / total : 0 }));
}

/** Per subdirectory of `dir` (broker, producer, consumer): the hottest frames of its profiles. */
export function summarizeProfiles(dir: string, limit: number): Record<string, HotFrame[]> {
  const out: Record<string, HotFrame[]> = {};
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const sub = join(dir, entry.name);
    const files = readdirSync(sub).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(sub, f));
    if (files.length > 0) out[entry.name] = hotFrames(files, limit);
  }
  return out;
}
