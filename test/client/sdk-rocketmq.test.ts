/**
 * The SDK's integration suite against a real Apache RocketMQ (started once for this file): the
 * same tests as against FerryMQ.
 * Skips only when `java` or `mvn` is missing.
 */
import { afterAll, beforeAll, describe } from 'vitest';
import { BrokerApi } from '../../client/broker-api.js';
import { RemotingClient } from '../../client/remoting-client.js';
import { waitFor } from '../helpers/common.js';
import { javaToolchainMissing, startRocketMQ, type RocketMQ } from '../helpers/rocketmq.js';
import { sdkSuite } from './sdk-suite.js';

const missing = javaToolchainMissing();
if (missing) console.warn(`SDK compatibility tests against Apache RocketMQ skipped: ${missing}`);

describe.skipIf(missing !== null)('SDK against Apache RocketMQ', () => {
  let mq: RocketMQ;
  let remoting: RemotingClient;
  let api: BrokerApi;

  beforeAll(async () => {
    mq = await startRocketMQ({ brokerConfig: { messageDelayLevel: Array(18).fill('1s').join(' ') } });
    remoting = new RemotingClient();
    api = new BrokerApi(remoting, 5_000);
  }, 180_000);

  afterAll(async () => {
    remoting?.close();
    await mq?.stop();
  }, 60_000);

  sdkSuite(
    () => ({
      nameSrv: mq.nameSrv,
      createTopic: async (topic, queues) => {
        await api.createTopic(mq.brokerAddr, topic, { readQueueNums: queues, writeQueueNums: queues });
        await waitFor(async () => (await api.getRoute(mq.nameSrv, topic))?.queueDatas?.[0]?.readQueueNums === queues, { what: `route of ${topic}`, timeoutMs: 15_000 });
      },
    }),
  );
});
