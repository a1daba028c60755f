/**
 * Child process for the key-index crash test: opens the store in argv[2] with a key flush interval
 * that never fires, appends argv[4] keyed messages to topic argv[3] (key `k<i>`), checkpointing
 * after the first argv[5] of them, prints "acked" and waits to be killed.
 */
import { indexKeysOf } from '../../broker/handlers/put-message.js';
import { MessageStore } from '../../storage/message-store.js';
import { message } from './store-fixture.js';

const [dataDir, topic, countText, checkpointAfterText] = process.argv.slice(2);
const store = await MessageStore.open({
  dataDir,
  keysOf: indexKeysOf,
  config: { segmentSize: 4096, checkpointIntervalMs: 3_600_000, keyIndexFlushIntervalMs: 3_600_000 },
});
store.meta.putTopic({ topicName: topic, readQueueNums: 2, writeQueueNums: 2, perm: 6, topicSysFlag: 0, order: false });
for (let i = 0; i < Number(countText); i++) {
  if (i === Number(checkpointAfterText)) await store.runCheckpoint();
  const result = await store.append(message(topic, i % 2, `body-${i}`.padEnd(200, '.'), { keys: [`k${i}`, 'shared'] }));
  if (result.status !== 'PUT_OK') throw new Error(result.reason);
}
process.stdout.write('acked\n');
setInterval(() => undefined, 1000);
