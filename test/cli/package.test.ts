/**
 * What `npm pack` ships: the files an install needs to run `ferrymq` (start, the admin commands,
 * bench side by side with Apache RocketMQ). Scripts are skipped, so this lists the build in dist/.
 */
import { execFileSync } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

it('the package holds the CLI, its build and the RocketMQ server pom that `ferrymq bench` runs Maven on', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const files = new Set((JSON.parse(out) as { files: { path: string }[] }[])[0].files.map((f) => f.path));
  for (const path of ['bin/ferrymq.cjs', 'dist/cli/index.js', 'dist/bench/run.js', 'dist/test/helpers/rocketmq.js', 'test/interop/java/rocketmq-server/pom.xml']) {
    expect(files.has(path), path).toBe(true);
  }
  // Sources and the Java interop kit stay out: an install runs dist/.
  expect([...files].filter((path) => path.endsWith('.ts') && !path.endsWith('.d.ts'))).toEqual([]);
  expect([...files].filter((path) => path.endsWith('.java'))).toEqual([]);
});
