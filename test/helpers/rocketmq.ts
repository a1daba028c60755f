/**
 * A real Apache RocketMQ (name server + one master broker) for tests and benchmarks, started from
 * the Maven Central jars, plus the small Java toolkit around it (Maven builds, mqadmin).
 *
 * Layout of one instance (all under a fresh temp dir, removed by stop()):
 *   home/conf/logback_*.xml   ROCKETMQ_HOME; the server reads its log config from here
 *   home/                     also user.home, so kvConfig.json and client logs stay inside
 *   store/                    broker store (commitlog, consumequeue, config)
 *   logs/                     namesrv.log, broker.log, *.out (stdout/stderr of each JVM)
 *
 * Version: rocketmq-namesrv and rocketmq-broker 4.9.8 were never published to Maven Central,
 * so the server is 4.9.7 (ROCKETMQ_SERVER_VERSION); the Java client in test/interop/java is 4.9.8.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../broker/package-info.js';

export const ROCKETMQ_SERVER_VERSION = '4.9.7';

/** The Maven projects sit in the package: the repository, or an install (`ferrymq bench` ships the server's pom). */
const repoRoot = packageRoot();
/** The Maven project with the interop scenarios, the golden-frame writer and mqadmin's classpath. */
const JAVA_KIT_DIR = join(repoRoot, 'test/interop/java');
const SERVER_POM_DIR = join(JAVA_KIT_DIR, 'rocketmq-server');

/**
 * JVM flags for RocketMQ 4.9.x on JDK 17: the store unmaps commit-log files through
 * DirectByteBuffer.cleaner() by reflection, which JDK 16+ refuses without these opens.
 */
const JDK17_OPENS = [
  '--add-opens=java.base/java.nio=ALL-UNNAMED',
  '--add-opens=java.base/sun.nio.ch=ALL-UNNAMED',
  '--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED',
  '--add-opens=java.base/java.lang=ALL-UNNAMED',
  '--add-opens=java.base/java.lang.reflect=ALL-UNNAMED',
  '--add-opens=java.base/java.util=ALL-UNNAMED',
];

export interface StartRocketMQOptions {
  flushDiskType?: 'SYNC_FLUSH' | 'ASYNC_FLUSH';
  /** Extra or overriding broker.conf entries, e.g. `{ defaultTopicQueueNums: '4' }`. */
  brokerConfig?: Record<string, string>;
  /** -Xms/-Xmx of the broker JVM (the name server gets 128m). Default '384m'. */
  brokerHeap?: string;
  /** How long to wait for the broker to register with the name server. Default 60 s. */
  startTimeoutMs?: number;
  /** Keep the temp dir after stop() (for post-mortems). */
  keepDir?: boolean;
  /** Where the instance's directory (home, store, logs) is made. Default: the system temp dir. */
  baseDir?: string;
}

export interface RocketMQ {
  /** `127.0.0.1:<port>` of the name server: what clients take as namesrvAddr. */
  nameSrv: string;
  /** `127.0.0.1:<listenPort>` of the broker. */
  brokerAddr: string;
  /** `127.0.0.1:<listenPort - 2>`: the "VIP channel" Java clients use for sends by default. */
  vipAddr: string;
  brokerName: string;
  clusterName: string;
  version: string;
  dir: string;
  storeDir: string;
  logDir: string;
  /** ROCKETMQ_HOME; also holds logback_tools.xml for mqadmin. */
  home: string;
  pids: { nameSrv: number; broker: number };
  stop(): Promise<void>;
}

/** Why the Java toolchain cannot be used, or null when `java` and `mvn` are both on PATH. */
export function javaToolchainMissing(): string | null {
  for (const [cmd, arg] of [['java', '-version'], ['mvn', '-v']] as const) {
    const probe = spawnSync(cmd, [arg], { stdio: 'ignore' });
    if (probe.error || probe.status !== 0) return `'${cmd}' is not available (${probe.error?.message ?? `exit ${probe.status}`})`;
  }
  return null;
}

/** Sleeps without yielding (the builds below are synchronous on purpose: they run once, first). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Runs `build` under a lock directory, so test files in parallel workers never run Maven in the
 * same project at once. A lock older than 10 minutes is taken to be left by a killed run.
 */
