/**
 * The broker process: one TCP port answering both name-server and broker request codes, over one
 * message store. `BrokerServer.start(config)` opens the store, starts the services and listens;
 * `shutdown()` stops accepting, drops connections, flushes offsets and closes the store (which
 * writes the clean-shutdown marker). Signal handling lives in the CLI entry point.
 */
import { lookup } from 'node:dns/promises';
import { createServer, isIPv4, type AddressInfo, type Server, type Socket } from 'node:net';
import { pino, type Logger } from 'pino';
import { createResponse, isResponse, type RemotingCommand } from '../protocol/remoting-command.js';
import { ResponseCode } from '../protocol/response-code.js';
import { systemClock, type Clock } from '../storage/clock.js';
import { MessageStore } from '../storage/message-store.js';
import type { MessageStoreApi } from '../storage/types.js';
import type { BrokerContext, PutMessageHook, RequestContext } from './broker-context.js';
import { ClientRegistry, type ClientChannel } from './client-registry.js';
import { advertisedHostOf, type BrokerConfig } from './config.js';
import { Connection } from './connection.js';
import { ConsumerOffsetManager } from './consumer-offset-manager.js';
import { findHandler } from './handlers/index.js';
import { respond } from './handlers/request-fields.js';
import { notifyConsumerIdsChanged } from './handlers/notify-consumer-ids-changed.js';
import { indexKeysOf } from './handlers/put-message.js';
import { PullHoldService } from './pull-hold-service.js';
import { QueueLockService } from './queue-lock-service.js';
import { TopicConfigManager } from './topic-config-manager.js';
import { transactionPutMessageHook } from './transaction/half-message.js';
import { sendTransactionCheck } from './handlers/check-transaction-state.js';
import { TransactionCheckService } from './transaction/transaction-check-service.js';
import { DelayDeliveryService } from './delay/delay-delivery-service.js';
import { delayPutMessageHook } from './delay/delay-queue.js';
import { parseDelaySchedule } from './delay/delay-schedule.js';

export interface BrokerServerOptions {
  logger?: Logger;
  clock?: Clock;
}

function unsupported(_ctx: RequestContext, request: RemotingCommand): RemotingCommand {
  return createResponse(request, ResponseCode.REQUEST_CODE_NOT_SUPPORTED, undefined, `request code ${request.code} not supported`);
}

