import { describe, expect, it } from 'vitest';
import { decodeProperties, encodeProperties, MessageConst } from '../../protocol/properties.js';
import { indexKeysOf, SendProperties } from '../../broker/handlers/put-message.js';

/** What the send path stored before it scanned: decode, set CLUSTER, re-encode. */
function decodedAndReencoded(str: string, cluster: string): string {
  const map = decodeProperties(str);
  map[MessageConst.CLUSTER] = cluster;
  return encodeProperties(map);
}

function outcome(run: () => string): string {
  try {
    return run();
  } catch (err) {
    return `throws ${(err as Error).message}`;
  }
}

describe('SendProperties', () => {
  it('appends CLUSTER to a canonical producer string', () => {
    const props = SendProperties.fromProducer('TAGS\u0001t\u0002KEYS\u0001k1 k2\u0002UNIQ_KEY\u0001u\u0002', 'C');
    expect(props.stored).toBe('TAGS\u0001t\u0002KEYS\u0001k1 k2\u0002UNIQ_KEY\u0001u\u0002CLUSTER\u0001C\u0002');
    expect([props.tags, props.keys, props.uniqKey, props.delay, props.tranMsg]).toEqual(['t', 'k1 k2', 'u', undefined, undefined]);
    expect(props.get('TAGS')).toBe('t');
    expect(props.get('CLUSTER')).toBe('C');
    expect(props.map()).toEqual({ TAGS: 't', KEYS: 'k1 k2', UNIQ_KEY: 'u', CLUSTER: 'C' });
  });

  it('stores the same bytes as decoding and re-encoding, for any producer string', () => {
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pieces = ['TAGS', 'KEYS', 'UNIQ_KEY', 'DELAY', 'TRAN_MSG', 'CLUSTER', 'a', 'b c', '7', '\u0001', '\u0002', '\u0002', '\u0001'];
    for (let i = 0; i < 2_000; i++) {
      let str = '';
      for (let n = random(12); n > 0; n--) str += pieces[random(pieces.length)];
      const expected = outcome(() => decodedAndReencoded(str, 'DefaultCluster'));
      let props: SendProperties | undefined;
      expect(outcome(() => (props = SendProperties.fromProducer(str, 'DefaultCluster')).stored), JSON.stringify(str)).toBe(expected);
      if (!props) continue;
      const map = decodeProperties(expected);
      expect(props.map()).toEqual(map);
      for (const name of ['TAGS', 'KEYS', 'UNIQ_KEY', 'DELAY', 'TRAN_MSG', 'CLUSTER', 'a']) expect(props.get(name)).toBe(map[name]);
      expect([props.tags, props.keys, props.uniqKey, props.delay, props.tranMsg]).toEqual([map.TAGS, map.KEYS, map.UNIQ_KEY, map.DELAY, map.TRAN_MSG]);
    }
  });

  it('fromMap sets CLUSTER on the map and encodes it', () => {
    const map = decodeProperties('CLUSTER\u0001old\u0002TAGS\u0001t\u0002');
    const props = SendProperties.fromMap(map, 'C');
    expect(props.stored).toBe('CLUSTER\u0001C\u0002TAGS\u0001t\u0002');
    expect(props.map()).toBe(map);
  });
});

describe('indexKeysOf', () => {
  it('indexes KEYS words then UNIQ_KEY, without duplicates', () => {
    expect(indexKeysOf({})).toEqual([]);
    expect(indexKeysOf({ KEYS: '' })).toEqual([]);
    expect(indexKeysOf({ KEYS: 'k' })).toEqual(['k']);
    expect(indexKeysOf({ KEYS: 'k', UNIQ_KEY: 'u' })).toEqual(['k', 'u']);
    expect(indexKeysOf({ KEYS: 'k', UNIQ_KEY: 'k' })).toEqual(['k']);
    expect(indexKeysOf({ UNIQ_KEY: 'u' })).toEqual(['u']);
    expect(indexKeysOf({ KEYS: ' a  b a ', UNIQ_KEY: 'b' })).toEqual(['a', 'b']);
    expect(indexKeysOf({ KEYS: 'a b', UNIQ_KEY: 'c' })).toEqual(['a', 'b', 'c']);
  });
});
