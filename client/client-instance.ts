import { randomBytes } from 'node:crypto';
import { decodeResetOffsetBody } from '../protocol/admin-bodies.js';
import type { ConsumerData, HeartbeatData, TopicRouteData } from '../protocol/bodies.js';
import { FerryMQError, InvalidArgumentError } from '../protocol/errors.js';
import { localIPv4 } from '../protocol/message-id.js';
import { createResponse, type RemotingCommand } from '../protocol/remoting-command.js';
import { RequestCode } from '../protocol/request-code.js';
import { ResponseCode } from '../protocol/response-code.js';
import { BrokerApi, type HeaderFormat } from './broker-api.js';
import { IntervalTask, systemClock, type Clock } from '../storage/clock.js';
import { defaultLogger, type Logger } from './logger.js';
import { compareQueues, queueKey, type MessageQueue } from './message-queue.js';
import type { BrokerOffsetBackend } from './offset-store.js';
import { RemotingClient, type RemotingClientOptions } from './remoting-client.js';

/** Options shared by producers and consumers. */
export interface ClientOptions {
  /** Name server address(es): `host:port`, a list, or `a:1;b:2`. */
  nameServer: string | readonly string[];
  /**
   * Names this client process for the broker. The client id is `<ip>@<instanceName>`. By default every
   * process gets a random suffix, so two containers with the same pid never share an id.
   */
  instanceName?: string;
  /** IP used in the client id; the first non-internal IPv4 by default. */
  clientIp?: string;
  /** Per-request timeout for everything except sends and long pulls. Default 3000. */
  requestTimeoutMs?: number;
  /** Route refresh from the name server. Default 30 s. */
  routeRefreshIntervalMs?: number;
  /** Heartbeats to every broker. Default 30 s. */
  heartbeatIntervalMs?: number;
  /**
   * Request header serialization: `ROCKETMQ` (RocketMQ's compact binary layout, the default) or
   * `JSON`. FerryMQ and Apache RocketMQ brokers accept both and answer in the request's format.
   */
  headerFormat?: HeaderFormat;
  /** Connection tuning (connect timeout, reconnect backoff, frame limit). */
  remoting?: Omit<RemotingClientOptions, 'logger' | 'requestTimeoutMs'>;
  logger?: Logger;
  clock?: Clock;
}

/** What the instance needs from a producer or consumer sharing it. */
export interface ClientMember {
  readonly kind: 'producer' | 'consumer';
  readonly group: string;
  /** Topics whose routes the instance keeps fresh for this member. */
  topics(): Iterable<string>;
  /** Consumers: heartbeat content. */
  consumerData?(): ConsumerData;
  /** Consumers: the broker says the group's members changed (40). */
  onConsumerIdsChanged?(): void;
  /**
   * Consumers: the broker asks to move to these offsets (220, after an offset reset). `offsets` is
   * keyed by `queueKey`; a queue missing from it moves by `timestamp` (-1 = its end).
   */
  resetOffsets?(topic: string, offsets: ReadonlyMap<string, number> | undefined, timestamp: number): Promise<void>;
}

const processInstanceName = `${process.pid}-${randomBytes(3).toString('hex')}`;

/**
 * The per-process hub shared by every producer and consumer with the same name server and
 * instance name: one RemotingClient (one connection per broker), the route table refreshed every
 * 30 s, heartbeats every 30 s, and the broker-initiated requests routed to the right consumer.
 */
export class ClientInstance {
  private static readonly shared = new Map<string, ClientInstance>();

  readonly clientId: string;
  readonly api: BrokerApi;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly requestTimeoutMs: number;
  private readonly remoting: RemotingClient;
  private readonly nameServers: string[];
  private nameServerIndex = 0;
  private readonly members = new Set<ClientMember>();
  private readonly routes = new Map<string, TopicRouteData>();
  private readonly brokerAddrs = new Map<string, Record<string, string>>();
  private readonly routeRefresh: IntervalTask;
  private readonly heartbeats: IntervalTask;

  /** Shares an instance per (name server, instance name); a second member of one group gets its own instance. */
  static acquire(options: ClientOptions, member: ClientMember): ClientInstance {
    const nameServers = parseNameServers(options.nameServer);
    const keyPrefix = `${nameServers.join(';')}|`;
    const name = options.instanceName ?? processInstanceName;
    let instance = ClientInstance.shared.get(keyPrefix + name);
    if (instance?.hasGroup(member)) {
      if (options.instanceName !== undefined) {
        throw new InvalidArgumentError(`${member.kind} group "${member.group}" already runs in instance "${name}"; give each member its own instanceName`);
      }
      instance = undefined;
    }
    if (!instance) {
      const instanceName = ClientInstance.shared.has(keyPrefix + name) ? `${name}-${randomBytes(3).toString('hex')}` : name;
      instance = new ClientInstance(nameServers, instanceName, options, keyPrefix + instanceName);
      ClientInstance.shared.set(keyPrefix + instanceName, instance);
      instance.start();
    }
    instance.members.add(member);
    return instance;
  }

