/**
 * The MetaStore as the store exposes it: every call passes through, except that topic configs are
 * cached, because every append checks its topic and a SQLite read per message would dominate the
 * append path. Writes through this object keep the cache exact; everyone uses `store.meta`.
 */
import type {
  ConsumerOffsetEntry,
  MetaStoreApi,
  SubscriptionGroupConfig,
  TopicConfig,
} from './types.js';

export class TopicCachedMeta implements MetaStoreApi {
  private readonly topics = new Map<string, TopicConfig | undefined>();

  constructor(private readonly inner: MetaStoreApi) {}

  getTopic(name: string): TopicConfig | undefined {
    if (this.topics.has(name)) return this.topics.get(name);
    const config = this.inner.getTopic(name);
    if (this.topics.size > 100_000) this.topics.clear();
    this.topics.set(name, config);
    return config;
  }
  listTopics(): TopicConfig[] {
    return this.inner.listTopics();
  }
  putTopic(config: TopicConfig): void {
    this.topics.delete(config.topicName);
    this.inner.putTopic(config);
  }
  deleteTopic(name: string): void {
    this.topics.delete(name);
    this.inner.deleteTopic(name);
  }
  getGroup(name: string): SubscriptionGroupConfig | undefined {
    return this.inner.getGroup(name);
  }
  listGroups(): SubscriptionGroupConfig[] {
    return this.inner.listGroups();
  }
  putGroup(config: SubscriptionGroupConfig): void {
    this.inner.putGroup(config);
  }
  deleteGroup(name: string): void {
    this.inner.deleteGroup(name);
  }
  getOffset(group: string, topic: string, queueId: number): number | undefined {
    return this.inner.getOffset(group, topic, queueId);
  }
  listOffsets(filter?: { group?: string; topic?: string }): ConsumerOffsetEntry[] {
    return this.inner.listOffsets(filter);
  }
  putOffsetsDurably(entries: readonly ConsumerOffsetEntry[]): Promise<void> {
    return this.inner.putOffsetsDurably(entries);
  }

  putOffsets(entries: readonly ConsumerOffsetEntry[]): void {
    this.inner.putOffsets(entries);
  }
  deleteOffsets(filter: { group?: string; topic?: string }): void {
    this.inner.deleteOffsets(filter);
  }
  getDelayProgress(level: number): number | undefined {
    return this.inner.getDelayProgress(level);
  }
  putDelayProgress(level: number, offset: number): void {
    this.inner.putDelayProgress(level, offset);
  }
  getValue(key: string): string | undefined {
    return this.inner.getValue(key);
  }
  setValue(key: string, value: string): void {
    this.inner.setValue(key, value);
  }
  close(): void {
    this.topics.clear();
    this.inner.close();
  }
}
