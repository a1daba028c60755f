/**
 * UTF-8 writes for the hot encoders (headers, batch entries, stored records): a short ASCII string
 * is copied in a JS loop, which costs less than `Buffer#write`'s native call; anything else, and a
 * string that turns out not to be ASCII, goes to `Buffer#write`.
 */

/** Writes `text` as UTF-8 at `pos` (the caller made room) and returns the bytes written; strings of up to `loopMax` UTF-16 units are tried as ASCII first. */
export function writeUtf8(out: Buffer, pos: number, text: string, loopMax: number): number {
  const length = text.length;
  if (length <= loopMax) {
    let i = 0;
    for (; i < length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) break;
      out[pos + i] = c;
    }
    if (i === length) return length;
  }
  return out.write(text, pos, 'utf8');
}
