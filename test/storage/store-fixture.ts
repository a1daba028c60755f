/** Shared helpers for storage tests: a store in a temp dir with tiny segments, and message builders. */
import { encodeProperties } from '../../protocol/properties.js';
import { javaStringHashCode } from '../../protocol/tag-filter.js';
import { decodeRecords } from '../../protocol/message-codec.js';
import { MessageStore, type MessageStoreOptions } from '../../storage/message-store.js';
import { GetMessageStatus, type MessageToAppend } from '../../storage/types.js';
import { uniqueName } from '../helpers/common.js';

export const TINY_SEGMENT = 4096;

export function openStore(dataDir: string, options: Partial<MessageStoreOptions> = {}): Promise<MessageStore> {
  return MessageStore.open({
    dataDir,
    ...options,
    config: { segmentSize: TINY_SEGMENT, checkpointIntervalMs: 60_000, cleanupIntervalMs: 60_000, ...options.config },
  });
}

/** Every body of the queue as a string, from its min offset. */
export async function readBodies(store: MessageStore, topic: string, queueId = 0): Promise<string[]> {
  const out: string[] = [];
  let offset = store.minOffset(topic, queueId);
  for (;;) {
    const read = await store.read(topic, queueId, offset, 64, 1 << 20);
    if (read.status !== GetMessageStatus.FOUND) return out;
    out.push(...decodeRecords(Buffer.concat(read.buffers)).map((r) => r.body.toString()));
    offset = read.nextBeginOffset;
  }
}

/** A gate test file IOs make writes or syncs wait at: `hold()`, then `release()`. */
export class Gate {
  private promise: Promise<void> | undefined;
  private open: () => void = () => undefined;

  hold(): void {
    this.promise = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.promise = undefined;
    this.open();
  }

  get holding(): boolean {
    return this.promise !== undefined;
  }

  /** Resolves at once when not held. */
  pass(): Promise<void> | undefined {
    return this.promise;
  }
}

/** Creates a fresh topic with `queues` queues and returns its name. */
export function createTopic(store: MessageStore, queues = 4, name = uniqueName('T')): string {
  store.meta.putTopic({ topicName: name, readQueueNums: queues, writeQueueNums: queues, perm: 6, topicSysFlag: 0, order: false });
  return name;
}

export function message(
  topic: string,
  queueId: number,
  body: string | Buffer,
  options: { tags?: string; keys?: string[] } = {},
): MessageToAppend {
  const props: Record<string, string> = {};
  if (options.tags) props.TAGS = options.tags;
  if (options.keys?.length) props.KEYS = options.keys.join(' ');
  return {
    topic,
    queueId,
    body: typeof body === 'string' ? Buffer.from(body) : body,
    flag: 0,
    properties: encodeProperties(props),
    sysFlag: 0,
    bornTimestamp: 1_700_000_000_000,
    bornHost: { ip: '10.0.0.1', port: 5555 },
    reconsumeTimes: 0,
    tagsCode: options.tags ? javaStringHashCode(options.tags) : 0,
    keys: options.keys ?? [],
  };
}
