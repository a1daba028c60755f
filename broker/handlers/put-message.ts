/**
 * The send path shared by SEND_MESSAGE(_V2) and SEND_BATCH_MESSAGE: turn a produced message into
 * the store's `MessageToAppend` (broker-added CLUSTER property, tag hash for filtering, keys for
 * the key index), then run the broker's put hooks (where issue #7's delay queue plugs in).
 */
import {
  decodeProperties,
  encodeProperties,
  KEY_SEPARATOR,
  MessageConst,
  NAME_VALUE_SEPARATOR,
  PROPERTY_SEPARATOR,
  scanProperties,
  type PropertyMap,
} from '../../protocol/properties.js';
import { ipv4Bytes, type SocketAddress } from '../../protocol/socket-address.js';
import { javaStringHashCode } from '../../protocol/tag-filter.js';
import type { MessageToAppend } from '../../storage/types.js';
import type { BrokerContext, RequestContext } from '../broker-context.js';

export interface ProducedMessage {
  topic: string;
  queueId: number;
  body: Buffer;
  flag: number;
  /** The producer's properties with the broker's CLUSTER added. */
  properties: SendProperties;
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
  return indexKeys(properties[MessageConst.KEYS], properties[MessageConst.UNIQ_KEY]);
}

/** `indexKeysOf` from the two values; one key (the common case) needs no split and no Set. */
function indexKeys(keysValue: string | undefined, uniq: string | undefined): string[] {
  if (!keysValue) return uniq ? [uniq] : [];
  if (!keysValue.includes(KEY_SEPARATOR)) return uniq && uniq !== keysValue ? [keysValue, uniq] : [keysValue];
  const keys = keysValue.split(KEY_SEPARATOR).filter((k) => k !== '');
  if (uniq) keys.push(uniq);
  return [...new Set(keys)];
}

/** What the put hooks read of a message's properties. */
export interface PropertyView {
  get(name: string): string | undefined;
  /** The decoded properties; decoded on first use. */
  map(): Readonly<PropertyMap>;
}

/** A view over a map the caller already holds. */
export function propertyViewOf(map: Readonly<PropertyMap>): PropertyView {
  return { get: (name) => map[name], map: () => map };
}

/** The names the send path reads from a producer's properties string. */
const SCANNED = [MessageConst.TAGS, MessageConst.KEYS, MessageConst.UNIQ_KEY, MessageConst.DELAY, MessageConst.TRAN_MSG, MessageConst.CLUSTER];
const [TAGS, KEYS, UNIQ_KEY, DELAY, TRAN_MSG, CLUSTER] = [0, 1, 2, 3, 4, 5] as const;
const scanned: (string | undefined)[] = [];

let clusterPair = { clusterName: '', pair: '' };

/** `CLUSTER\x01<name>\x02`, built once rather than per message. */
function clusterPairOf(clusterName: string): string {
  if (clusterPair.clusterName !== clusterName) {
    clusterPair = { clusterName, pair: MessageConst.CLUSTER + NAME_VALUE_SEPARATOR + clusterName + PROPERTY_SEPARATOR };
  }
  return clusterPair.pair;
}

/**
 * The stored properties of a produced message: the producer's string with CLUSTER added. A canonical
 * string (see `scanProperties`) without CLUSTER gets the pair appended as is, which is byte for byte
 * what decoding, setting CLUSTER and re-encoding gives; anything else takes that slow path. The map
 * is decoded only when a hook asks for it.
 */
export class SendProperties implements PropertyView {
  private constructor(
    /** The string to store. */
    readonly stored: string,
    private decoded: PropertyMap | undefined,
    readonly tags: string | undefined,
    readonly keys: string | undefined,
    readonly uniqKey: string | undefined,
    readonly delay: string | undefined,
    readonly tranMsg: string | undefined,
  ) {}

  static fromProducer(properties: string, clusterName: string): SendProperties {
    if (scanProperties(properties, SCANNED, scanned) && scanned[CLUSTER] === undefined) {
      return new SendProperties(
        properties + clusterPairOf(clusterName),
        undefined,
        scanned[TAGS],
        scanned[KEYS],
        scanned[UNIQ_KEY],
        scanned[DELAY],
        scanned[TRAN_MSG],
      );
    }
    return SendProperties.fromMap(decodeProperties(properties), clusterName);
  }

  /** Sets CLUSTER on `map` (which the message then owns). */
  static fromMap(map: PropertyMap, clusterName: string): SendProperties {
    map[MessageConst.CLUSTER] = clusterName;
    const C = MessageConst;
    return new SendProperties(encodeProperties(map), map, map[C.TAGS], map[C.KEYS], map[C.UNIQ_KEY], map[C.DELAY], map[C.TRAN_MSG]);
  }

  get(name: string): string | undefined {
    switch (name) {
      case MessageConst.TAGS:
        return this.tags;
      case MessageConst.KEYS:
        return this.keys;
      case MessageConst.UNIQ_KEY:
        return this.uniqKey;
      case MessageConst.DELAY:
        return this.delay;
      case MessageConst.TRAN_MSG:
        return this.tranMsg;
      default:
        return this.map()[name];
    }
  }

  map(): Readonly<PropertyMap> {
    return (this.decoded ??= decodeProperties(this.stored));
  }
}

export function buildMessageToAppend(
  broker: BrokerContext,
  produced: ProducedMessage,
  bornHost: SocketAddress,
): MessageToAppend {
  const properties = produced.properties;
  const tags = properties.tags;
  let message: MessageToAppend = {
    topic: produced.topic,
    queueId: produced.queueId,
    body: produced.body,
    flag: produced.flag,
    properties: properties.stored,
    sysFlag: produced.sysFlag,
    bornTimestamp: produced.bornTimestamp,
    bornHost,
    reconsumeTimes: produced.reconsumeTimes,
    tagsCode: tags ? javaStringHashCode(tags) : 0,
    keys: indexKeys(properties.keys, properties.uniqKey),
  };
  for (const hook of broker.putMessageHooks) message = hook(message, properties);
  return message;
}
