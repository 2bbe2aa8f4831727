/**
 * Where msgpack values end, without decoding them: the snapshot decoder cuts a large snapshot into
 * pieces at value boundaries, so that it can decode a piece at a time (a kv-server restoring a
 * checkpoint lets its event loop turn between pieces) with the generic decoder.
 */

/** The offset just past `count` consecutive msgpack values starting at `pos`; throws a RangeError on bytes that are not msgpack or end too soon. */
export function valuesEnd(bytes: Uint8Array, pos: number, count: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let left = count;
  while (left > 0) {
    if (pos >= bytes.length) throw new RangeError(`the bytes end at ${bytes.length} within a value`);
    const b = bytes[pos] as number;
    left--;
    if (b <= 0x7f || b >= 0xe0) {
      pos += 1; // fixint
    } else if (b <= 0x8f) {
      pos += 1;
      left += 2 * (b & 0x0f);
    } else if (b <= 0x9f) {
      pos += 1;
      left += b & 0x0f;
    } else if (b <= 0xbf) {
      pos += 1 + (b & 0x1f);
    } else {
      switch (b) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
          pos += 1;
          break;
        case 0xc4:
        case 0xd9:
          need(bytes, pos, 2);
          pos += 2 + view.getUint8(pos + 1);
          break;
        case 0xc5:
        case 0xda:
          need(bytes, pos, 3);
          pos += 3 + view.getUint16(pos + 1);
          break;
        case 0xc6:
        case 0xdb:
          need(bytes, pos, 5);
          pos += 5 + view.getUint32(pos + 1);
          break;
        case 0xc7:
          need(bytes, pos, 2);
          pos += 3 + view.getUint8(pos + 1);
          break;
        case 0xc8:
          need(bytes, pos, 3);
          pos += 4 + view.getUint16(pos + 1);
          break;
        case 0xc9:
          need(bytes, pos, 5);
          pos += 6 + view.getUint32(pos + 1);
          break;
        case 0xca:
        case 0xce:
        case 0xd2:
          pos += 5;
          break;
        case 0xcb:
        case 0xcf:
        case 0xd3:
          pos += 9;
          break;
        case 0xcc:
        case 0xd0:
          pos += 2;
          break;
        case 0xcd:
        case 0xd1:
          pos += 3;
          break;
        case 0xd4:
          pos += 3;
          break;
        case 0xd5:
          pos += 4;
          break;
        case 0xd6:
          pos += 6;
          break;
        case 0xd7:
          pos += 10;
          break;
        case 0xd8:
          pos += 18;
          break;
        case 0xdc:
          need(bytes, pos, 3);
          left += view.getUint16(pos + 1);
          pos += 3;
          break;
        case 0xdd:
          need(bytes, pos, 5);
          left += view.getUint32(pos + 1);
          pos += 5;
          break;
        case 0xde:
          need(bytes, pos, 3);
          left += 2 * view.getUint16(pos + 1);
          pos += 3;
          break;
        case 0xdf:
          need(bytes, pos, 5);
          left += 2 * view.getUint32(pos + 1);
          pos += 5;
          break;
        default:
          throw new RangeError(`byte 0x${b.toString(16)} at ${pos} starts no msgpack value`);
      }
    }
  }
  if (pos > bytes.length) throw new RangeError(`the bytes end at ${bytes.length} within a value`);
  return pos;
}

/** The element count of the msgpack array whose header starts at `pos`, and where its elements start; undefined if no array starts there. */
export function arrayAt(bytes: Uint8Array, pos: number): { readonly count: number; readonly next: number } | undefined {
  const b = bytes[pos];
  if (b === undefined) return undefined;
  if (b >= 0x90 && b <= 0x9f) return { count: b & 0x0f, next: pos + 1 };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b === 0xdc && pos + 3 <= bytes.length) return { count: view.getUint16(pos + 1), next: pos + 3 };
  if (b === 0xdd && pos + 5 <= bytes.length) return { count: view.getUint32(pos + 1), next: pos + 5 };
  return undefined;
}

/** Throws unless the `n` bytes of a value's header at `pos` are there. */
function need(bytes: Uint8Array, pos: number, n: number): void {
  if (pos + n > bytes.length) throw new RangeError(`the bytes end at ${bytes.length} within a value's header at ${pos}`);
}