function withBuildLock(dir: string, build: () => void): void {
  const lock = join(dir, 'target', '.build-lock');
  mkdirSync(join(dir, 'target'), { recursive: true });
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 10 * 60_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for the Maven build lock ${lock}`);
      sleepSync(200);
    }
  }
  try {
    build();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function runMaven(dir: string, phase: string): void {
  // No -U: reuse ~/.m2 as it is; a first run downloads what is missing.
  const res = spawnSync('mvn', ['-q', '-B', phase], { cwd: dir, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (res.status !== 0) {
    throw new Error(`mvn ${phase} failed in ${dir} (exit ${res.status}):\n${res.stdout}\n${res.stderr}`);
  }
}

/** Latest modification time of a file, or of any file under a directory. */
function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestMtime(join(path, name))), stat.mtimeMs);
}

/**
 * Runs Maven unless its last successful run (a stamp in target/) is newer than every input.
 * Maven itself rewrites classpath.txt only when its content changes, so that file cannot tell.
 */
function buildOnce(dir: string, phase: string, inputs: string[]): void {
  const stamp = join(dir, 'target', '.built');
  const fresh = () => existsSync(stamp) && inputs.every((input) => newestMtime(input) < statSync(stamp).mtimeMs);
  if (fresh()) return;
  withBuildLock(dir, () => {
    if (fresh()) return; // another worker built it while we waited
    runMaven(dir, phase);
    writeFileSync(stamp, `${new Date().toISOString()}\n`);
  });
}

let serverClasspath: string | undefined;
/** Classpath of the RocketMQ name server and broker (runs Maven once, then reuses target/classpath.txt). */
export function rocketmqServerClasspath(): string {
  if (serverClasspath) return serverClasspath;
  const out = join(SERVER_POM_DIR, 'target/classpath.txt');
  buildOnce(SERVER_POM_DIR, 'validate', [join(SERVER_POM_DIR, 'pom.xml')]);
  serverClasspath = readFileSync(out, 'utf8').trim();
  return serverClasspath;
}

let javaKitClasspath: string | undefined;
/**
 * Compiles test/interop/java when its sources changed and returns its runtime classpath (own
 * classes first): rocketmq-client 4.9.8, rocketmq-tools 4.9.8 (mqadmin), the scenarios, the probes
 * and the golden-frame writer.
 */
export function buildJavaKit(): string {
  if (javaKitClasspath) return javaKitClasspath;
  const out = join(JAVA_KIT_DIR, 'target/classpath.txt');
  buildOnce(JAVA_KIT_DIR, 'process-classes', [join(JAVA_KIT_DIR, 'pom.xml'), join(JAVA_KIT_DIR, 'src')]);
  const deps = readFileSync(out, 'utf8').trim();
  javaKitClasspath = `${join(JAVA_KIT_DIR, 'target/classes')}:${deps}`;
  return javaKitClasspath;
}

async function canBind(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const server = createServer();
    server.once('error', () => resolvePort(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolvePort(true)));
  });
}

async function ephemeralPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A free port p whose neighbours p-2 (VIP channel) and p+1 (HA) are free too. */
async function brokerPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await ephemeralPort();
    if (port > 1026 && port < 65534 && (await canBind(port - 2)) && (await canBind(port + 1))) return port;
  }
  throw new Error('startRocketMQ: no free port with free neighbours p-2 and p+1');
}

function logbackConfig(file: string): string {
  return `<configuration>
  <appender name="FILE" class="ch.qos.logback.core.FileAppender">
    <file>${file}</file>
    <encoder><pattern>%d{HH:mm:ss.SSS} %-5p [%t] %c{0} - %m%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
`;
}

function readIfExists(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

function tail(text: string, lines = 30): string {
  return text.split('\n').slice(-lines).join('\n');
}

interface JavaProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  outFile: string;
}

function spawnJava(args: string[], env: NodeJS.ProcessEnv, outFile: string): JavaProcess {
  const fd = openSync(outFile, 'a');
  // stdout/stderr go to a file, so a chatty JVM can never block on a full pipe. Detached: a Ctrl-C
  // on the terminal reaches only us, and stop() shuts the broker down before the name server.
  const child = spawn('java', args, { env, stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  const exited = new Promise<number | null>((resolveExit) => {
    child.once('exit', (code, signal) => resolveExit(code ?? (signal ? -1 : null)));
    child.once('error', () => resolveExit(-1));
  });
  return { child, exited, outFile };
}

async function waitForText(
  proc: JavaProcess,
  files: string[],
  needles: string[],
  timeoutMs: number,
  what: string,
): Promise<void> {
  let exitCode: number | null | undefined;
  void proc.exited.then((code) => (exitCode = code));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = files.map(readIfExists).join('\n');
    if (needles.every((needle) => text.includes(needle))) return;
    if (exitCode !== undefined) {
      const bindFailure = text.includes('Address already in use') ? ' (Address already in use)' : '';
      throw new Error(`${what} exited (${exitCode}) before it was ready${bindFailure}:\n${tail(text)}`);
    }
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${timeoutMs} ms:\n${tail(text)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopJava(proc: JavaProcess, graceMs: number): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), graceMs);
  await proc.exited;
  clearTimeout(timer);
}

// If a test run dies without stop(), do not leave JVMs behind.
const liveJvms = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  liveJvms.add(child);
  child.once('exit', () => liveJvms.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const jvm of liveJvms) jvm.kill('SIGKILL');
    });
  }
}

/**
 * Starts an Apache RocketMQ name server and one master broker on loopback and free ports, and
 * resolves once the broker has registered with the name server.
 */
export async function startRocketMQ(options: StartRocketMQOptions = {}): Promise<RocketMQ> {
  const classpath = rocketmqServerClasspath();
  // Ports are picked free, but another process may bind one before the JVM does: try new ones.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(classpath, options);
    } catch (err) {
      if (attempt >= 3 || !/Address already in use/.test((err as Error).message)) throw err;
    }
  }
}

async function startOnce(classpath: string, options: StartRocketMQOptions): Promise<RocketMQ> {
  const dir = await mkdtemp(join(options.baseDir ?? tmpdir(), 'ferrymq-rocketmq-'));
  const home = join(dir, 'home');
  const storeDir = join(dir, 'store');
  const logDir = join(dir, 'logs');
  await Promise.all([mkdir(join(home, 'conf'), { recursive: true }), mkdir(storeDir), mkdir(logDir)]);
  await writeFile(join(home, 'conf/logback_namesrv.xml'), logbackConfig(join(logDir, 'namesrv.log')));
  await writeFile(join(home, 'conf/logback_broker.xml'), logbackConfig(join(logDir, 'broker.log')));
  await writeFile(join(home, 'conf/logback_tools.xml'), logbackConfig(join(logDir, 'tools.log')));

  const nameSrvPort = await ephemeralPort();
  const listenPort = await brokerPort();
  const brokerName = 'broker-a';
  const clusterName = 'DefaultCluster';
  const nameSrv = `127.0.0.1:${nameSrvPort}`;
  await writeFile(join(dir, 'namesrv.conf'), `listenPort=${nameSrvPort}\n`);
  const brokerConf: Record<string, string> = {
    brokerClusterName: clusterName,
    brokerName,
    brokerId: '0',
    brokerRole: 'ASYNC_MASTER',
    flushDiskType: options.flushDiskType ?? 'ASYNC_FLUSH',
    listenPort: String(listenPort),
    namesrvAddr: nameSrv,
    brokerIP1: '127.0.0.1',
    autoCreateTopicEnable: 'true',
    autoCreateSubscriptionGroup: 'true',
    storePathRootDir: storeDir,
    storePathCommitLog: join(storeDir, 'commitlog'),
    // Small files: a test store stays a few MiB (the defaults are 1 GiB and 5.7 MiB per file).
    mappedFileSizeCommitLog: String(64 * 1024 * 1024),
    mappedFileSizeConsumeQueue: String(20 * 30_000),
    // A busy shared CI disk must not switch the broker to "disk full".
    diskMaxUsedSpaceRatio: '95',
    ...options.brokerConfig,
  };
  await writeFile(
    join(dir, 'broker.conf'),
    Object.entries(brokerConf).map(([key, value]) => `${key}=${value}`).join('\n') + '\n',
  );

  const env = { ...process.env, ROCKETMQ_HOME: home };
  const jvm = (heap: string) => [
    `-Xms${heap}`,
    `-Xmx${heap}`,
    '-XX:+UseG1GC',
    ...JDK17_OPENS,
    `-Duser.home=${home}`,
    `-Drocketmq.home.dir=${home}`,
    '-Drocketmq.broker.diskSpaceWarningLevelRatio=0.98',
    '-cp',
    classpath,
  ];

  const nameSrvProc = spawnJava(
    [...jvm('128m'), 'org.apache.rocketmq.namesrv.NamesrvStartup', '-c', join(dir, 'namesrv.conf')],
    env,
    join(logDir, 'namesrv.out'),
  );
  track(nameSrvProc.child);
  let brokerProc: JavaProcess | undefined;
  const stop = async () => {
    // Broker first, so it unregisters from a name server that is still up.
    if (brokerProc) await stopJava(brokerProc, 15_000);
    await stopJava(nameSrvProc, 10_000);
    if (!options.keepDir) await rm(dir, { recursive: true, force: true });
  };
  try {
    const timeoutMs = options.startTimeoutMs ?? 60_000;
    await waitForText(nameSrvProc, [nameSrvProc.outFile], ['The Name Server boot success'], timeoutMs, 'RocketMQ name server');
    brokerProc = spawnJava(
      [...jvm(options.brokerHeap ?? '384m'), 'org.apache.rocketmq.broker.BrokerStartup', '-c', join(dir, 'broker.conf')],
      env,
      join(logDir, 'broker.out'),
    );
    track(brokerProc.child);
    await waitForText(
      brokerProc,
      [brokerProc.outFile, join(logDir, 'broker.log')],
      ['boot success', `to name server ${nameSrv} OK`],
      timeoutMs,
      'RocketMQ broker',
    );
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    nameSrv,
    brokerAddr: `127.0.0.1:${listenPort}`,
    vipAddr: `127.0.0.1:${listenPort - 2}`,
    brokerName,
    clusterName,
    version: ROCKETMQ_SERVER_VERSION,
    dir,
    storeDir,
    logDir,
    home,
    pids: { nameSrv: nameSrvProc.child.pid ?? -1, broker: brokerProc.child.pid ?? -1 },
    stop,
  };
}

export interface JavaRunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a main class of the Java kit (buildJavaKit's classpath) to completion.
 * `home` is used as ROCKETMQ_HOME and user.home (client logs land there); default: a temp dir.
 */
export async function runJavaKit(
  mainClass: string,
  args: string[],
  { home, timeoutMs = 120_000, sysProps = {} }: { home?: string; timeoutMs?: number; sysProps?: Record<string, string> } = {},
): Promise<JavaRunResult> {
  const classpath = buildJavaKit();
  const ownHome = home ?? (await mkdtemp(join(tmpdir(), 'ferrymq-java-')));
  if (!home) {
    await mkdir(join(ownHome, 'conf'), { recursive: true });
    await writeFile(join(ownHome, 'conf/logback_tools.xml'), logbackConfig(join(ownHome, 'tools.log')));
  }
  const props = Object.entries({ 'user.home': ownHome, ...sysProps }).map(([k, v]) => `-D${k}=${v}`);
  try {
    return await new Promise<JavaRunResult>((resolveRun, reject) => {
      const child = spawn('java', ['-Xmx256m', ...JDK17_OPENS, ...props, '-cp', classpath, mainClass, ...args], {
        env: { ...process.env, ROCKETMQ_HOME: ownHome },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      track(child);
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${mainClass} ${args.join(' ')} timed out after ${timeoutMs} ms:\n${tail(stdout)}\n${tail(stderr)}`));
      }, timeoutMs);
      child.once('error', reject);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolveRun({ code, stdout, stderr });
      });
    });
  } finally {
    if (!home) await rm(ownHome, { recursive: true, force: true });
  }
}

/** Runs RocketMQ's own admin tool (`mqadmin`, rocketmq-tools 4.9.8), e.g. `mqadmin(['topicList', '-n', ns])`. */
export function mqadmin(args: string[], options: { home?: string; timeoutMs?: number } = {}): Promise<JavaRunResult> {
  return runJavaKit('org.apache.rocketmq.tools.command.MQAdminStartup', args, options);
}