  private constructor(nameServers: string[], instanceName: string, options: ClientOptions, private readonly sharedKey: string) {
    this.nameServers = nameServers;
    this.clientId = `${options.clientIp ?? localIPv4()}@${instanceName}`;
    this.logger = (options.logger ?? defaultLogger()).child({ clientId: this.clientId });
    this.clock = options.clock ?? systemClock;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 3_000;
    this.remoting = new RemotingClient({ ...options.remoting, requestTimeoutMs: this.requestTimeoutMs, logger: this.logger });
    this.api = new BrokerApi(this.remoting, this.requestTimeoutMs, options.headerFormat);
    const logError = (what: string) => (err: unknown) => this.logger.warn({ err }, what);
    this.routeRefresh = new IntervalTask(options.routeRefreshIntervalMs ?? 30_000, () => this.refreshAllRoutes(), this.clock, logError('route refresh failed'));
    this.heartbeats = new IntervalTask(options.heartbeatIntervalMs ?? 30_000, () => this.sendHeartbeat(), this.clock, logError('heartbeat failed'));
    this.remoting.onRequest(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, (request) => this.onConsumerIdsChanged(request));
    this.remoting.onRequest(RequestCode.RESET_CONSUMER_CLIENT_OFFSET, (request) => this.onResetOffset(request));
  }

  /** How long to wait for a pull the broker may hold `suspendMs`: the hold, a request timeout and 2 s of slack. */
  longPollTimeoutMs(suspendMs: number): number {
    return suspendMs + this.requestTimeoutMs + 2_000;
  }

  /** Adds a member without the one-member-per-group check (internal producers share a group name). */
  join(member: ClientMember): void {
    this.members.add(member);
  }

  private start(): void {
    this.routeRefresh.start();
    this.heartbeats.start();
  }

  private hasGroup(member: ClientMember): boolean {
    for (const m of this.members) if (m.kind === member.kind && m.group === member.group) return true;
    return false;
  }

  /** Removes a member: unregisters its group from every broker, and closes the instance when it was the last one. */
  async release(member: ClientMember): Promise<void> {
    if (!this.members.delete(member)) return;
    const group = member.kind === 'producer' ? { producerGroup: member.group } : { consumerGroup: member.group };
    await Promise.allSettled(this.brokerAddresses().map((addr) => this.api.unregister(addr, this.clientId, group)));
    if (this.members.size > 0) return;
    if (ClientInstance.shared.get(this.sharedKey) === this) ClientInstance.shared.delete(this.sharedKey);
    await this.routeRefresh.shutdown();
    await this.heartbeats.shutdown();
    this.remoting.close();
  }

  // ---- routes ----

