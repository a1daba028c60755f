/**
 * Who is connected, per group (RocketMQ's ProducerManager + ConsumerManager): heartbeats register a
 * channel's producers and consumers with their subscriptions; a channel that closes, unregisters or
 * stays silent past the expiry is removed. Any change of a consumer group's members is reported
 * through `onConsumerIdsChanged` so the broker can send NOTIFY_CONSUMER_IDS_CHANGED (40).
 */
import type { Logger } from 'pino';
import type { SubscriptionData as WireSubscriptionData } from '../protocol/bodies.js';
import { IntervalTask, systemClock, type Clock } from '../storage/clock.js';

/** The connection a registration belongs to (the broker's Connection satisfies it). */
export interface ClientChannel {
  readonly id: number;
  readonly remoteAddress: string;
}

/** One entry of a heartbeat's `subscriptionDataSet` (the broker has no use for classFilterMode). */
export type SubscriptionData = Omit<WireSubscriptionData, 'classFilterMode'>;

export interface ConsumerHeartbeat {
  groupName: string;
  consumeType: string;
  messageModel: string;
  consumeFromWhere: string;
  subscriptions: SubscriptionData[];
}

export interface ClientInfo {
  channel: ClientChannel;
  clientId: string;
  lastUpdate: number;
}

interface ConsumerGroupState {
  clients: Map<ClientChannel, ClientInfo>;
  subscriptions: Map<string, SubscriptionData>;
  consumeType: string;
  messageModel: string;
  consumeFromWhere: string;
}

export interface ClientRegistryOptions {
  /** A channel whose last heartbeat is older than this is dropped. */
  expiryMs: number;
  scanIntervalMs: number;
  clock?: Clock;
  logger?: Logger;
  onConsumerIdsChanged?: (group: string, channels: ClientChannel[]) => void;
  /** Called for each channel dropped by expiry (the broker closes it). */
  onChannelExpired?: (channel: ClientChannel) => void;
}

export class ClientRegistry {
  private readonly consumers = new Map<string, ConsumerGroupState>();
  private readonly producers = new Map<string, Map<ClientChannel, ClientInfo>>();
  private readonly clock: Clock;
  private readonly expiryScan: IntervalTask;

  constructor(private readonly options: ClientRegistryOptions) {
    this.clock = options.clock ?? systemClock;
    this.expiryScan = new IntervalTask(options.scanIntervalMs, () => this.expire(), this.clock, (err) =>
      options.logger?.error({ err }, 'client expiry scan failed'),
    );
  }

  start(): void {
    this.expiryScan.start();
  }

  /** Stops the expiry scan; the promise settles once a scan in progress is over. */
  shutdown(): Promise<void> {
    return this.expiryScan.shutdown();
  }

  /** Registers a heartbeat's groups for `channel`. */
  heartbeat(channel: ClientChannel, clientId: string, producerGroups: readonly string[], consumers: readonly ConsumerHeartbeat[]): void {
    const now = this.clock.now();
    for (const group of producerGroups) {
      let clients = this.producers.get(group);
      if (!clients) this.producers.set(group, (clients = new Map()));
      clients.set(channel, { channel, clientId, lastUpdate: now });
    }
    for (const consumer of consumers) {
      let state = this.consumers.get(consumer.groupName);
      if (!state) {
        state = { clients: new Map(), subscriptions: new Map(), consumeType: '', messageModel: '', consumeFromWhere: '' };
        this.consumers.set(consumer.groupName, state);
      }
      state.consumeType = consumer.consumeType;
      state.messageModel = consumer.messageModel;
      state.consumeFromWhere = consumer.consumeFromWhere;
      // The latest heartbeat of the group describes its subscriptions (RocketMQ keeps the newest subVersion).
      const subscriptions = new Map(consumer.subscriptions.map((s) => [s.topic, s]));
      const subscriptionsChanged = !sameSubscriptions(state.subscriptions, subscriptions);
      state.subscriptions = subscriptions;
      const known = state.clients.get(channel);
      if (!known) this.warnOnDuplicateClientId(consumer.groupName, state, channel, clientId);
      state.clients.set(channel, { channel, clientId, lastUpdate: now });
      // As RocketMQ: a new member or a changed subscription makes the group rebalance.
      if (!known || known.clientId !== clientId || subscriptionsChanged) this.changed(consumer.groupName, state);
    }
  }

