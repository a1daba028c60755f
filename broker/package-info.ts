/**
 * The ferrymq package's directory and version, from the first package.json named ferrymq above this
 * file: the repository root when running from sources, the installed package's root from dist/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let found: { root: string; version: string } | null | undefined;

function find(): { root: string; version: string } | null {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'ferrymq') return { root: dir, version: pkg.version ?? 'unknown' };
    }
    if (dirname(dir) === dir) return null;
  }
}

/** The package's root directory; throws when no ferrymq package.json is above this file. */
export function packageRoot(): string {
  found ??= find();
  if (!found) throw new Error(`no ferrymq package.json above ${fileURLToPath(import.meta.url)}`);
  return found.root;
}

/** `version` of the ferrymq package.json, or 'unknown' without one. */
export function ferrymqVersion(): string {
  found ??= find();
  return found?.version ?? 'unknown';
}