export class BrokerServer {
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly context: BrokerContext,
    private readonly server: Server,
    /** Shared with the context (handlers reach other connections through it). */
    private readonly connections: Map<number, Connection>,
    private readonly detachAppendListener: () => void,
  ) {}

  static async start(config: BrokerConfig, options: BrokerServerOptions = {}): Promise<BrokerServer> {
    const logger = options.logger ?? pino({ level: config.logLevel, name: 'ferrymq' }, pino.destination(2));
    const clock = options.clock ?? systemClock;
    const advertisedHost = advertisedHostOf(config);
    // Message ids hold an IPv4 address: resolve a host name once, at start.
    const storeIp = isIPv4(advertisedHost) ? advertisedHost : (await lookup(advertisedHost, { family: 4 })).address;
    const store: MessageStoreApi = await MessageStore.open({
      dataDir: config.dataDir,
      config: config.store,
      storeHost: { ip: storeIp, port: config.port },
      logger,
      keysOf: indexKeysOf,
    });

    const connections = new Map<number, Connection>();
    const clients = new ClientRegistry({
      expiryMs: config.channelIdleTimeoutMs,
      scanIntervalMs: config.clientScanIntervalMs,
      clock,
      logger,
      onConsumerIdsChanged: (group, channels) => notifyConsumerIdsChanged(connections, group, channels),
      onChannelExpired: (channel: ClientChannel) => connections.get(channel.id)?.close('client expired'),
    });
    const offsets = new ConsumerOffsetManager(store.meta, { clock, logger });
    const topics = new TopicConfigManager(store.meta, {
      autoCreateTopicEnable: config.autoCreateTopicEnable,
      defaultTopicQueueNums: config.defaultTopicQueueNums,
      autoCreateSubscriptionGroup: config.autoCreateSubscriptionGroup,
      retryQueueNums: config.retryQueueNums,
      isGroupOnline: (group) => clients.hasConsumerGroup(group),
    });
    const pullHolds = new PullHoldService({
      maxPerConnection: config.maxHeldPullsPerConnection,
      maxTotal: config.maxHeldPullsTotal,
      maxOffsetOf: (topic, queueId) => store.maxOffset(topic, queueId),
      clock,
    });
    const delaySchedule = parseDelaySchedule(config.messageDelayLevel);
    // Half messages first: a prepared message is parked as is, its DELAY applies once committed.
    const putMessageHooks: PutMessageHook[] = [transactionPutMessageHook(), delayPutMessageHook(delaySchedule, clock)];
    const delayDelivery = new DelayDeliveryService({ store, schedule: delaySchedule, clock, logger });
    const transactions = new TransactionCheckService({
      store,
      topics,
      timeoutMs: config.transactionTimeoutMs,
      checkIntervalMs: config.transactionCheckIntervalMs,
      maxChecks: config.transactionCheckMax,
      sendCheck: (group, header, body) => sendTransactionCheck(connections, clients, group, header, body),
      clock,
      logger,
    });
    // Before listening: a check must not miss resolutions written before the last shutdown.
    try {
      await transactions.start();
    } catch (err) {
      await store.close();
      throw err;
    }
    const server = createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: config.host, port: config.port }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      await transactions.shutdown();
      await store.close();
      throw err;
    }
    const port = (server.address() as AddressInfo).port;
    const storeHost = { ip: storeIp, port };
    store.setStoreHost(storeHost);
    const context: BrokerContext = {
      config,
      store,
      logger,
      clock,
      topics,
      offsets,
      clients,
      locks: new QueueLockService(config.lockLeaseMs, clock),
      pullHolds,
      putMessageHooks,
      delayDelivery,
      transactions,
      advertisedAddress: `${advertisedHost}:${port}`,
      storeHost,
      startedAt: clock.now(),
      connections,
    };
    // The store calls listeners a turn after the append resolved, so the send response is written first.
    const detach = store.onAppend((topic, queueId, maxOffset) => pullHolds.notify(topic, queueId, maxOffset));
    const broker = new BrokerServer(context, server, connections, detach);
    offsets.start();
    delayDelivery.start();
    clients.start();
    context.locks.start();
    pullHolds.start();
    server.on('connection', (socket) => broker.accept(socket));
    logger.info({ address: `${config.host}:${port}`, advertised: context.advertisedAddress }, 'broker listening');
    return broker;
  }

  /** The listening address (the real port when configured with port 0). */
  address(): { host: string; port: number } {
    const info = this.server.address() as AddressInfo;
    return { host: info.address, port: info.port };
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Stops accepting, closes every connection, stops the services and closes the store. Idempotent. */
  shutdown(): Promise<void> {
    this.stopping ??= this.doShutdown();
    return this.stopping;
  }

  private async doShutdown(): Promise<void> {
    const { context } = this;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.detachAppendListener();
    context.pullHolds.shutdown();
    for (const connection of [...this.connections.values()]) connection.close('broker shutting down');
    await context.clients.shutdown();
    await context.locks.shutdown();
    await context.offsets.shutdown();
    await context.transactions.shutdown();
    await context.delayDelivery.shutdown();
    await closed;
    await context.store.close();
    context.logger.info('broker stopped');
  }

  private accept(socket: Socket): void {
    const { config, logger } = this.context;
    if (this.stopping) {
      socket.destroy();
      return;
    }
    if (this.connections.size >= config.maxConnections) {
      logger.warn({ remote: socket.remoteAddress, max: config.maxConnections }, 'connection refused: maxConnections reached');
      socket.destroy();
      return;
    }
    // One handler context per connection, not one per request.
    let ctx: RequestContext | undefined;
    const connection = new Connection(socket, {
      maxFrameSize: config.maxFrameSize,
      halfFrameTimeoutMs: config.halfFrameTimeoutMs,
      idleTimeoutMs: config.channelIdleTimeoutMs,
      maxPendingWriteBytes: config.maxPendingWriteBytesPerConnection,
      logger,
      onCommand: (conn, command) => this.dispatch((ctx ??= { broker: this.context, connection: conn }), command),
      onClose: (conn) => {
        this.connections.delete(conn.id);
        this.context.pullHolds.dropConnection(conn.id);
        this.context.clients.channelClosed(conn);
      },
    });
    this.connections.set(connection.id, connection);
  }

  private dispatch(ctx: RequestContext, request: RemotingCommand): void {
    // Clients answer nothing the broker needs (NOTIFY is oneway); stray responses are dropped.
    if (isResponse(request)) return;
    respond(ctx, request, findHandler(request.code) ?? unsupported);
  }

}
