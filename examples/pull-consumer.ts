/**
 * A pull consumer: assign queues yourself, poll, commit, seek. Reads the topic from the start,
 * then stops after 5 s without new messages.
 *   npx tsx examples/pull-consumer.ts
 */
import { PullConsumer } from '../client/index.js';

const nameServer = process.env.FERRYMQ_BROKER ?? '127.0.0.1:9876';
const topic = process.env.EXAMPLE_TOPIC ?? 'ExampleTopic';

const consumer = new PullConsumer({ nameServer, group: 'example-pull', autoCommit: false });
await consumer.start();
try {
  const queues = await consumer.queuesOf(topic);
  await consumer.assign(queues);
  for (const queue of queues) await consumer.seek(queue, 'earliest');

  let idleSince = Date.now();
  while (Date.now() - idleSince < 5_000) {
    const msgs = await consumer.poll(1_000);
    if (msgs.length === 0) continue;
    idleSince = Date.now();
    for (const msg of msgs) console.log(`q${msg.queue.queueId}@${msg.queueOffset}: ${msg.body.toString()}`);
    await consumer.commit();
  }
  // The same loop as an async iterator: `for await (const msgs of consumer) { ... }`.
} finally {
  await consumer.shutdown();
}
