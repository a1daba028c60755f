/**
 * Topic and subscription-group configuration over the MetaStore (RocketMQ's TopicConfigManager and
 * SubscriptionGroupManager): lookups, explicit creation, and the auto-creation rules.
 */
import type { MetaStoreApi, SubscriptionGroupConfig, TopicConfig } from '../storage/types.js';
import { validateTopicName } from '../storage/topic-name.js';

export const PERM_READ = 4;
export const PERM_WRITE = 2;
export const PERM_INHERIT = 1;

/** The topic Java producers fall back to for an unknown topic when auto-creation is on. */
export const AUTO_CREATE_TOPIC_KEY = 'TBW102';
export const RETRY_GROUP_TOPIC_PREFIX = '%RETRY%';
export const DLQ_GROUP_TOPIC_PREFIX = '%DLQ%';

export function retryTopicOf(group: string): string {
  return `${RETRY_GROUP_TOPIC_PREFIX}${group}`;
}

export interface TopicConfigManagerOptions {
  autoCreateTopicEnable: boolean;
  defaultTopicQueueNums: number;
  autoCreateSubscriptionGroup: boolean;
  retryQueueNums: number;
  /** True when a consumer of `group` is connected (its heartbeat was seen). */
  isGroupOnline: (group: string) => boolean;
}

/** Past this many cached group lookups (a client cycling through group names), the cache starts over. */
const MAX_CACHED_GROUPS = 100_000;

export class TopicConfigManager {
  /**
   * Subscription groups as stored (undefined: not stored), so a pull does not read SQLite. Exact as
   * long as every group write goes through `putGroup`/`deleteGroup`. Topics are cached by `store.meta`.
   */
  private readonly groups = new Map<string, SubscriptionGroupConfig | undefined>();

  constructor(
    private readonly meta: MetaStoreApi,
    private readonly options: TopicConfigManagerOptions,
  ) {}

  get(topic: string): TopicConfig | undefined {
    const stored = this.meta.getTopic(topic);
    if (stored) return stored;
    if (topic === AUTO_CREATE_TOPIC_KEY && this.options.autoCreateTopicEnable) {
      // Java clients read this route to learn they may send to new topics; never stored.
      return newTopicConfig(topic, this.options.defaultTopicQueueNums, PERM_READ | PERM_WRITE | PERM_INHERIT);
    }
    return undefined;
  }

  /**
   * The topic for a route lookup: stored topics, plus `%RETRY%<group>` created on demand once the
   * group is known, so a new consumer's retry queue is routable on its first lookup.
   */
  getForRoute(topic: string): TopicConfig | undefined {
    const found = this.get(topic);
    if (found || !topic.startsWith(RETRY_GROUP_TOPIC_PREFIX)) return found;
    const group = topic.slice(RETRY_GROUP_TOPIC_PREFIX.length);
    return this.isGroupKnown(group) ? this.ensureRetryTopic(group) : undefined;
  }

  /** The topic for a send: an unknown valid topic is created when auto-creation is on. */
  getForSend(topic: string, requestedQueueNums?: number): TopicConfig | undefined {
    const found = this.meta.getTopic(topic);
    if (found || !this.options.autoCreateTopicEnable || topic === AUTO_CREATE_TOPIC_KEY) return found;
    if (topic.startsWith(RETRY_GROUP_TOPIC_PREFIX)) {
      const group = topic.slice(RETRY_GROUP_TOPIC_PREFIX.length);
      return this.isGroupKnown(group) ? this.ensureRetryTopic(group) : undefined;
    }
    if (validateTopicName(topic) !== undefined) return undefined;
    const queueNums = Math.min(requestedQueueNums && requestedQueueNums > 0 ? requestedQueueNums : Infinity, this.options.defaultTopicQueueNums);
    const config = newTopicConfig(topic, queueNums, PERM_READ | PERM_WRITE);
    this.meta.putTopic(config);
    return config;
  }

  /** Creates or updates a topic; the caller has validated the name. */
  put(config: TopicConfig): void {
    this.meta.putTopic(config);
  }

  list(): TopicConfig[] {
    return this.meta.listTopics();
  }

  ensureRetryTopic(group: string): TopicConfig {
    const topic = retryTopicOf(group);
    const existing = this.meta.getTopic(topic);
    if (existing) return existing;
    const config = newTopicConfig(topic, this.options.retryQueueNums, PERM_READ | PERM_WRITE);
    this.meta.putTopic(config);
    return config;
  }

  /** A group is known when its config is stored or one of its consumers is connected. */
  isGroupKnown(group: string): boolean {
    return this.options.isGroupOnline(group) || this.getGroup(group) !== undefined;
  }

  /** The stored config of a group; do not modify it (it is shared). */
  getGroup(group: string): SubscriptionGroupConfig | undefined {
    if (this.groups.has(group)) return this.groups.get(group);
    const config = this.meta.getGroup(group);
    if (this.groups.size >= MAX_CACHED_GROUPS) this.groups.clear();
    this.groups.set(group, config);
    return config;
  }

  listGroups(): SubscriptionGroupConfig[] {
    return this.meta.listGroups();
  }

  putGroup(config: SubscriptionGroupConfig): void {
    this.groups.delete(config.groupName);
    this.meta.putGroup(config);
    this.groups.set(config.groupName, { ...config });
  }

  deleteGroup(group: string): void {
    this.groups.delete(group);
    this.meta.deleteGroup(group);
  }

  /** The group's config, created with defaults when auto-creation is on; undefined otherwise. */
  ensureGroup(group: string): SubscriptionGroupConfig | undefined {
    const existing = this.getGroup(group);
    if (existing || !this.options.autoCreateSubscriptionGroup) return existing;
    const config: SubscriptionGroupConfig = {
      groupName: group,
      consumeEnable: true,
      consumeBroadcastEnable: true,
      retryQueueNums: this.options.retryQueueNums,
      retryMaxTimes: 16,
      brokerId: 0,
      whichBrokerWhenConsumeSlowly: 1,
      consumeMessageOrderly: false,
    };
    this.putGroup(config);
    return config;
  }
}

export function newTopicConfig(topicName: string, queueNums: number, perm: number): TopicConfig {
  return { topicName, readQueueNums: queueNums, writeQueueNums: queueNums, perm, topicSysFlag: 0, order: false };
}
