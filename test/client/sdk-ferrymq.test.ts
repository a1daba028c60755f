/** The SDK integration suite against FerryMQ's own broker, in-process on port 0. */
import { afterAll, beforeAll, describe } from 'vitest';
import { createTopic, startBroker, type TestBroker } from '../helpers/broker.js';
import { sdkSuite } from './sdk-suite.js';

let broker: TestBroker;

beforeAll(async () => {
  broker = await startBroker({ messageDelayLevel: '1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s 1s' });
});
afterAll(async () => {
  await broker?.stop();
});

describe('SDK against FerryMQ', () => {
  sdkSuite(
    () => ({
      nameSrv: broker.nameSrv,
      createTopic: async (topic, queues) => createTopic(broker, topic, queues),
    }),
  );
});
