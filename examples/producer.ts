/**
 * Sends a few messages: plain, with tags/keys/properties, ordered by sharding key, delayed, and a batch.
 *   npx tsx examples/producer.ts            (broker on 127.0.0.1:9876; FERRYMQ_BROKER to change)
 */
import { Producer, shardingKeySelector } from '../client/index.js';

const nameServer = process.env.FERRYMQ_BROKER ?? '127.0.0.1:9876';
const topic = process.env.EXAMPLE_TOPIC ?? 'ExampleTopic';

const producer = new Producer({ nameServer, group: 'example-producer' });
await producer.start();
try {
  const plain = await producer.send({ topic, body: 'hello FerryMQ' });
  console.log('sent', plain.msgId, 'to queue', plain.queue.queueId, 'at offset', plain.queueOffset);

  const tagged = await producer.send({ topic, body: JSON.stringify({ orderId: 42 }), tags: 'TagA', keys: ['order-42'], properties: { source: 'example' } });
  console.log('sent tagged message, uniqKey', tagged.uniqKey);

  // One sharding key → one queue → consumed in send order by an orderly consumer.
  for (const step of ['created', 'paid', 'shipped']) {
    const r = await producer.send({ topic, body: `order-7 ${step}`, shardingKey: 'order-7' }, { selector: shardingKeySelector });
    console.log(`order-7 ${step} → queue ${r.queue.queueId}`);
  }

  // Delay level 2 = 5 s with the default levels (1s 5s 10s 30s 1m ...).
  await producer.send({ topic, body: 'see you in 5 seconds', delayLevel: 2 });

  const batch = await producer.sendBatch([1, 2, 3].map((i) => ({ topic, body: `batch message ${i}` })));
  console.log('batch of 3 stored from offset', batch.queueOffset, 'in queue', batch.queue.queueId);
} finally {
  await producer.shutdown();
}
