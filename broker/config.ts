/**
 * Every broker knob with its default, in one place. `docs/broker.md` documents the same table (a test
 * checks that every key appears there). Sources are merged in this order, later ones winning:
 *   defaults ← JSON config file (--config) ← environment (FERRYMQ_<UPPER_SNAKE>) ← command-line flags.
 * Store keys nest under `store` (file/flags) or use the `FERRYMQ_STORE_` prefix (environment).
 * Unknown keys and bad values are an error naming the key and the source.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { DEFAULT_STORE_CONFIG, resolveStoreConfig, type StoreConfig } from '../storage/config.js';
import { DEFAULT_DELAY_LEVELS, parseDelaySchedule } from './delay/delay-schedule.js';

export interface BrokerConfig {
  /** Interface to listen on. 127.0.0.1 by default; 0.0.0.0 exposes the broker to the network. */
  host: string;
  /** TCP port answering both name-server and broker request codes (0 = any free port). */
  port: number;
  /** Address put in routes and message ids; '' means `host`, or 127.0.0.1 when host is 0.0.0.0. */
  advertisedHost: string;
  brokerName: string;
  clusterName: string;
  /** Directory of the message store and its SQLite metadata. */
  dataDir: string;
  /** Create an unknown topic on its first send (Java clients also get a TBW102 route). */
  autoCreateTopicEnable: boolean;
  /** Queue count of auto-created topics. */
  defaultTopicQueueNums: number;
  /** Create a subscription group on its first heartbeat or pull. */
  autoCreateSubscriptionGroup: boolean;
  /** Queue count of `%RETRY%<group>` topics. */
  retryQueueNums: number;
  /** Delay level table (RocketMQ messageDelayLevel, see docs/retry.md); level n waits the n-th value. */
  messageDelayLevel: string;
  /** Largest accepted frame (checked from the length prefix, before allocating). */
  maxFrameSize: number;
  /** Connections beyond this are closed at accept. */
  maxConnections: number;
  /** A frame started but not completed within this time closes its connection. */
  halfFrameTimeoutMs: number;
  /** A connection with no inbound bytes for this long is closed, and its clients unregistered. */
  channelIdleTimeoutMs: number;
  /** How often client registrations are checked for expiry. */
  clientScanIntervalMs: number;
  /** Unsent response bytes per connection above which the connection is closed. */
  maxPendingWriteBytesPerConnection: number;
  /** Pulls held (long polling) at once per connection; beyond it a pull is answered at once. */
  maxHeldPullsPerConnection: number;
  /** Pulls held at once over all connections. */
  maxHeldPullsTotal: number;
  /** A half message unresolved for this long is checked with its producer (RocketMQ transactionTimeOut). */
  transactionTimeoutMs: number;
  /** How often unresolved half messages are checked. */
  transactionCheckIntervalMs: number;
  /** Checks per half message before it is given up (discarded). */
  transactionCheckMax: number;
  /** Lease of an orderly-consumption queue lock (RocketMQ REBALANCE_LOCK_MAX_LIVE_TIME). */
  lockLeaseMs: number;
  /** Hold empty pulls up to the client's suspend time; off = hold them `shortPollingTimeMs`. */
  longPollingEnable: boolean;
  shortPollingTimeMs: number;
  /** Upper bound on messages in one pull answer, whatever the client asks for. */
  pullMaxMessages: number;
  /** Upper bound on bytes in one pull answer (a single larger message is still delivered). */
  pullMaxBytes: number;
  /** Wanted libuv threadpool size (fdatasync and file reads run there); the launcher must export UV_THREADPOOL_SIZE. */
  uvThreadpoolSize: number;
  /** pino level: fatal, error, warn, info, debug, trace or silent. */
  logLevel: string;
  /** Storage engine settings (see docs/storage.md). */
  store: StoreConfig;
}

