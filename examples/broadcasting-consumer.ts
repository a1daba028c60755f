/**
 * A broadcasting consumer: every member gets every message; progress is kept in a local file
 * (~/.ferrymq/offsets/<group>/<instanceName>.json), so a restart resumes where it stopped.
 *   npx tsx examples/broadcasting-consumer.ts [instanceName]
 */
import { PushConsumer } from '../client/index.js';

const nameServer = process.env.FERRYMQ_BROKER ?? '127.0.0.1:9876';
const topic = process.env.EXAMPLE_TOPIC ?? 'ExampleTopic';

const consumer = new PushConsumer({
  nameServer,
  group: 'example-broadcast',
  messageModel: 'BROADCASTING',
  // Names this member's offset file; give each member on one machine its own.
  instanceName: process.argv[2] ?? 'member-1',
});
consumer.subscribe(topic, 'TagA || TagB');
// Set before start: messages may arrive (and Ctrl-C be pressed) while it is still starting.
process.once('SIGINT', async () => {
  await consumer.shutdown();
  process.exit(0);
});
await consumer.start(async (msgs) => {
  for (const msg of msgs) console.log(`[${process.argv[2] ?? 'member-1'}] ${msg.tags}: ${msg.body.toString()}`);
});
console.log('consuming as', consumer.clientId, '(broadcasting; new messages tagged TagA or TagB)');
