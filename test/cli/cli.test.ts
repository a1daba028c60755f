/**
 * Every `ferrymq` command as a child process against a real broker on port 0, with `--json` output
 * asserted, plus the bad-argument exit codes. The CLI is compiled once (as `npm run build` would)
 * so each of the ~50 runs starts in a fraction of a second; without a build it runs through tsx.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../client/admin.js';
import { ConsumeStatus, Producer, PushConsumer, type ReceivedMessage } from '../../client/index.js';
import { startBroker, type TestBroker } from '../helpers/broker.js';
import { tempDir, uniqueName, waitFor } from '../helpers/common.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

let broker: TestBroker;
let admin: AdminClient;
/** Inside the repo, so the compiled files resolve node_modules and package.json as dist/ does. */
const buildDir = join(repoRoot, 'node_modules/.cache/ferrymq-cli-test');
let entry: string[] = ['--import', 'tsx', join(repoRoot, 'cli/index.ts')];

function buildCli(): void {
  rmSync(buildDir, { recursive: true, force: true });
  try {
    execFileSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', join(repoRoot, 'tsconfig.build.json'), '--outDir', buildDir], { stdio: 'ignore', timeout: 120_000 });
  } catch {
    // Type errors elsewhere still emit JavaScript; a missing entry point falls back to tsx.
  }
  if (existsSync(join(buildDir, 'cli/index.js'))) entry = [join(buildDir, 'cli/index.js')];
}