export const DEFAULT_BROKER_CONFIG: Readonly<BrokerConfig> = Object.freeze({
  host: '127.0.0.1', // like Redis: local only unless asked
  port: 9876, // the RocketMQ name-server port, so `nameSrv: '127.0.0.1:9876'` just works
  advertisedHost: '',
  brokerName: 'broker-a',
  clusterName: 'DefaultCluster',
  dataDir: 'data',
  autoCreateTopicEnable: true, // RocketMQ 4.x default
  defaultTopicQueueNums: 8,
  autoCreateSubscriptionGroup: true,
  retryQueueNums: 1,
  messageDelayLevel: DEFAULT_DELAY_LEVELS,
  maxFrameSize: 16 * 1024 * 1024, // Netty decoder default in RocketMQ
  maxConnections: 1024,
  halfFrameTimeoutMs: 30_000,
  channelIdleTimeoutMs: 120_000, // RocketMQ channel expiry
  clientScanIntervalMs: 10_000,
  maxPendingWriteBytesPerConnection: 64 * 1024 * 1024,
  maxHeldPullsPerConnection: 1024,
  maxHeldPullsTotal: 65_536,
  transactionTimeoutMs: 6_000, // RocketMQ transactionTimeOut
  transactionCheckIntervalMs: 60_000, // RocketMQ transactionCheckInterval
  transactionCheckMax: 15, // RocketMQ transactionCheckMax
  lockLeaseMs: 60_000,
  longPollingEnable: true,
  shortPollingTimeMs: 1000,
  pullMaxMessages: 256, // RocketMQ stops at 32 (maxTransferCountOnMessageInMemory); a client asking for more gets up to this, within pullMaxBytes
  pullMaxBytes: 256 * 1024, // RocketMQ maxTransferBytesOnMessageInMemory
  uvThreadpoolSize: 16,
  logLevel: 'warn',
  store: DEFAULT_STORE_CONFIG,
});

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type BrokerKey = Exclude<keyof BrokerConfig, 'store'>;
type PartialBrokerConfig = Partial<Omit<BrokerConfig, 'store'>> & { store?: Partial<StoreConfig> };

/** Per-key range checks beyond the type; returns the reason a value is bad. */
const CHECKS: Partial<Record<BrokerKey, (value: never) => string | undefined>> = {
  port: (v: number) => (Number.isInteger(v) && v >= 0 && v <= 65535 ? undefined : 'must be an integer in 0..65535'),
  host: (v: string) => (v.length > 0 ? undefined : 'must not be empty'),
  advertisedHost: (v: string) =>
    v === '0.0.0.0' || v === '::' ? 'must be an address clients can reach, not a wildcard' : undefined,
  brokerName: (v: string) => (/^[a-zA-Z0-9_-]+$/.test(v) ? undefined : 'must match [a-zA-Z0-9_-]+'),
  clusterName: (v: string) => (/^[a-zA-Z0-9_-]+$/.test(v) ? undefined : 'must match [a-zA-Z0-9_-]+'),
  dataDir: (v: string) => (v.length > 0 ? undefined : 'must not be empty'),
  logLevel: (v: string) => (LOG_LEVELS.includes(v) ? undefined : `must be one of ${LOG_LEVELS.join(', ')}`),
  messageDelayLevel: (v: string) => {
    try {
      parseDelaySchedule(v);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  },
  uvThreadpoolSize: (v: number) => (Number.isInteger(v) && v >= 1 && v <= 1024 ? undefined : 'must be an integer in 1..1024'),
};

function coerce(key: string, value: unknown, like: unknown, source: string): unknown {
  const fail = (why: string): never => {
    throw new ConfigError(`config ${key} from ${source}: ${why} (got ${typeof value === 'string' ? JSON.stringify(value) : String(value)})`);
  };
  if (typeof like === 'number') {
    const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isFinite(n)) fail('must be a number');
    return n;
  }
  if (typeof like === 'boolean') {
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === '1') return true;
    if (value === 'false' || value === '0') return false;
    return fail('must be true or false');
  }
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') fail('must be a string');
  return value;
}

/** Applies one source (an object shaped like the config, possibly with a nested `store`) onto `target`. */
function applySource(target: PartialBrokerConfig, source: Record<string, unknown>, sourceName: string): void {
  for (const [key, value] of Object.entries(source)) {
    if (value === undefined) continue;
    if (key === 'store') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new ConfigError(`config store from ${sourceName}: must be an object`);
      }
      const store: Record<string, unknown> = { ...target.store };
      for (const [storeKey, storeValue] of Object.entries(value)) {
        if (storeValue === undefined) continue;
        if (!(storeKey in DEFAULT_STORE_CONFIG)) {
          throw new ConfigError(`unknown config key store.${storeKey} in ${sourceName}`);
        }
        const like = DEFAULT_STORE_CONFIG[storeKey as keyof StoreConfig];
        store[storeKey] = coerce(`store.${storeKey}`, storeValue, like, sourceName);
      }
      target.store = store as Partial<StoreConfig>;
      continue;
    }
    if (!(key in DEFAULT_BROKER_CONFIG)) throw new ConfigError(`unknown config key ${key} in ${sourceName}`);
    const like = DEFAULT_BROKER_CONFIG[key as BrokerKey];
    (target as Record<string, unknown>)[key] = coerce(key, value, like, sourceName);
  }
}

