import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { advertisedHostOf, ConfigError, DEFAULT_BROKER_CONFIG, envVarName, loadBrokerConfig } from '../../broker/config.js';
import { supportedRequestCodes } from '../../broker/handlers/index.js';
import { requestCodeName } from '../../protocol/request-code.js';
import { DEFAULT_STORE_CONFIG } from '../../storage/config.js';

describe('broker config', () => {
  it('merges defaults, file, environment and flags in that order', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferrymq-config-'));
    const file = join(dir, 'broker.json');
    writeFileSync(file, JSON.stringify({ port: 1111, brokerName: 'from-file', store: { flushMode: 'ASYNC_FLUSH' } }));
    const config = loadBrokerConfig({
      configFile: file,
      env: { FERRYMQ_PORT: '2222', FERRYMQ_MAX_CONNECTIONS: '7', FERRYMQ_STORE_SEGMENT_SIZE: '65536', PATH: '/bin' },
      flags: { port: 3333, autoCreateTopicEnable: 'false' },
    });
    expect(config.port).toBe(3333);
    expect(config.brokerName).toBe('from-file');
    expect(config.maxConnections).toBe(7);
    expect(config.autoCreateTopicEnable).toBe(false);
    expect(config.store.flushMode).toBe('ASYNC_FLUSH');
    expect(config.store.segmentSize).toBe(65536);
    expect(config.host).toBe('127.0.0.1');
  });

  it("ignores the FERRYMQ_* variables of the CLI's client commands, the SDK and the crash kit", () => {
    const config = loadBrokerConfig({ env: { FERRYMQ_BROKER: '10.0.0.5:9876', FERRYMQ_CLIENT_LOG_LEVEL: 'debug', FERRYMQ_CRASH_POINT: 'segment-roll', FERRYMQ_PORT: '2222' } });
    expect(config.port).toBe(2222);
    expect(config.logLevel).toBe(DEFAULT_BROKER_CONFIG.logLevel);
  });

  it('rejects unknown keys and bad values with the key named', () => {
    expect(() => loadBrokerConfig({ flags: { prot: 1 } })).toThrow(/unknown config key prot/);
    expect(() => loadBrokerConfig({ env: { FERRYMQ_PROT: '1' } })).toThrow(/FERRYMQ_PROT/);
    expect(() => loadBrokerConfig({ env: { FERRYMQ_BROKERS: '127.0.0.1:9876' } })).toThrow(/unknown environment variable FERRYMQ_BROKERS/);
    expect(() => loadBrokerConfig({ flags: { port: 'abc' } })).toThrow(ConfigError);
    expect(() => loadBrokerConfig({ flags: { port: 70000 } })).toThrow(/port/);
    expect(() => loadBrokerConfig({ flags: { maxConnections: 0 } })).toThrow(/maxConnections/);
    expect(() => loadBrokerConfig({ flags: { logLevel: 'loud' } })).toThrow(/logLevel/);
    expect(() => loadBrokerConfig({ flags: { advertisedHost: '0.0.0.0' } })).toThrow(/advertisedHost/);
    expect(() => loadBrokerConfig({ flags: { store: { flushMode: 'SOMETIMES' } } })).toThrow(/flushMode/);
    expect(() => loadBrokerConfig({ flags: { store: { nope: 1 } } })).toThrow(/store.nope/);
    expect(() => loadBrokerConfig({ flags: { store: { tailCacheTotalBytes: 2 ** 31 } } })).toThrow(/tailCacheTotalBytes.*1 GiB/);
    expect(() => loadBrokerConfig({ flags: { store: { tailCacheTotalBytes: 1.5 } } })).toThrow(/tailCacheTotalBytes/);
    expect(() => loadBrokerConfig({ env: { FERRYMQ_STORE_SYNC_JOURNAL: 'yes' } })).toThrow(/store.syncJournal.*true or false/);
    expect(loadBrokerConfig({ env: { FERRYMQ_STORE_SYNC_JOURNAL: 'true' } }).store.syncJournal).toBe(true);
  });

  it('never advertises a wildcard address', () => {
    expect(advertisedHostOf({ host: '0.0.0.0', advertisedHost: '' })).toBe('127.0.0.1');
    expect(advertisedHostOf({ host: '10.0.0.5', advertisedHost: '' })).toBe('10.0.0.5');
    expect(advertisedHostOf({ host: '0.0.0.0', advertisedHost: '192.168.1.9' })).toBe('192.168.1.9');
  });

  it('README.md documents every key with its environment variable', () => {
    const doc = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const keys = [
      ...Object.keys(DEFAULT_BROKER_CONFIG).filter((k) => k !== 'store'),
      ...Object.keys(DEFAULT_STORE_CONFIG).map((k) => `store.${k}`),
    ];
    const missing = keys.filter((k) => !doc.includes(`\`${k}\``) || !doc.includes(envVarName(k)));
    expect(missing).toEqual([]);
  });

  it("README.md's configuration table names only real keys, with their defaults", () => {
    const doc = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const defaults = new Map<string, unknown>([
      ...Object.entries(DEFAULT_BROKER_CONFIG).filter(([k]) => k !== 'store'),
      ...Object.entries(DEFAULT_STORE_CONFIG).map(([k, v]) => [`store.${k}`, v] as [string, unknown]),
    ]);
    const rows = [...doc.matchAll(/^\| `([\w.]+)` \| `([^`]*)` \| `(FERRYMQ_\w+)` \|/gm)];
    expect(rows.length).toBeGreaterThan(20);
    const wrong = rows
      .filter(([, key, value]) => !defaults.has(key) || JSON.stringify(defaults.get(key)) !== value && String(defaults.get(key)) !== value)
      .map(([, key, value]) => `${key} = ${value} (default: ${defaults.has(key) ? String(defaults.get(key)) : 'no such key'})`);
    expect(wrong).toEqual([]);
  });

  it('docs/broker.md lists every supported request code', () => {
    const doc = readFileSync(new URL('../../docs/broker.md', import.meta.url), 'utf8');
    const missing = supportedRequestCodes().filter((code) => !doc.includes(`| ${code} | \`${requestCodeName(code)}\``));
    expect(missing).toEqual([]);
  });
});