function cli(args: string[], options: { timeoutMs?: number; input?: string; nodeArgs?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolveRun) => {
    const child = execFile(
      process.execPath,
      [...(options.nodeArgs ?? []), ...entry, ...args],
      { cwd: repoRoot, env: { ...process.env, FERRYMQ_BROKER: broker.address, ...options.env }, timeout: options.timeoutMs ?? 30_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolveRun({ code, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

async function cliJson<T>(args: string[]): Promise<T> {
  const result = await cli([...args, '--json']);
  expect(result.stderr, `stderr of ferrymq ${args.join(' ')}`).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as T;
}

beforeAll(async () => {
  buildCli();
  broker = await startBroker();
  admin = new AdminClient({ address: broker.address });
});
afterAll(async () => {
  admin?.close();
  await broker?.stop();
  rmSync(buildDir, { recursive: true, force: true });
});

describe('topics, send, message lookup', () => {
  it('creates, lists, describes and deletes a topic', async () => {
    const topic = uniqueName('T');
    expect(await cliJson(['topic', 'create', topic, '--queues', '2'])).toEqual({ topic, queues: 2, perm: 'rw', order: false });
    const sent = await cliJson<{ msgId: string; queueId: number; queueOffset: number; status: string }[]>(['send', '--topic', topic, '--count', '3', 'hi']);
    expect(sent).toHaveLength(3);
    expect(sent.every((s) => s.status === 'SEND_OK' && /^[0-9A-F]{32}$/.test(s.msgId))).toBe(true);
    const listed = await cliJson<{ topic: string; queues: number; messages: number }[]>(['topic', 'list']);
    expect(listed.find((t) => t.topic === topic)).toMatchObject({ topic, queues: 2, perm: 'rw', messages: 3 });
    const described = await cliJson<{ queues: { queueId: number; minOffset: number; maxOffset: number; lastStored?: string }[] }>(['topic', 'describe', topic]);
    expect(described.queues.map((q) => q.queueId)).toEqual([0, 1]);
    expect(described.queues.reduce((s, q) => s + q.maxOffset, 0)).toBe(3);
    expect(described.queues.filter((q) => q.maxOffset > 0).every((q) => q.lastStored && Date.parse(q.lastStored) > 0)).toBe(true);
    expect(await cliJson(['topic', 'delete', topic])).toEqual({ topic, deleted: true });
    expect((await cli(['topic', 'describe', topic])).code).toBe(2);
  });

  it('sends with tag, keys and a stdin body; gets it by msgId and finds it by key', async () => {
    const topic = uniqueName('T');
    await admin.createTopic(topic, { queueNums: 1 });
    const result = await cli(['send', '--topic', topic, '--tag', 'TagA', '--key', 'order-1', '--key', 'order-2', '--json', '-'], { input: 'from stdin' });
    expect(result.code).toBe(0);
    const [sent] = JSON.parse(result.stdout) as { msgId: string }[];
    const got = await cliJson<{ msgId: string; topic: string; tags: string; keys: string[]; body: string; queueOffset: number }>(['message', 'get', sent!.msgId]);
    expect(got).toMatchObject({ msgId: sent!.msgId, topic, tags: 'TagA', keys: ['order-1', 'order-2'], body: 'from stdin', queueOffset: 0 });
    const found = await cliJson<{ msgId: string }[]>(['message', 'query', '--topic', topic, '--key', 'order-2']);
    expect(found.map((m) => m.msgId)).toEqual([sent!.msgId]);
    expect(await cliJson(['message', 'query', '--topic', topic, '--key', 'nothing'])).toEqual([]);
  });

  it('sends generated bodies of --size bytes', async () => {
    const topic = uniqueName('T');
    await admin.createTopic(topic, { queueNums: 1 });
    const [sent] = await cliJson<{ msgId: string }[]>(['send', '--topic', topic, '--size', '100']);
    expect((await admin.viewMessage(sent!.msgId))?.body.length).toBe(100);
  });
});

describe('consume, groups and offsets', () => {
  it('consumes in clustering mode, then shows the group caught up', async () => {
    const topic = uniqueName('T');
    const group = uniqueName('G');
    await admin.createTopic(topic, { queueNums: 2 });
    await cliJson(['send', '--topic', topic, '--count', '4', 'm']);
    const result = await cli(['consume', '--topic', topic, '--group', group, '--from', 'first', '--max', '4', '--json']);
    expect(result.code).toBe(0);
    const messages = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as { topic: string; body: string });
    expect(messages).toHaveLength(4);
    expect(messages.every((m) => m.topic === topic && m.body === 'm')).toBe(true);
    const report = await cliJson<{ group: string; online: boolean; totalLag: number; queues: { topic: string; lag: number; consumerOffset: number }[] }>(['group', 'describe', group]);
    expect(report.online).toBe(false);
    expect(report.totalLag).toBe(0);
    expect(report.queues.filter((q) => q.topic === topic).reduce((s, q) => s + q.consumerOffset, 0)).toBe(4);
    const groups = await cliJson<{ group: string; lag: number }[]>(['group', 'list']);
    expect(groups.find((g) => g.group === group)).toMatchObject({ group, lag: 0 });
  });

  it('consumes in broadcasting mode with a tag filter (offsets in --offset-dir)', async () => {
    const topic = uniqueName('T');
    const group = uniqueName('G');
    const dir = await tempDir();
    try {
      await admin.createTopic(topic, { queueNums: 1 });
      await cli(['send', '--topic', topic, '--tag', 'A', 'a1']);
      await cli(['send', '--topic', topic, '--tag', 'B', 'b1']);
      await cli(['send', '--topic', topic, '--tag', 'A', 'a2']);
      const args = ['consume', '--topic', topic, '--group', group, '--broadcast', '--tag', 'A', '--from', 'first', '--offset-dir', dir.path, '--json'];
      const first = await cli([...args, '--max', '2']);
      expect(first.code).toBe(0);
      expect(first.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { body: string }).body)).toEqual(['a1', 'a2']);
      // The local offset file remembers the position: nothing new, so an idle exit with no output.
      const again = await cli([...args, '--idle-ms', '1500']);
      expect(again.code).toBe(0);
      expect(again.stdout).toBe('');
    } finally {
      await dir.cleanup();
    }
  });

  it('shows per-queue owners and the skew summary of a running group (idle consumers included)', async () => {
    const topic = uniqueName('T');
    const group = uniqueName('G');
    await admin.createTopic(topic, { queueNums: 1 });
    await cli(['send', '--topic', topic, '--count', '3', 'x']);
    const consumers = [0, 1].map((i) => new PushConsumer({ nameServer: broker.nameSrv, group, instanceName: `c${i}`, consumeFromWhere: 'LAST_OFFSET', rebalanceIntervalMs: 500 }));
    for (const c of consumers) await c.subscribe(topic, '*').start(async () => ConsumeStatus.SUCCESS);
    try {
      const report = await waitFor(async () => {
        const r = await cliJson<{ online: boolean; queues: { topic: string; owner?: string }[]; consumers: { clientId: string; queues: number }[]; idleConsumers: string[] }>(['group', 'describe', group]);
        return r.consumers.length === 2 && r.queues.some((q) => q.topic === topic) ? r : undefined;
      }, { timeoutMs: 20_000, what: 'two consumers and the topic in group describe' });
      const ids = consumers.map((c) => c.clientId).sort();
      const row = report!.queues.find((q) => q.topic === topic)!;
      // AVG over sorted ids: the first client owns the single queue, the second is idle.
      expect(row.owner).toBe(ids[0]);
      expect(report!.idleConsumers).toContain(ids[1]);
    } finally {
      for (const c of consumers) await c.shutdown();
    }
  });

  it('resets by time: the lag is exactly the number of messages stored at or after it', async () => {
    const topic = uniqueName('T');
    const group = uniqueName('G');
    await admin.createTopic(topic, { queueNums: 2 });
    await cli(['consume', '--topic', topic, '--group', group, '--idle-ms', '300']);
    const early = await cliJson<{ msgId: string }[]>(['send', '--topic', topic, '--count', '5', 'early']);
    await new Promise((r) => setTimeout(r, 20));
    const late = await cliJson<{ msgId: string }[]>(['send', '--topic', topic, '--count', '7', 'late']);
    const pivot = (await admin.viewMessage(late[0]!.msgId))!.storeTimestamp;
    const times = await Promise.all([...early, ...late].map(async (m) => (await admin.viewMessage(m.msgId))!.storeTimestamp));
    const expected = times.filter((t) => t >= pivot).length;
    const reset = await cliJson<{ queues: { lag: number }[] }>(['offset', 'reset', '--group', group, '--topic', topic, '--to', `@${pivot}`]);
    expect(reset.queues.reduce((s, q) => s + q.lag, 0)).toBe(expected);
    const report = await cliJson<{ queues: { topic: string; lag: number }[] }>(['group', 'describe', group]);
    expect(report.queues.filter((q) => q.topic === topic).reduce((s, q) => s + q.lag, 0)).toBe(expected);
    // An ISO time one millisecond later drops exactly the messages stored in the pivot millisecond.
    const next = await cliJson<{ queues: { lag: number }[] }>(['offset', 'reset', '--group', group, '--topic', topic, '--to', new Date(pivot + 1).toISOString()]);
    expect(next.queues.reduce((s, q) => s + q.lag, 0)).toBe(times.filter((t) => t > pivot).length);
    const latest = await cliJson<{ queues: { lag: number }[] }>(['offset', 'reset', '--group', group, '--topic', topic, '--to', 'latest']);
    expect(latest.queues.every((q) => q.lag === 0)).toBe(true);
  });

  it('resets while a consumer runs: it receives everything again from the new position', async () => {
    const topic = uniqueName('T');
    const group = uniqueName('G');
    await admin.createTopic(topic, { queueNums: 2 });
    await cli(['send', '--topic', topic, '--count', '6', 'again']);
    const got: ReceivedMessage[] = [];
    const consumer = new PushConsumer({ nameServer: broker.nameSrv, group, consumeFromWhere: 'FIRST_OFFSET', persistOffsetIntervalMs: 200 });
    await consumer.subscribe(topic, '*').start(async (msgs) => void got.push(...msgs));
    try {
      await waitFor(() => got.length === 6, { what: 'first pass' });
      const reset = await cliJson<{ notifiedClients: number; queues: { offset: number }[] }>(['offset', 'reset', '--group', group, '--topic', topic, '--to', 'earliest']);
      expect(reset.notifiedClients).toBe(1);
      expect(reset.queues.every((q) => q.offset === 0)).toBe(true);
      await waitFor(() => got.length === 12, { what: 'second pass', timeoutMs: 15_000 });
      expect(got.slice(6).map((m) => m.msgId).sort()).toEqual(got.slice(0, 6).map((m) => m.msgId).sort());
    } finally {
      await consumer.shutdown();
    }
  });
});

describe('dead letters and status', () => {
  it('lists dead letters and resends them to the group', async () => {
    const topic = uniqueName('T');
    const group = uniqueName('G');
    await admin.createTopic(topic, { queueNums: 1 });
    const [sent] = await cliJson<{ msgId: string }[]>(['send', '--topic', topic, '--key', 'poison', 'bad']);
    let failing = true;
    const deliveries: ReceivedMessage[] = [];
    const consumer = new PushConsumer({ nameServer: broker.nameSrv, group, consumeFromWhere: 'FIRST_OFFSET', maxReconsumeTimes: 0, rebalanceIntervalMs: 500 });
    await consumer.subscribe(topic, '*').start(async (msgs) => {
      deliveries.push(...msgs);
      return failing ? ConsumeStatus.RECONSUME_LATER : ConsumeStatus.SUCCESS;
    });
    try {
      const dlq = await waitFor(async () => {
        const listed = await cliJson<{ total: number; messages: { msgId: string; topic: string; originMsgId: string; resent: boolean; body: string; keys: string }[] }>(['dlq', 'list', '--group', group]);
        return listed.total === 1 ? listed : undefined;
      }, { timeoutMs: 15_000, what: 'the message in the DLQ' });
      const dead = dlq!.messages[0]!;
      expect(dead).toMatchObject({ topic, originMsgId: sent!.msgId, resent: false, body: 'bad', keys: 'poison' });

      failing = false;
      const resent = await cliJson<{ resent: { dlqMsgId: string; topic: string }[] }>(['dlq', 'resend', '--group', group, '--all']);
      expect(resent.resent).toEqual([expect.objectContaining({ dlqMsgId: dead.msgId, topic })]);
      await waitFor(() => deliveries.length === 2, { timeoutMs: 20_000, what: 'the resent message delivered' });
      expect(deliveries[1]).toMatchObject({ topic, body: Buffer.from('bad') });
      const after = await cliJson<{ messages: { resent: boolean }[] }>(['dlq', 'list', '--group', group]);
      expect(after.messages[0]!.resent).toBe(true);
      // --all only resends what was not resent yet; a msgId always works.
      expect((await cliJson<{ resent: unknown[] }>(['dlq', 'resend', '--group', group, '--all'])).resent).toEqual([]);
      expect((await cliJson<{ resent: unknown[] }>(['dlq', 'resend', '--group', group, '--msg-id', dead.msgId])).resent).toHaveLength(1);
      const notDead = await cli(['dlq', 'resend', '--group', group, '--msg-id', sent!.msgId]);
      expect(notDead.code).toBe(2);
      expect(notDead.stderr).toMatch(/is not a dead letter of group/);
    } finally {
      await consumer.shutdown();
    }
  });

  it('reports the broker status with rates', async () => {
    const topic = uniqueName('T');
    await admin.createTopic(topic, { queueNums: 1 });
    const producer = new Producer({ nameServer: broker.nameSrv, group: uniqueName('P') });
    await producer.start();
    let sending = true;
    const load = (async () => {
      while (sending) await producer.send({ topic, body: 'load' });
    })();
    let status: Record<string, unknown>;
    try {
      status = await cliJson<Record<string, unknown>>(['status', '--interval', '1000']);
    } finally {
      sending = false;
      await load;
      await producer.shutdown();
    }
    expect(status.produceRate as number).toBeGreaterThan(0);
    expect(status).toMatchObject({ broker: broker.address, brokerName: 'broker-a', flushMode: 'SYNC_FLUSH' });
    for (const key of ['uptimeMs', 'diskUsedRatio', 'storeBytes', 'topics', 'connections', 'messagesStored', 'produceRate', 'consumeRate']) {
      expect(typeof status[key], key).toBe('number');
    }
    expect(String(status.version)).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('bad arguments: one line on stderr, exit code 2', () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown topic', ['topic', 'describe', 'no_such_topic_x'], /unknown topic "no_such_topic_x"/],
    ['unknown topic on send', ['send', '--topic', 'no_such_topic_y', 'x'], /unknown topic "no_such_topic_y"/],
    ['malformed msgId', ['message', 'get', 'XYZ'], /malformed msgId "XYZ"/],
    ['negative count', ['send', '--topic', 'whatever', '--count', '-1', 'x'], /--count: must be between 1 and/],
    ['unparseable time', ['offset', 'reset', '--group', 'g', '--topic', 't', '--to', 'yesterday'], /--to: cannot parse "yesterday"/],
    ['impossible date', ['consume', '--topic', 't', '--group', 'g', '--from', '2026-02-31T00:00:00Z'], /--from: cannot parse/],
    ['unknown group', ['group', 'describe', 'no_such_group_z'], /unknown group "no_such_group_z"/],
    ['bad queue count', ['topic', 'create', 'x', '--queues', '0'], /--queues: must be between 1 and 1024/],
    ['bad topic name', ['topic', 'create', 'a/b'], /not a valid name/],
    ['bad broker address', ['status', '--broker', 'nohost'], /--broker: expected host:port/],
    ['zero benchmark runs', ['bench', '--runs', '0'], /--runs: must be at least 1, got 0/],
    ['zero crash cycles', ['crash-test', '--cycles', '0'], /--cycles: must be at least 1, got 0/],
    ['unknown command', ['frobnicate'], /Unknown argument|Unknown command|frobnicate/],
    ['missing option', ['offset', 'reset', '--group', 'g'], /Missing required argument/],
  ];
  it.each(cases)('%s', async (_what, args, message) => {
    const result = await cli(args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });

  it('an unreachable broker is a runtime failure: exit code 1', async () => {
    const result = await cli(['status', '--broker', '127.0.0.1:1', '--timeout', '1000']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/is a broker running at 127\.0\.0\.1:1/);
  });

  it('commands that start their own brokers leave the client options out of their help', async () => {
    for (const command of ['start', 'crash-test', 'bench']) {
      const result = await cli([command, '--help']);
      expect(result.code, command).toBe(0);
      expect(result.stdout, command).not.toMatch(/--broker\s|--timeout/);
    }
    expect((await cli(['status', '--help'])).stdout).toMatch(/--broker\s[\s\S]*--timeout/);
  });

  it('every command has --help', async () => {
    for (const command of [[], ['topic'], ['topic', 'create'], ['group', 'describe'], ['offset', 'reset'], ['send'], ['consume'], ['message', 'get'], ['dlq', 'resend'], ['status'], ['start']]) {
      const result = await cli([...command, '--help']);
      expect(result.code, command.join(' ')).toBe(0);
      expect(result.stdout).toMatch(/--help/);
    }
  });
});

describe('the compiled CLI in an install: no devDependency is loaded', () => {
  // As `npm install ferrymq` leaves it: ali-ons, typescript, tsx's loader and vitest are absent.
  const nodeArgs = ['-r', join(repoRoot, 'test/helpers/block-dev-dependencies.cjs')];

  it('loads and talks to the broker', async () => {
    expect(entry[0], 'the CLI must be compiled for this test').toBe(join(buildDir, 'cli/index.js'));
    const help = await cli(['--help'], { nodeArgs });
    expect(help.stderr).toBe('');
    expect(help.stdout).toMatch(/ferrymq bench/);
    const status = await cli(['status', '--json'], { nodeArgs });
    expect(status.stderr).toBe('');
    expect(JSON.parse(status.stdout)).toMatchObject({ broker: broker.address, brokerName: 'broker-a' });
  });

  it('bench says which package the ali-ons scenario needs, before it starts anything', async () => {
    const out = await tempDir();
    const result = await cli(['bench', '--brokers', 'ferrymq', '--runs', '1', '--scenarios', 'ali-ons', '--out', out.path], { nodeArgs });
    await out.cleanup();
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('ferrymq bench: the ali-ons scenario needs the npm package ali-ons (a development dependency of FerryMQ): run `npm install ali-ons` beside it\n');
    expect(result.stdout).toBe('');
  });

  it('bench keeps broker data under --data, and warns when that is in memory', async () => {
    const data = join('/dev/shm', uniqueName('ferrymq-bench-data'));
    const out = await tempDir();
    try {
      const result = await cli(['bench', '--brokers', 'ferrymq', '--flush', 'async', '--runs', '1', '--messages', '300', '--phases', 'batch', '--data', data, '--out', out.path], { nodeArgs, timeoutMs: 60_000 });
      expect(result.code, result.stderr).toBe(0);
      const options = JSON.parse(result.stdout.split('\n')[0]) as { type: string; dataDir: string; dataDirInMemory: string | false };
      expect(options).toMatchObject({ type: 'options', dataDir: data, dataDirInMemory: 'tmpfs' });
      expect(result.stderr).toContain(`warning: the data dir ${data} is on tmpfs (memory)`);
      expect(readdirSync(data)).toEqual([]);
    } finally {
      rmSync(data, { recursive: true, force: true });
      await out.cleanup();
    }
  });

  it('bench refuses a bad --broker-config before it starts anything', async () => {
    const out = await tempDir();
    try {
      const file = join(out.path, 'broker.json');
      writeFileSync(file, '{"prot": 1}');
      const result = await cli(['bench', '--brokers', 'ferrymq', '--runs', '1', '--broker-config', file, '--out', out.path], { nodeArgs });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(`ferrymq bench: --broker-config: unknown config key prot in file ${file}\n`);
      expect(result.stdout).toBe('');
    } finally {
      await out.cleanup();
    }
  });

  it('bench says that RocketMQ side by side needs java and mvn when they are not on PATH', async () => {
    const out = await tempDir();
    const result = await cli(['bench', '--brokers', 'ferrymq', 'rocketmq', '--runs', '1', '--out', out.path], { nodeArgs, env: { PATH: out.path } });
    await out.cleanup();
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^ferrymq bench: Apache RocketMQ side by side needs java and mvn on PATH: 'java' is not available .*; run with --brokers ferrymq to leave it out\n$/);
    expect(result.stdout).toBe('');
  });
});
