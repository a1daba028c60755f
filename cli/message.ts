/** `ferrymq message get|query`: find stored messages by offset msgId or by key. */
import { inflateSync } from 'node:zlib';
import type { Argv, CommandModule } from 'yargs';
import { MessageSysFlag, type DecodedRecord } from '../protocol/message-codec.js';
import { decodeOffsetMsgId } from '../protocol/message-id.js';
import { MessageConst } from '../protocol/properties.js';
import { checkName, parseInteger, UsageError } from './args.js';
import { bodyText, formatTime, printJson, printTable } from './output.js';
import { withAdmin, type GlobalArgs } from './run.js';
import { requireTopicExists } from './topic.js';

type MessageArgs = GlobalArgs & { msgId: string; topic: string; key: string; max: number; json: boolean };

/** A stored record as the CLI shows it; the body inflated when it was stored compressed. */
export function messageView(record: DecodedRecord) {
  const props = record.propertyMap;
  const body = record.sysFlag & MessageSysFlag.COMPRESSED ? inflateSync(record.body) : record.body;
  return {
    msgId: record.msgId,
    topic: record.topic,
    queueId: record.queueId,
    queueOffset: record.queueOffset,
    tags: props[MessageConst.TAGS],
    keys: props[MessageConst.KEYS]?.split(' ').filter(Boolean) ?? [],
    uniqKey: props[MessageConst.UNIQ_KEY],
    reconsumeTimes: record.reconsumeTimes,
    bornTimestamp: record.bornTimestamp,
    storeTimestamp: record.storeTimestamp,
    bornHost: `${record.bornHost.ip}:${record.bornHost.port}`,
    storeHost: `${record.storeHost.ip}:${record.storeHost.port}`,
    properties: props,
    bodySize: body.length,
    body: bodyText(body),
  };
}

/** Throws a UsageError (exit 2) for anything that is not an offset msgId. */
export function checkMsgId(msgId: string): string {
  try {
    decodeOffsetMsgId(msgId);
  } catch (err) {
    throw new UsageError(`malformed msgId "${msgId}": ${(err as Error).message}`);
  }
  return msgId.toUpperCase();
}

const get: CommandModule<GlobalArgs, MessageArgs> = {
  command: 'get <msgId>',
  describe: 'Show one stored message by its offset msgId (as send and consume print it)',
  builder: (y) =>
    y
      .positional('msgId', { type: 'string', demandOption: true, describe: '32 hex characters' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' }) as unknown as Argv<MessageArgs>,
  handler: (argv) =>
    withAdmin('message get', argv, async (admin) => {
      const msgId = checkMsgId(argv.msgId);
      const record = await admin.viewMessage(msgId);
      if (!record) throw new UsageError(`no message with msgId ${msgId} on this broker`);
      const view = messageView(record);
      if (argv.json) {
        printJson(view);
        return;
      }
      const { properties, ...fields } = view;
      for (const [name, value] of Object.entries(fields)) {
        const shown = name.endsWith('Timestamp') ? `${formatTime(value as number)} (${String(value)})` : Array.isArray(value) ? value.join(', ') : String(value ?? '-');
        process.stdout.write(`${name.padEnd(15)} ${shown}\n`);
      }
      process.stdout.write(`${'properties'.padEnd(15)} ${Object.entries(properties).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
    }),
};

const query: CommandModule<GlobalArgs, MessageArgs> = {
  command: 'query',
  describe: 'Find messages of a topic by key (KEYS or UNIQ_KEY)',
  builder: (y) =>
    y
      .option('topic', { type: 'string', demandOption: true })
      .option('key', { type: 'string', demandOption: true })
      .option('max', { type: 'number', default: 32, describe: 'at most this many (1..32)' })
      .option('json', { type: 'boolean', default: false, describe: 'print JSON' }) as unknown as Argv<MessageArgs>,
  handler: (argv) =>
    withAdmin('message query', argv, async (admin) => {
      const max = parseInteger('--max', argv.max, 1, 32);
      checkName('--topic', argv.topic);
      await requireTopicExists(admin, argv.topic);
      const views = (await admin.queryByKey(argv.topic, argv.key, max)).map(messageView);
      if (argv.json) {
        printJson(views);
        return;
      }
      printTable(
        views.map((v) => ({ ...v, stored: formatTime(v.storeTimestamp), keys: v.keys.join(','), body: bodyText(Buffer.from(v.body), 60) })),
        ['msgId', 'queueId', 'queueOffset', 'tags', 'keys', 'stored', 'body'],
      );
    }),
};

export const messageCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'message <command>',
  describe: 'Look up stored messages by msgId or key',
  builder: (y) => y.command(get).command(query).demandCommand(1, 'name a message command: get or query'),
  handler: () => undefined,
};