  /** Fetches a topic's route from the name servers (trying each in turn); undefined if the topic does not exist. */
  async updateRoute(topic: string): Promise<TopicRouteData | undefined> {
    let lastError: unknown;
    for (let i = 0; i < this.nameServers.length; i++) {
      const address = this.nameServers[(this.nameServerIndex + i) % this.nameServers.length]!;
      try {
        const route = await this.api.getRoute(address, topic);
        this.nameServerIndex = (this.nameServerIndex + i) % this.nameServers.length;
        if (!route) return undefined;
        this.routes.set(topic, route);
        for (const broker of route.brokerDatas ?? []) this.brokerAddrs.set(broker.brokerName, { ...broker.brokerAddrs });
        return route;
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  /** The cached route, fetched on first use. */
  async route(topic: string): Promise<TopicRouteData | undefined> {
    return this.routes.get(topic) ?? (await this.updateRoute(topic));
  }

  cachedRoute(topic: string): TopicRouteData | undefined {
    return this.routes.get(topic);
  }

  async refreshAllRoutes(): Promise<void> {
    const topics = new Set<string>();
    for (const member of this.members) for (const topic of member.topics()) topics.add(topic);
    await Promise.allSettled([...topics].map((topic) => this.updateRoute(topic)));
  }

  /** Writable queues of brokers that have a master, sorted. */
  publishQueues(route: TopicRouteData, topic: string): MessageQueue[] {
    return expandQueues(route, topic, 2, 'writeQueueNums').filter((mq) => this.masterAddress(mq.brokerName) !== undefined);
  }

  /** Readable queues, sorted. */
  subscribeQueues(route: TopicRouteData, topic: string): MessageQueue[] {
    return expandQueues(route, topic, 4, 'readQueueNums');
  }

  masterAddress(brokerName: string): string | undefined {
    return this.brokerAddrs.get(brokerName)?.['0'];
  }

  /** The master of a broker, refreshing routes once if it is not known yet. */
  async requireMaster(brokerName: string): Promise<string> {
    let address = this.masterAddress(brokerName);
    if (!address) {
      await this.refreshAllRoutes();
      address = this.masterAddress(brokerName);
    }
    if (!address) throw new FerryMQError(`no master address known for broker "${brokerName}"`, { retriable: true });
    return address;
  }

  brokerAddresses(): string[] {
    const out = new Set<string>();
    for (const addrs of this.brokerAddrs.values()) for (const addr of Object.values(addrs)) out.add(addr);
    return [...out].sort();
  }

  // ---- heartbeats and broker-initiated requests ----

  async sendHeartbeat(): Promise<void> {
    const data: HeartbeatData = { clientID: this.clientId, producerDataSet: [], consumerDataSet: [] };
    for (const member of this.members) {
      if (member.kind === 'producer') data.producerDataSet.push({ groupName: member.group });
      else if (member.consumerData) data.consumerDataSet.push(member.consumerData());
    }
    const results = await Promise.allSettled(this.brokerAddresses().map((addr) => this.api.heartbeat(addr, data)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Offsets on the broker that owns each queue, for `BrokerOffsetStore`. */
  offsetBackend(): BrokerOffsetBackend {
    return {
      queryOffset: async (group, mq) => this.api.queryConsumerOffset(await this.requireMaster(mq.brokerName), group, mq),
      updateOffset: async (group, mq, offset) => this.api.updateConsumerOffset(await this.requireMaster(mq.brokerName), group, mq, offset),
    };
  }

  /** Live members of a consumer group, asked of the brokers serving the topic in turn. Sorted. */
  async consumerIds(group: string, topic: string): Promise<string[]> {
    const route = await this.route(topic);
    let lastError: unknown;
    for (const brokerName of (route?.brokerDatas ?? []).map((b) => b.brokerName).sort()) {
      try {
        const ids = await this.api.consumerIds(await this.requireMaster(brokerName), group);
        return [...new Set(ids)].sort();
      } catch (error) {
        lastError = error;
      }
    }
    if (lastError) throw lastError;
    return [];
  }

  private onConsumerIdsChanged(request: RemotingCommand): undefined {
    const group = request.extFields.consumerGroup;
    for (const member of this.members) if (member.kind === 'consumer' && member.group === group) member.onConsumerIdsChanged?.();
    return undefined;
  }

  private async onResetOffset(request: RemotingCommand): Promise<RemotingCommand> {
    const { topic, group } = request.extFields;
    const timestamp = Number(request.extFields.timestamp ?? -1);
    let offsets: Map<string, number> | undefined;
    if (request.body && request.body.length > 0) {
      try {
        offsets = new Map(decodeResetOffsetBody(request.body).filter((e) => e.queue.topic === topic).map((e) => [queueKey(e.queue), e.value]));
      } catch (err) {
        this.logger.warn({ err, topic, group }, 'unreadable RESET_CONSUMER_CLIENT_OFFSET body; resetting by its timestamp');
      }
    }
    for (const member of this.members) {
      if (member.kind === 'consumer' && member.group === group && topic) await member.resetOffsets?.(topic, offsets, timestamp);
    }
    return createResponse(request, ResponseCode.SUCCESS);
  }
}

function expandQueues(route: TopicRouteData, topic: string, permBit: number, count: 'readQueueNums' | 'writeQueueNums'): MessageQueue[] {
  const out: MessageQueue[] = [];
  for (const qd of route.queueDatas ?? []) {
    if ((Number(qd.perm) & permBit) === 0) continue;
    for (let queueId = 0; queueId < Number(qd[count]); queueId++) out.push({ topic, brokerName: qd.brokerName, queueId });
  }
  return out.sort(compareQueues);
}

export function parseNameServers(input: string | readonly string[]): string[] {
  const list = (typeof input === 'string' ? input.split(';') : [...input]).map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new InvalidArgumentError('nameServer is required, e.g. "127.0.0.1:9876"');
  return list;
}
