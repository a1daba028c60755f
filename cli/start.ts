/**
 * `ferrymq start`: runs the broker in the foreground until SIGTERM or SIGINT, which shut it down
 * cleanly (stop accepting, flush, clean-shutdown marker). Every config key is also a flag
 * (`--max-connections 100`, `--store.flushMode ASYNC_FLUSH`); `--data` and `--flush sync|async`
 * are short forms. See docs/broker.md for the table.
 */
import type { Argv, CommandModule, Options } from 'yargs';
import { BrokerServer } from '../broker/broker-server.js';
import { ConfigError, DEFAULT_BROKER_CONFIG, loadBrokerConfig } from '../broker/config.js';
import { DEFAULT_STORE_CONFIG } from '../storage/config.js';
import { hideClientOptions } from './args.js';
import { applyBrokerGcTuning } from './gc-tuning.js';

type StartArgs = Record<string, unknown> & { config?: string; data?: string; flush?: 'sync' | 'async'; 'gc-tuning'?: boolean };

function optionFor(key: string, defaultValue: unknown): Options {
  const type = typeof defaultValue === 'number' ? 'number' : typeof defaultValue === 'boolean' ? 'boolean' : 'string';
  // No yargs default: an absent flag must not override the file or the environment.
  return { type, describe: `default ${JSON.stringify(defaultValue)}`, group: key.startsWith('store.') ? 'Store:' : 'Broker:' };
}

function kebab(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/** The flags that were given, shaped like the config. */
function flagsOf(argv: StartArgs): Record<string, unknown> {
  const flags: Record<string, unknown> = {};
  for (const key of Object.keys(DEFAULT_BROKER_CONFIG)) {
    if (key !== 'store' && argv[key] !== undefined) flags[key] = argv[key];
  }
  if (argv.data !== undefined) flags.dataDir = argv.data;
  const store: Record<string, unknown> = { ...(argv.store as Record<string, unknown> | undefined) };
  if (argv.flush !== undefined) store.flushMode = argv.flush === 'async' ? 'ASYNC_FLUSH' : 'SYNC_FLUSH';
  if (Object.keys(store).length > 0) flags.store = store;
  return flags;
}

export const startCommand: CommandModule<object, StartArgs> = {
  command: 'start',
  describe: 'Run the broker (name server and broker on one port) until SIGTERM/SIGINT',
  builder: (yargs: Argv<object>) => {
    let y = hideClientOptions(yargs)
      .option('config', { type: 'string', describe: 'JSON config file (keys as in docs/broker.md)' })
      .option('data', { type: 'string', describe: 'data directory (same as --data-dir)' })
      .option('flush', { choices: ['sync', 'async'] as const, describe: 'store flush mode (same as --store.flushMode)' })
      .option('gc-tuning', { type: 'boolean', default: true, describe: 'V8 GC flags for a broker process (see docs/broker.md); --no-gc-tuning keeps V8 defaults' });
    for (const [key, value] of Object.entries(DEFAULT_BROKER_CONFIG)) {
      if (key !== 'store') y = y.option(kebab(key), optionFor(key, value));
    }
    for (const [key, value] of Object.entries(DEFAULT_STORE_CONFIG)) y = y.option(`store.${key}`, optionFor(`store.${key}`, value));
    return y as unknown as Argv<StartArgs>;
  },
  handler: async (argv) => {
    let config;
    try {
      config = loadBrokerConfig({ configFile: argv.config, env: process.env, flags: flagsOf(argv) });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      process.stderr.write(`ferrymq start: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    // libuv sizes its threadpool on first use, and Node's ESM loader uses it before any module code
    // runs: only the launching environment can set it. Say so when it does not match the config.
    if (process.env.UV_THREADPOOL_SIZE !== String(config.uvThreadpoolSize)) {
      process.stderr.write(
        `ferrymq: UV_THREADPOOL_SIZE is ${process.env.UV_THREADPOOL_SIZE ?? 'unset (4)'}; ` +
          `set UV_THREADPOOL_SIZE=${config.uvThreadpoolSize} in the environment for the configured fsync parallelism\n`,
      );
    }
    if (argv['gc-tuning'] !== false) applyBrokerGcTuning();
    let broker: BrokerServer;
    try {
      broker = await BrokerServer.start(config);
    } catch (err) {
      process.stderr.write(`ferrymq start: cannot start the broker: ${(err as Error).message}\n`);
      process.exitCode = 1;
      return;
    }
    const { port } = broker.address();
    process.stderr.write(`ferrymq: broker ${config.brokerName} listening on ${config.host}:${port}, data in ${config.dataDir}\n`);
    const stop = (signal: NodeJS.Signals) => {
      process.stderr.write(`ferrymq: ${signal} received, shutting down\n`);
      broker.shutdown().then(
        () => process.exit(0),
        (err: unknown) => {
          process.stderr.write(`ferrymq: shutdown failed: ${(err as Error).message}\n`);
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  },
};