  /** UNREGISTER_CLIENT: removes `channel` from the named groups. */
  unregister(channel: ClientChannel, groups: { producerGroup?: string; consumerGroup?: string }): void {
    if (groups.producerGroup) this.producers.get(groups.producerGroup)?.delete(channel);
    if (groups.consumerGroup) this.removeConsumer(groups.consumerGroup, channel);
  }

  /** A connection closed: forget every registration it made. */
  channelClosed(channel: ClientChannel): void {
    for (const [group, clients] of this.producers) {
      clients.delete(channel);
      if (clients.size === 0) this.producers.delete(group);
    }
    for (const group of [...this.consumers.keys()]) this.removeConsumer(group, channel);
  }

  /** Client ids of a consumer group's live members, sorted (as clients sort them before allocating). */
  consumerIds(group: string): string[] {
    const state = this.consumers.get(group);
    return state ? [...new Set([...state.clients.values()].map((c) => c.clientId))].sort() : [];
  }

  consumerGroup(group: string): Readonly<ConsumerGroupState> | undefined {
    return this.consumers.get(group);
  }

  subscription(group: string, topic: string): SubscriptionData | undefined {
    return this.consumers.get(group)?.subscriptions.get(topic);
  }

  hasConsumerGroup(group: string): boolean {
    return this.consumers.has(group);
  }

  consumerGroups(): string[] {
    return [...this.consumers.keys()];
  }

  producerClients(group: string): ClientInfo[] {
    return [...(this.producers.get(group)?.values() ?? [])];
  }

  private removeConsumer(group: string, channel: ClientChannel): void {
    const state = this.consumers.get(group);
    if (!state || !state.clients.delete(channel)) return;
    // An empty group keeps its subscriptions out of the table: nobody is left to serve.
    if (state.clients.size === 0) this.consumers.delete(group);
    this.changed(group, state);
  }

  private changed(group: string, state: ConsumerGroupState): void {
    const channels = [...state.clients.keys()];
    if (channels.length > 0) this.options.onConsumerIdsChanged?.(group, channels);
  }

  private warnOnDuplicateClientId(group: string, state: ConsumerGroupState, channel: ClientChannel, clientId: string): void {
    for (const other of state.clients.values()) {
      if (other.clientId === clientId && other.channel !== channel) {
        this.options.logger?.warn(
          { group, clientId, channels: [other.channel.remoteAddress, channel.remoteAddress] },
          'two connections of one consumer group claim the same clientId; they will be allocated the same queues (set a distinct instanceName)',
        );
        return;
      }
    }
  }

  /** Drops channels whose last heartbeat is older than the expiry. */
  expire(): void {
    const deadline = this.clock.now() - this.options.expiryMs;
    const expired = new Set<ClientChannel>();
    for (const clients of this.producers.values()) {
      for (const info of clients.values()) if (info.lastUpdate < deadline) expired.add(info.channel);
    }
    for (const state of this.consumers.values()) {
      for (const info of state.clients.values()) if (info.lastUpdate < deadline) expired.add(info.channel);
    }
    for (const channel of expired) {
      this.options.logger?.warn({ remote: channel.remoteAddress }, 'client expired: no heartbeat within the expiry');
      this.channelClosed(channel);
      this.options.onChannelExpired?.(channel);
    }
  }
}

function sameSubscriptions(a: ReadonlyMap<string, SubscriptionData>, b: ReadonlyMap<string, SubscriptionData>): boolean {
  if (a.size !== b.size) return false;
  for (const [topic, sub] of a) if (b.get(topic)?.subString !== sub.subString) return false;
  return true;
}
