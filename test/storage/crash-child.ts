/**
 * Child process for crash-point tests: opens the store in argv[2], ensures topic argv[3] exists,
 * and appends `argv[4]` messages one by one, printing each acknowledged {offset, body} as a JSON
 * line. FERRYMQ_CRASH_POINT in the environment decides where it dies; argv[5] is the flush mode
 * (SYNC_FLUSH by default).
 */
import { MessageStore } from '../../storage/message-store.js';
import { message } from './store-fixture.js';

const [dataDir, topic, countText, flushMode = 'SYNC_FLUSH'] = process.argv.slice(2);
const store = await MessageStore.open({
  dataDir,
  config: { segmentSize: 2048, checkpointIntervalMs: 5, flushMode: flushMode as 'SYNC_FLUSH' | 'ASYNC_FLUSH', flushIntervalMs: 20 },
});
if (!store.meta.getTopic(topic)) {
  store.meta.putTopic({ topicName: topic, readQueueNums: 1, writeQueueNums: 1, perm: 6, topicSysFlag: 0, order: false });
}
const start = store.maxOffset(topic, 0);
for (let i = 0; i < Number(countText); i++) {
  const body = `c${start + i}`.padEnd(300, '-');
  const result = await store.append(message(topic, 0, body));
  if (result.status !== 'PUT_OK') throw new Error(result.reason);
  process.stdout.write(`${JSON.stringify({ offset: result.queueOffset, body })}\n`);
  // Give the checkpoint timer a chance to run between appends.
  await new Promise((resolve) => setTimeout(resolve, 2));
}
await store.close();
