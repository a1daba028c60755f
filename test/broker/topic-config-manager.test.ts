import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TopicConfigManager } from '../../broker/topic-config-manager.js';
import { MetaStore } from '../../storage/meta-store.js';
import { tempDir } from '../helpers/common.js';

let dir: { path: string; cleanup: () => Promise<void> };
let meta: MetaStore;

beforeEach(async () => {
  dir = await tempDir('ferrymq-topics-');
  meta = MetaStore.open(join(dir.path, 'meta.db'), { synchronous: 'NORMAL' });
});

afterEach(async () => {
  meta.close();
  await dir.cleanup();
});

function manager(autoCreateSubscriptionGroup: boolean): TopicConfigManager {
  return new TopicConfigManager(meta, {
    autoCreateTopicEnable: true,
    defaultTopicQueueNums: 4,
    autoCreateSubscriptionGroup,
    retryQueueNums: 1,
    isGroupOnline: () => false,
  });
}

describe('TopicConfigManager groups', () => {
  it('reads a group from SQLite once, and its writes keep the cache exact', () => {
    const topics = manager(false);
    const getGroup = vi.spyOn(meta, 'getGroup');
    expect(topics.ensureGroup('G')).toBeUndefined();
    expect(topics.ensureGroup('G')).toBeUndefined();
    expect(getGroup).toHaveBeenCalledTimes(1);

    const config = { groupName: 'G', consumeEnable: false, consumeBroadcastEnable: true, retryQueueNums: 1, retryMaxTimes: 16, brokerId: 0, whichBrokerWhenConsumeSlowly: 1, consumeMessageOrderly: false };
    topics.putGroup(config);
    expect(topics.ensureGroup('G')?.consumeEnable).toBe(false);
    topics.putGroup({ ...config, consumeEnable: true });
    expect(topics.ensureGroup('G')?.consumeEnable).toBe(true);
    expect(topics.isGroupKnown('G')).toBe(true);
    topics.deleteGroup('G');
    expect(topics.getGroup('G')).toBeUndefined();
    expect(meta.getGroup('G')).toBeUndefined();
  });

  it('auto-creates a group once and serves it from the cache after', () => {
    const topics = manager(true);
    const getGroup = vi.spyOn(meta, 'getGroup');
    const created = topics.ensureGroup('H');
    expect(meta.getGroup('H')).toEqual(created);
    for (let i = 0; i < 3; i++) expect(topics.ensureGroup('H')).toEqual(created);
    expect(getGroup).toHaveBeenCalledTimes(2); // the first lookup, and the check above
  });
});
