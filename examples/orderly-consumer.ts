/**
 * An orderly consumer: each queue is locked on the broker and handed to the listener one batch
 * at a time, in order. Messages of one sharding key (see producer.ts) arrive in send order even
 * with several queues consumed in parallel; a failure pauses the queue and retries in place.
 *   npx tsx examples/orderly-consumer.ts
 */
import { ConsumeStatus, PushConsumer } from '../client/index.js';

const nameServer = process.env.FERRYMQ_BROKER ?? '127.0.0.1:9876';
const topic = process.env.EXAMPLE_TOPIC ?? 'ExampleTopic';

const consumer = new PushConsumer({
  nameServer,
  group: 'example-orderly',
  orderly: true,
  consumeThreadMax: 4,
  consumeFromWhere: 'FIRST_OFFSET',
  suspendCurrentQueueTimeMs: 1_000,
});
consumer.subscribe(topic);
// Set before start: messages may arrive (and Ctrl-C be pressed) while it is still starting.
process.once('SIGINT', async () => {
  await consumer.shutdown();
  process.exit(0);
});
await consumer.start(async ([msg]) => {
  console.log(`q${msg!.queue.queueId}@${msg!.queueOffset}: ${msg!.body.toString()}`);
  return ConsumeStatus.SUCCESS;
});