function toUpperSnake(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

/** The environment variable that sets `key` (`store.flushMode` → FERRYMQ_STORE_FLUSH_MODE). */
export function envVarName(key: string): string {
  return `FERRYMQ_${key.split('.').map(toUpperSnake).join('_')}`;
}

/**
 * FERRYMQ_* variables that are not broker settings: the CLI's client commands read FERRYMQ_BROKER,
 * the SDK FERRYMQ_CLIENT_LOG_LEVEL, the crash-recovery kit FERRYMQ_CRASH_POINT. A shell that sets
 * them for those must still be able to run `ferrymq start`.
 */
const OTHER_FERRYMQ_VARIABLES = new Set(['FERRYMQ_BROKER', 'FERRYMQ_CLIENT_LOG_LEVEL', 'FERRYMQ_CRASH_POINT']);

/** Reads FERRYMQ_* variables; one that names no config key is an error (a typo must not pass silently). */
function fromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const known = new Map<string, string[]>();
  for (const key of Object.keys(DEFAULT_BROKER_CONFIG)) if (key !== 'store') known.set(envVarName(key), [key]);
  for (const key of Object.keys(DEFAULT_STORE_CONFIG)) known.set(envVarName(`store.${key}`), ['store', key]);
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('FERRYMQ_') || value === undefined) continue;
    if (OTHER_FERRYMQ_VARIABLES.has(name)) continue;
    const path = known.get(name);
    if (!path) throw new ConfigError(`unknown environment variable ${name}`);
    if (path.length === 1) out[path[0]] = value;
    else ((out.store ??= {}) as Record<string, unknown>)[path[1]] = value;
  }
  return out;
}

function validate(config: BrokerConfig): void {
  for (const [key, like] of Object.entries(DEFAULT_BROKER_CONFIG)) {
    if (typeof like !== 'number') continue;
    const value = config[key as BrokerKey] as number;
    if (key !== 'port' && (!Number.isInteger(value) || value <= 0)) {
      throw new ConfigError(`config ${key}: must be a positive integer (got ${value})`);
    }
  }
  for (const [key, check] of Object.entries(CHECKS)) {
    const reason = (check as (v: unknown) => string | undefined)(config[key as BrokerKey]);
    if (reason) throw new ConfigError(`config ${key}: ${reason} (got ${JSON.stringify(config[key as BrokerKey])})`);
  }
  if (config.advertisedHost !== '' && isIP(config.advertisedHost) === 6) {
    throw new ConfigError('config advertisedHost: must be an IPv4 address or a host name (message ids hold IPv4)');
  }
}

/** The address clients are told to use: never a wildcard. */
export function advertisedHostOf(config: Pick<BrokerConfig, 'host' | 'advertisedHost'>): string {
  if (config.advertisedHost !== '') return config.advertisedHost;
  return config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
}

export interface ConfigSources {
  /** Path of a JSON config file. */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  /** Flags, shaped like the config (store keys nested under `store`). */
  flags?: Record<string, unknown>;
  /** In-process overrides (tests), applied last. */
  overrides?: PartialBrokerConfig;
}

/** Merges every source over the defaults and validates the result; throws ConfigError. */
export function loadBrokerConfig(sources: ConfigSources = {}): BrokerConfig {
  const merged: PartialBrokerConfig = {};
  if (sources.configFile) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(sources.configFile, 'utf8'));
    } catch (err) {
      throw new ConfigError(`config file ${sources.configFile}: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError(`config file ${sources.configFile}: must hold a JSON object`);
    }
    applySource(merged, parsed as Record<string, unknown>, `file ${sources.configFile}`);
  }
  if (sources.env) applySource(merged, fromEnv(sources.env), 'the environment');
  if (sources.flags) applySource(merged, sources.flags, 'flags');
  if (sources.overrides) applySource(merged, sources.overrides as Record<string, unknown>, 'overrides');
  return resolveBrokerConfig(merged);
}

/** Fills `partial` from the defaults and validates it (in-process callers such as tests). */
export function resolveBrokerConfig(partial: PartialBrokerConfig = {}): BrokerConfig {
  let store: StoreConfig;
  try {
    store = resolveStoreConfig(partial.store);
  } catch (err) {
    throw new ConfigError(`config store: ${(err as Error).message}`);
  }
  const config: BrokerConfig = { ...DEFAULT_BROKER_CONFIG, ...partial, store } as BrokerConfig;
  validate(config);
  return config;
}
