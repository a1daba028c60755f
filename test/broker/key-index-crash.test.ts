import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { scanRecords } from '../../protocol/message-codec.js';
import { RequestCode } from '../../protocol/request-code.js';
import { ResponseCode } from '../../protocol/response-code.js';
import pino from 'pino';
import { NodeFileIO } from '../../storage/file-io.js';
import { KEY_INDEX_DIR, KeyIndex } from '../../storage/key-index.js';
import { BrokerProcess, freePort } from '../crash/broker-process.js';
import { tempDir, uniqueName } from '../helpers/common.js';
import { RawClient, sendHeaderV2 } from '../helpers/broker.js';

let dir: { path: string; cleanup: () => Promise<void> };
let broker: BrokerProcess | undefined;
beforeEach(async () => {
  dir = await tempDir('ferrymq-broker-keys-');
});
afterEach(async () => {
  await broker?.kill();
  broker = undefined;
  await dir.cleanup();
});

async function startBroker(port: number): Promise<RawClient> {
  broker = new BrokerProcess({
    dataDir: dir.path,
    flush: 'sync',
    port,
    // Neither the key flush timer nor a checkpoint runs before the kill: only recovery can index the keys.
    env: { FERRYMQ_STORE_KEY_INDEX_FLUSH_INTERVAL_MS: '3600000', FERRYMQ_STORE_CHECKPOINT_INTERVAL_MS: '3600000' },
  });
  broker.spawn();
  expect(await broker.waitReady()).toBe('ready');
  return RawClient.connect(port);
}

it('finds messages by key after the broker was killed before making their key entries durable', async () => {
  const port = await freePort();
  const topic = uniqueName('keys');
  let client = await startBroker(port);
  const created = await client.request(RequestCode.UPDATE_AND_CREATE_TOPIC, { topic, readQueueNums: 1, writeQueueNums: 1, perm: 6 });
  expect(created.code).toBe(ResponseCode.SUCCESS);
  const msgIds: string[] = [];
  for (let i = 0; i < 5; i++) {
    const properties = `KEYS\u0001order-${i} shared\u0002UNIQ_KEY\u0001uniq-${i}\u0002`;
    const sent = await client.request(RequestCode.SEND_MESSAGE_V2, sendHeaderV2(topic, { properties }), Buffer.from(`m${i}`));
    expect(sent.code).toBe(ResponseCode.SUCCESS);
    msgIds.push(sent.extFields.msgId);
  }
  client.close();
  await broker!.kill();
  const index = await KeyIndex.open(new NodeFileIO(), join(dir.path, KEY_INDEX_DIR), { slotsPerFile: 64, maxEntriesPerFile: 64 }, pino({ level: 'silent' }));
  try {
    let hits = 0;
    await index.lookup(topic, 'shared', 0, Number.MAX_SAFE_INTEGER, async () => (hits += 1) > 0);
    expect(hits).toBe(0);
  } finally {
    await index.close();
  }

  client = await startBroker(port);
  const query = (key: string) =>
    client.request(RequestCode.QUERY_MESSAGE, { topic, key, maxNum: 32, beginTimestamp: 0, endTimestamp: '9223372036854775807' });
  for (let i = 0; i < 5; i++) {
    for (const key of [`order-${i}`, `uniq-${i}`]) {
      const found = await query(key);
      expect(found.code).toBe(ResponseCode.SUCCESS);
      expect(scanRecords(found.body!).records.map((r) => r.msgId)).toEqual([msgIds[i]]);
    }
  }
  const shared = await query('shared');
  expect(scanRecords(shared.body!).records.map((r) => r.msgId).sort()).toEqual([...msgIds].sort());
  client.close();
}, 60_000);
