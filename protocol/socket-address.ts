/**
 * IP address <-> bytes, for the host fields of stored records and offset message ids. Hand-written
 * (no regex, no allocation beyond the result) because records are encoded and decoded per message.
 */
import { isIPv6 } from 'node:net';

export interface SocketAddress {
  ip: string;
  port: number;
}

/** The 4 bytes of a dotted IPv4 address, or undefined when `ip` is not one. */
export function ipv4Bytes(ip: string): [number, number, number, number] | undefined {
  const out: number[] = [];
  let value = -1;
  for (let i = 0; i <= ip.length; i++) {
    const c = i < ip.length ? ip.charCodeAt(i) : 46; // a final '.' closes the last part
    if (c === 46) {
      if (value < 0 || out.length === 4) return undefined;
      out.push(value);
      value = -1;
    } else if (c >= 48 && c <= 57) {
      value = value < 0 ? c - 48 : value * 10 + (c - 48);
      if (value > 255) return undefined;
    } else {
      return undefined;
    }
  }
  return out.length === 4 ? (out as [number, number, number, number]) : undefined;
}

/** The 16 bytes of an IPv6 address (`::` and a dotted IPv4 tail allowed), or undefined. */
export function ipv6Bytes(ip: string): Buffer | undefined {
  const zone = ip.indexOf('%');
  const text = zone >= 0 ? ip.slice(0, zone) : ip;
  if (!isIPv6(text)) return undefined;
  const out = Buffer.alloc(16);
  const gap = text.indexOf('::');
  const parseGroups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const words: number[] = [];
    for (const group of part.split(':')) {
      if (group.includes('.')) {
        const v4 = ipv4Bytes(group);
        if (!v4) return undefined;
        words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        words.push(parseInt(group, 16));
      }
    }
    return words;
  };
  const head = parseGroups(gap >= 0 ? text.slice(0, gap) : text);
  const tail = gap >= 0 ? parseGroups(text.slice(gap + 2)) : [];
  if (!head || !tail) return undefined;
  head.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  tail.forEach((w, i) => out.writeUInt16BE(w, 16 - (tail.length - i) * 2));
  return out;
}

export function formatIPv4(buf: Buffer, offset: number): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

/** Eight lowercase hex groups, longest run of zero groups compressed to `::` (RFC 5952). */
export function formatIPv6(buf: Buffer, offset: number): string {
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(buf.readUInt16BE(offset + i * 2));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}
