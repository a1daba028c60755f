/**
 * The send path shared by SEND_MESSAGE(_V2) and SEND_BATCH_MESSAGE: turn a produced message into
 * the store's `MessageToAppend` (broker-added CLUSTER property, tag hash for filtering, keys for
 * the key index), then run the broker's put hooks (where issue #7's delay queue plugs in).
 */
import { encodeProperties, KEY_SEPARATOR, MessageConst, type PropertyMap } from '../../protocol/properties.js';
import { ipv4Bytes, type SocketAddress } from '../../protocol/socket-address.js';
import { javaStringHashCode } from '../../protocol/tag-filter.js';
import type { MessageToAppend } from '../../storage/types.js';
import type { BrokerContext, RequestContext } from '../broker-context.js';

export interface ProducedMessage {
  topic: string;
  queueId: number;
  body: Buffer;
  flag: number;
  /** The producer's properties, decoded; the broker adds CLUSTER to this map. */
  properties: PropertyMap;
  sysFlag: number;
  bornTimestamp: number;
  reconsumeTimes: number;
}

/** Parsed once per connection rather than once per send. */
const bornHosts = new WeakMap<RequestContext['connection'], SocketAddress>();

/** The peer's IPv4 address and port (IPv6 peers become 127.0.0.1: stored hosts are IPv4 for ali-ons). */
export function bornHostOf(ctx: RequestContext): SocketAddress {
  let bornHost = bornHosts.get(ctx.connection);
  if (!bornHost) {
    const [host, port] = splitAddress(ctx.connection.remoteAddress);
    const ip = host.startsWith('::ffff:') ? host.slice(7) : host;
    bornHost = { ip: ipv4Bytes(ip) ? ip : '127.0.0.1', port };
    bornHosts.set(ctx.connection, bornHost);
  }
  return bornHost;
}

function splitAddress(address: string): [string, number] {
  const i = address.lastIndexOf(':');
  return [address.slice(0, i), Number(address.slice(i + 1)) || 0];
}

/** Keys indexed for QUERY_MESSAGE: the space-separated KEYS plus UNIQ_KEY. */
export function indexKeysOf(properties: Readonly<PropertyMap>): string[] {
  const keys = (properties[MessageConst.KEYS] ?? '').split(KEY_SEPARATOR).filter((k) => k !== '');
  const uniq = properties[MessageConst.UNIQ_KEY];
  if (uniq) keys.push(uniq);
  return [...new Set(keys)];
}

export function buildMessageToAppend(
  broker: BrokerContext,
  produced: ProducedMessage,
  bornHost: SocketAddress,
): MessageToAppend {
  const properties = produced.properties;
  properties[MessageConst.CLUSTER] = broker.config.clusterName;
  const tags = properties[MessageConst.TAGS];
  let message: MessageToAppend = {
    topic: produced.topic,
    queueId: produced.queueId,
    body: produced.body,
    flag: produced.flag,
    properties: encodeProperties(properties),
    sysFlag: produced.sysFlag,
    bornTimestamp: produced.bornTimestamp,
    bornHost,
    reconsumeTimes: produced.reconsumeTimes,
    tagsCode: tags ? javaStringHashCode(tags) : 0,
    keys: indexKeysOf(properties),
  };
  for (const hook of broker.putMessageHooks) message = hook(message, properties);
  return message;
}
