import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerApi } from '../../client/broker-api.js';
import { RemotingClient } from '../../client/remoting-client.js';
import { BrokerResponseError, ConnectionClosedError, RequestTimeoutError } from '../../protocol/errors.js';
import { FrameDecoder, encodeFrame } from '../../protocol/frame-codec.js';
import { createRequest, createResponse, isResponse, markOneway, type RemotingCommand } from '../../protocol/remoting-command.js';
import { ResponseCode } from '../../protocol/response-code.js';
import { waitFor } from '../helpers/common.js';

/** A tiny broker stand-in: `onRequest` decides what (if anything) to answer. */
async function startFakeServer(onRequest: (cmd: RemotingCommand, socket: Socket) => void) {
  const sockets = new Set<Socket>();
  const received: RemotingCommand[] = [];
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const decoder = new FrameDecoder({ maxFrameSize: 1 << 20 });
    socket.on('data', (chunk) => {
      for (const cmd of decoder.push(chunk)) {
        received.push(cmd);
        onRequest(cmd, socket);
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    address: `127.0.0.1:${port}`,
    port,
    sockets,
    received,
    send: (socket: Socket, cmd: RemotingCommand) => { for (const part of encodeFrame(cmd)) socket.write(part); },
    dropAll: () => { for (const s of sockets) s.destroy(); },
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}

const reply = (server: { send: (s: Socket, c: RemotingCommand) => void }) => (cmd: RemotingCommand, socket: Socket) => {
  if (!isResponse(cmd)) server.send(socket, createResponse(cmd, ResponseCode.SUCCESS, { echo: cmd.extFields.n }));
};

describe('RemotingClient', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => { for (const c of cleanups.splice(0)) await c(); });

  it('matches concurrent responses by opaque, whatever their order', async () => {
    let server!: Awaited<ReturnType<typeof startFakeServer>>;
    const held: Array<[RemotingCommand, Socket]> = [];
    server = await startFakeServer((cmd, socket) => {
      held.push([cmd, socket]);
      if (held.length === 3) for (const [c, s] of held.reverse()) server.send(s, createResponse(c, 0, { echo: c.extFields.n }));
    });
    cleanups.push(server.close);
    const client = new RemotingClient();
    cleanups.push(() => client.close());
    const answers = await Promise.all([1, 2, 3].map((n) => client.invoke(server.address, createRequest(34, { n }))));
    expect(answers.map((a) => a.extFields.echo)).toEqual(['1', '2', '3']);
    expect(server.sockets.size).toBe(1);
  });

  it('times out one request without failing the others on the same connection', async () => {
    let server!: Awaited<ReturnType<typeof startFakeServer>>;
    server = await startFakeServer((cmd, socket) => {
      if (cmd.extFields.n !== 'silent') server.send(socket, createResponse(cmd, 0, { echo: cmd.extFields.n }));
    });
    cleanups.push(server.close);
    const client = new RemotingClient();
    cleanups.push(() => client.close());
    const silent = client.invoke(server.address, createRequest(34, { n: 'silent' }), 150);
    const answered = client.invoke(server.address, createRequest(34, { n: 'x' }), 2_000);
    await expect(silent).rejects.toBeInstanceOf(RequestTimeoutError);
    expect((await answered).extFields.echo).toBe('x');
    expect((await client.invoke(server.address, createRequest(34, { n: 'y' }))).extFields.echo).toBe('y');
    expect(server.sockets.size).toBe(1);
  });

  it('times out a short request sent after a longer one, and each later one at its own deadline', async () => {
    const server = await startFakeServer(() => {});
    cleanups.push(server.close);
    const client = new RemotingClient();
    cleanups.push(() => client.close());
    const started = performance.now();
    const long = client.invoke(server.address, createRequest(34, { n: 'long' }), 10_000);
    long.catch(() => {});
    const timedOutAfter = (timeoutMs: number) =>
      client.invoke(server.address, createRequest(34, { n: timeoutMs }), timeoutMs).then(
        () => { throw new Error('answered'); },
        (error: unknown) => {
          expect(error).toBeInstanceOf(RequestTimeoutError);
          return performance.now() - started;
        },
      );
    const [first, second] = await Promise.all([timedOutAfter(100), timedOutAfter(400)]);
    expect(first).toBeGreaterThanOrEqual(95);
    expect(first).toBeLessThan(2_000);
    expect(second).toBeGreaterThanOrEqual(395);
    expect(second).toBeLessThan(5_000);
    client.close();
    await expect(long).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it('fails pending calls when the connection drops and reconnects on the next call', async () => {
    let server!: Awaited<ReturnType<typeof startFakeServer>>;
    server = await startFakeServer((cmd, socket) => {
      if (cmd.extFields.n === 'drop') socket.destroy();
      else server.send(socket, createResponse(cmd, 0, { echo: cmd.extFields.n }));
    });
    cleanups.push(server.close);
    const client = new RemotingClient();
    cleanups.push(() => client.close());
    await expect(client.invoke(server.address, createRequest(34, { n: 'drop' }), 5_000)).rejects.toBeInstanceOf(ConnectionClosedError);
    expect((await client.invoke(server.address, createRequest(34, { n: 'again' }))).extFields.echo).toBe('again');
  });

  it('gives up connecting after its retries with a ConnectionClosedError', async () => {
    const server = await startFakeServer(() => {});
    await server.close();
    const client = new RemotingClient({ connectRetries: 2, backoff: { initialDelayMs: 5 } });
    cleanups.push(() => client.close());
    await expect(client.invoke(server.address, createRequest(34))).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it('serves broker-initiated requests: a registered handler, and code 3 for unknown codes', async () => {
    let server!: Awaited<ReturnType<typeof startFakeServer>>;
    const responses: RemotingCommand[] = [];
    server = await startFakeServer((cmd, socket) => {
      if (isResponse(cmd)) responses.push(cmd);
      else server.send(socket, createResponse(cmd, 0));
    });
    cleanups.push(server.close);
    const client = new RemotingClient();
    cleanups.push(() => client.close());
    const notified: string[] = [];
    client.onRequest(40, (req) => { notified.push(req.extFields.consumerGroup!); return undefined; });
    await client.invoke(server.address, createRequest(34));
    const socket = [...server.sockets][0]!;
    server.send(socket, markOneway(createRequest(40, { consumerGroup: 'g1' })));
    server.send(socket, createRequest(9999, {}, undefined, { opaque: 777 }));
    await waitFor(() => notified.length === 1 && responses.length === 1, { what: 'notify handled and unknown code answered' });
    expect(notified).toEqual(['g1']);
    expect(responses[0]!.code).toBe(ResponseCode.REQUEST_CODE_NOT_SUPPORTED);
    expect(responses[0]!.opaque).toBe(777);
  });

  it('closes a connection that sends garbage', async () => {
    const server = await startFakeServer((cmd, socket) => {
      socket.write(Buffer.from([0, 0, 0, 1, 9, 9, 9, 9, 9]));
    });
    cleanups.push(server.close);
    const client = new RemotingClient();
    cleanups.push(() => client.close());
    await expect(client.invoke(server.address, createRequest(34), 5_000)).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it('turns a response code it does not know into an explicit typed error', async () => {
    let server!: Awaited<ReturnType<typeof startFakeServer>>;
    server = await startFakeServer((cmd, socket) => server.send(socket, createResponse(cmd, cmd.code === 30 ? 999 : ResponseCode.TOPIC_NOT_EXIST, undefined, 'remark from broker')));
    cleanups.push(server.close);
    const client = new RemotingClient();
    cleanups.push(() => client.close());
    const api = new BrokerApi(client, 2_000);
    const unknown = await api.maxOffset(server.address, { topic: 'T', brokerName: 'b', queueId: 0 }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(BrokerResponseError);
    expect((unknown as BrokerResponseError).message).toMatch(/unknown response code 999/);
    expect((unknown as BrokerResponseError).code).toBe(999);
    const known = await api.minOffset(server.address, { topic: 'T', brokerName: 'b', queueId: 0 }).catch((e: unknown) => e);
    expect((known as BrokerResponseError).codeName).toBe('TOPIC_NOT_EXIST');
    expect((known as BrokerResponseError).remark).toBe('remark from broker');
  });
});
