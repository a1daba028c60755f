/**
 * Starts a real Apache RocketMQ (name server + broker) for manual runs and prints its addresses.
 *   npx tsx test/interop/start-rocketmq.ts [--sync] [--keep] [key=value ...]
 * --sync uses SYNC_FLUSH; key=value pairs go into broker.conf. Ctrl-C stops both JVMs.
 */
import { startRocketMQ } from '../helpers/rocketmq.js';

const args = process.argv.slice(2);
const brokerConfig = Object.fromEntries(
  args.filter((arg) => arg.includes('=')).map((arg) => [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]),
);
const started = Date.now();
const mq = await startRocketMQ({
  flushDiskType: args.includes('--sync') ? 'SYNC_FLUSH' : 'ASYNC_FLUSH',
  keepDir: args.includes('--keep'),
  brokerConfig,
});
console.log(`Apache RocketMQ ${mq.version} up in ${Date.now() - started} ms`);
console.log(`  namesrvAddr  ${mq.nameSrv}`);
console.log(`  broker       ${mq.brokerAddr} (VIP channel ${mq.vipAddr}), ${mq.clusterName}/${mq.brokerName}`);
console.log(`  pids         namesrv ${mq.pids.nameSrv}, broker ${mq.pids.broker}`);
console.log(`  store        ${mq.storeDir}`);
console.log(`  logs         ${mq.logDir}`);
console.log('Ctrl-C to stop.');

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  console.log('stopping...');
  await mq.stop();
  console.log('stopped.');
  process.exit(0);
};
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
