/**
 * A clustering push consumer: the group's members share the queues; each message is handled by
 * one of them. Run it twice to see the queues split. Ctrl-C for a graceful shutdown.
 *   npx tsx examples/push-consumer.ts
 */
import { ConsumeStatus, PushConsumer } from '../client/index.js';

const nameServer = process.env.FERRYMQ_BROKER ?? '127.0.0.1:9876';
const topic = process.env.EXAMPLE_TOPIC ?? 'ExampleTopic';

const consumer = new PushConsumer({
  nameServer,
  group: 'example-group',
  consumeFromWhere: 'FIRST_OFFSET',
  consumeThreadMax: 8,
  consumeMessageBatchMaxSize: 1,
});
consumer.subscribe(topic, '*');
// Set before start: messages may arrive (and Ctrl-C be pressed) while it is still starting.
process.once('SIGINT', async () => {
  console.log('stats', consumer.stats(), 'allocation', JSON.stringify(consumer.allocationReports()));
  await consumer.shutdown();
  process.exit(0);
});
await consumer.start(async ([msg]) => {
  console.log(`${msg!.topic} q${msg!.queue.queueId}@${msg!.queueOffset} tags=${msg!.tags ?? '-'} reconsume=${msg!.reconsumeTimes}: ${msg!.body.toString()}`);
  // Throwing or returning RECONSUME_LATER sends the message back for a later retry.
  return ConsumeStatus.SUCCESS;
});
console.log('consuming as', consumer.clientId, 'owning', consumer.ownedQueues().map((q) => `${q.topic}#${q.queueId}`).join(' '));
