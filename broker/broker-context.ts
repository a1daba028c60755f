/**
 * What a request handler can reach: the broker-wide services, plus the connection the request
 * came on. Handlers are `(ctx, request) => response | null` (null = nothing to answer).
 */
import type { Logger } from 'pino';
import type { RemotingCommand } from '../protocol/remoting-command.js';
import type { Clock } from '../storage/clock.js';
import type { MessageStoreApi, MessageToAppend } from '../storage/types.js';
import type { ClientRegistry } from './client-registry.js';
import type { BrokerConfig } from './config.js';
import type { Connection } from './connection.js';
import type { ConsumerOffsetManager } from './consumer-offset-manager.js';
import type { DelayDeliveryService } from './delay/delay-delivery-service.js';
import type { PullHoldService } from './pull-hold-service.js';
import type { QueueLockService } from './queue-lock-service.js';
import type { TopicConfigManager } from './topic-config-manager.js';
import type { PropertyView } from './handlers/put-message.js';
import type { TransactionCheckService } from './transaction/transaction-check-service.js';

/**
 * A step of the send path between building a message and appending it. It may rewrite the message
 * (e.g. the delay queue of issue #7 parks a `DELAY` message on its schedule topic) or return it as is.
 * `properties` is a view of `message.properties`: ask for the map only on the rare path, it costs a decode.
 */
export type PutMessageHook = (message: MessageToAppend, properties: PropertyView) => MessageToAppend;

export interface BrokerContext {
  readonly config: BrokerConfig;
  readonly store: MessageStoreApi;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly topics: TopicConfigManager;
  readonly offsets: ConsumerOffsetManager;
  readonly clients: ClientRegistry;
  readonly locks: QueueLockService;
  readonly pullHolds: PullHoldService;
  /** Moves due delayed and retried messages to their topics (issue #7). */
  readonly delayDelivery: DelayDeliveryService;
  /** Resolved half messages and the producer state check. */
  readonly transactions: TransactionCheckService;
  /** Applied in order to every message before it is appended (send, batch send). */
  readonly putMessageHooks: PutMessageHook[];
  /** `host:port` that clients are told to use (routes, message ids). */
  readonly advertisedAddress: string;
  readonly storeHost: { ip: string; port: number };
  readonly startedAt: number;
  /** Live connections by id (notifications to other clients). */
  readonly connections: ReadonlyMap<number, Connection>;
}

export interface RequestContext {
  readonly broker: BrokerContext;
  readonly connection: Connection;
}

/**
 * One request code's handler: the response, or null when there is none to send (yet: a held pull
 * answers later). A handler that never waits may answer synchronously.
 */
export type RequestHandler = (ctx: RequestContext, request: RemotingCommand) => HandlerAnswer;

/** What a handler answers: now, or once a promise settles. */
export type HandlerAnswer = RemotingCommand | null | Promise<RemotingCommand | null>;
