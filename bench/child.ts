/**
 * Entry of the benchmark's producer and consumer processes: `node child.js producer|consumer '<job json>'`
 * (through tsx from sources). The orchestrator imports this module only for its path.
 */
import { fileURLToPath } from 'node:url';
import { runConsumer } from './consumer.js';
import { runProducer } from './producer.js';
import { exitWhenFlushed, type ConsumerJob, type ProducerJob } from './workload.js';

export const CHILD_ENTRY = fileURLToPath(import.meta.url);

async function main(role: string | undefined, json: string | undefined): Promise<void> {
  if (!json) throw new Error('usage: child producer|consumer <job json>');
  if (role === 'producer') await runProducer(JSON.parse(json) as ProducerJob);
  else if (role === 'consumer') await runConsumer(JSON.parse(json) as ConsumerJob);
  else throw new Error(`unknown role ${String(role)}`);
}

if (process.argv[1] === CHILD_ENTRY) {
  main(process.argv[2], process.argv[3]).then(
    () => exitWhenFlushed(0),
    (err: unknown) => {
      process.stderr.write(`bench ${process.argv[2]}: ${(err as Error).stack ?? String(err)}\n`);
      exitWhenFlushed(1);
    },
  );
}
