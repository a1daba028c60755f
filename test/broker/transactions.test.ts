import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeRecord, scanRecords } from '../../protocol/message-codec.js';
import { decodeOffsetMsgId } from '../../protocol/message-id.js';
import type { RemotingCommand } from '../../protocol/remoting-command.js';
import { RequestCode } from '../../protocol/request-code.js';
import { ResponseCode } from '../../protocol/response-code.js';
import { uniqueName, waitFor } from '../helpers/common.js';
import { createTopic, RawClient, sendHeaderV2, startBroker, type TestBroker } from '../helpers/broker.js';

let broker: TestBroker;

beforeAll(async () => {
  broker = await startBroker({ transactionTimeoutMs: 100, transactionCheckIntervalMs: 100, transactionCheckMax: 3 });
});
afterAll(() => broker.stop());

async function producer(group: string): Promise<RawClient> {
  const client = await RawClient.connect(broker.port);
  const heartbeat = { clientID: uniqueName('p'), producerDataSet: [{ groupName: group }], consumerDataSet: [] };
  expect((await client.request(RequestCode.HEART_BEAT, {}, Buffer.from(JSON.stringify(heartbeat)))).code).toBe(0);
  return client;
}

function sendHalf(client: RawClient, topic: string, group: string, body: string) {
  const header = sendHeaderV2(topic, {
    producerGroup: group,
    sysFlag: 4,
    properties: `TRAN_MSG\u0001true\u0002PGROUP\u0001${group}\u0002UNIQ_KEY\u0001${uniqueName('U')}\u0002`,
  });
  return client.request(RequestCode.SEND_MESSAGE_V2, header, Buffer.from(body));
}

function endTransaction(client: RawClient, group: string, sent: { tranStateTableOffset: string; commitLogOffset: string }, commitOrRollback: number) {
  return client.request(RequestCode.END_TRANSACTION, { producerGroup: group, ...sent, commitOrRollback, fromTransactionCheck: true });
}

function pullAll(client: RawClient, topic: string) {
  return client.request(RequestCode.PULL_MESSAGE, { consumerGroup: 'CG', topic, queueId: 0, queueOffset: 0, maxMsgNums: 32, sysFlag: 4, commitOffset: 0, suspendTimeoutMillis: 0, subscription: '*' });
}

const checksFor = (client: RawClient, commitLogOffset: number) =>
  client.serverRequests.filter((r) => r.code === RequestCode.CHECK_TRANSACTION_STATE && Number(r.extFields.commitLogOffset) === commitLogOffset);

describe('transaction state checks', () => {
  it('asks the producer about an unresolved half message and applies its answer once', async () => {
    const topic = uniqueName('txcheck');
    const group = uniqueName('PG');
    createTopic(broker, topic, 1);
    const client = await producer(group);
    const sent: RemotingCommand = await sendHalf(client, topic, group, 'decided-later');
    expect(sent.code).toBe(ResponseCode.SUCCESS);
    const commitLogOffset = decodeOffsetMsgId(sent.extFields.msgId).physicalOffset;

    await waitFor(() => checksFor(client, commitLogOffset).length > 0, { timeoutMs: 5000, what: 'CHECK_TRANSACTION_STATE' });
    const check = checksFor(client, commitLogOffset)[0];
    expect(check.flag & 2).toBe(2);
    expect(check.extFields.tranStateTableOffset).toBe(sent.extFields.queueOffset);
    const asked = decodeRecord(check.body!);
    expect(asked.topic).toBe(topic); // the producer sees the message on its real topic
    expect(asked.body.toString()).toBe('decided-later');

    const answer = { tranStateTableOffset: check.extFields.tranStateTableOffset, commitLogOffset: check.extFields.commitLogOffset };
    expect((await endTransaction(client, group, answer, 8)).code).toBe(ResponseCode.SUCCESS);
    expect((await endTransaction(client, group, answer, 8)).code).toBe(ResponseCode.SUCCESS); // a repeat is ignored
    const pulled = await pullAll(client, topic);
    expect(scanRecords(pulled.body!).records.map((r) => r.body.toString())).toEqual(['decided-later']);

    const checksSoFar = checksFor(client, commitLogOffset).length;
    await new Promise((r) => setTimeout(r, 400));
    expect(checksFor(client, commitLogOffset).length).toBe(checksSoFar); // resolved: no more checks
    client.close();
  });

  it('gives up after transactionCheckMax unanswered checks, and remembers resolutions across a restart', async () => {
    const topic = uniqueName('txgiveup');
    const group = uniqueName('PG');
    createTopic(broker, topic, 1);
    let client = await producer(group);
    const ignored = await sendHalf(client, topic, group, 'never-answered');
    const rolledBack = await sendHalf(client, topic, group, 'rolled-back');
    const ignoredOffset = decodeOffsetMsgId(ignored.extFields.msgId).physicalOffset;
    const rolledBackOffset = decodeOffsetMsgId(rolledBack.extFields.msgId).physicalOffset;
    expect(
      (await endTransaction(client, group, { tranStateTableOffset: rolledBack.extFields.queueOffset, commitLogOffset: String(rolledBackOffset) }, 12)).code,
    ).toBe(ResponseCode.SUCCESS);
    // On a slow box a check may come before the rollback lands (timeout 100 ms); none may come after it.
    const checksBeforeRollback = checksFor(client, rolledBackOffset).length;
    await waitFor(() => checksFor(client, ignoredOffset).length >= 3, { timeoutMs: 5000, what: '3 checks' });
    await new Promise((r) => setTimeout(r, 400));
    expect(checksFor(client, ignoredOffset)).toHaveLength(3);
    expect(checksFor(client, rolledBackOffset)).toHaveLength(checksBeforeRollback);
    client.close();

    await broker.restart();
    client = await producer(group);
    await new Promise((r) => setTimeout(r, 400));
    expect(checksFor(client, ignoredOffset)).toHaveLength(0);
    expect(checksFor(client, rolledBackOffset)).toHaveLength(0);
    expect((await pullAll(client, topic)).code).toBe(ResponseCode.PULL_NOT_FOUND);
    client.close();
  });
});
