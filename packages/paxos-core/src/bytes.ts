/**
 * "Nothing accepted": the value of a promise-only record, and of a promise whose value ballot is 0
 * (LibPaxos3 sends an empty bin there too).
 */
export const EMPTY: Uint8Array = new Uint8Array(0);

/**
 * The no-op a proposer accepts to close a hole (an instance below ones in use that phase 1 found
 * empty). Learners skip it instead of delivering it.
 *
 * It is not empty, because C LibPaxos3 mishandles an empty value: its acceptors never repeat one
 * (a learner that missed a chosen empty no-op stays stuck there) and its sample learner, client
 * and `replica -v` crash dereferencing it in their deliver callbacks. These 33 bytes are
 * LibPaxos3's client payload (reference §8, x86-64 layout): int32 client id, 4 pad bytes, int64
 * seconds, int64 microseconds, uint64 size, then the value bytes. The client id is −1, which no
 * LibPaxos3 client uses (`rand()` is never negative) and ours never draws, so C clients treat it
 * as someone else's value; times and size are 0; one NUL byte follows, so a C sample printing the
 * value with `%.16s` reads an empty string inside the buffer. Every field is symmetric in byte
 * order, so these bytes mean the same on any host.
 */
export const NOOP: Uint8Array = Uint8Array.of(0xff, 0xff, 0xff, 0xff, ...new Array<number>(29).fill(0));

/**
 * Whether a decided value is a no-op: {@link NOOP}, or an empty value (what earlier builds of ours
 * used, which may still sit in an acceptor's LMDB store). Client values equal to either are refused
 * by proposers, so this never hides a client's value.
 */
export function isNoop(value: Uint8Array): boolean {
  return value.length === 0 || (value.length === NOOP.length && bytesEqual(value, NOOP));
}

/** Values at least this long are compared eight bytes at a time (see `bytesEqual`). */
const WORDWISE_FROM = 256;

/** Byte equality, the only value equality LibPaxos3 knows (length, then bytes). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  const n = a.length;
  if (n !== b.length) return false;
  let i = 0;
  // Long values (batches: every vote is compared with the first) eight bytes at a time, about five
  // times faster than byte by byte at 10 KB; through DataViews, since values are views at any
  // offset of what they were decoded from. Short ones byte by byte: the two DataViews are an
  // allocation each, which costs more than it saves below WORDWISE_FROM.
  if (n >= WORDWISE_FROM) {
    const da = new DataView(a.buffer, a.byteOffset, n);
    const db = new DataView(b.buffer, b.byteOffset, n);
    const words = n - (n & 7);
    for (; i < words; i += 8) {
      if (da.getUint32(i, true) !== db.getUint32(i, true) || da.getUint32(i + 4, true) !== db.getUint32(i + 4, true)) return false;
    }
  }
  for (; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * FNV-1a over the length and up to 64 bytes from each end: enough to tell client values apart
 * (equal bytes, equal hash; callers compare the bytes of values with equal hashes).
 */
export function hashBytes(v: Uint8Array): number {
  let h = 0x811c9dc5 ^ v.length;
  const n = v.length;
  const head = Math.min(n, 64);
  for (let i = 0; i < head; i++) h = Math.imul(h ^ (v[i] as number), 0x01000193);
  for (let i = Math.max(head, n - 64); i < n; i++) h = Math.imul(h ^ (v[i] as number), 0x01000193);
  return h >>> 0;
}
