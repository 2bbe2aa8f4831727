/**
 * The store's snapshot: its whole state (items, CAS counter, clock, pending flush, sessions with
 * their remembered results, counters, and the configuration that decides results) as one msgpack
 * array that starts with a magic string and a format version. A build reads only the format it
 * writes and refuses any other with a sentence that says which is which, so replicas never apply
 * a log on top of a state they misread.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import { bytesToKey, concatBytes, keyToBytes, ownBytes } from './bytes.js';
import { arrayAt, valuesEnd } from './msgpack-scan.js';
import { runSteps } from './steps.js';
import { KvCodecError, resultFromWire, resultToWire } from './command-codec.js';
import type { KvResult } from './command.js';
import { STORE_COUNTER_NAMES, newStoreCounters } from './stats.js';
import type { ImageConfig, ImageItem, ImageSession, StoreImage } from './store.js';

export const SNAPSHOT_MAGIC = 'paxos-kv snapshot';
/**
 * Bump whenever the layout below changes. Format 2 added the memory limit and the evictions
 * setting to the configuration; format 1 (without them) is still read, so that a cluster that
 * upgrades restores the checkpoints it has.
 */
export const SNAPSHOT_FORMAT = 2;
/** The oldest format this build reads. */
export const SNAPSHOT_FORMAT_OLDEST = 1;

const encoder = new Encoder();
const decoder = new Decoder();

/** What a snapshot carries beyond the store: where in the log it was taken. */
export interface SnapshotMeta {
  /** The last instance applied. */
  readonly iid: number;
  /** Values applied from that instance (a batch may hold several). */
  readonly index: number;
}

/** Items per chunk of `encodeSnapshotChunks` at most; a chunk also ends once its values pass CHUNK_BYTES. */
const CHUNK_ITEMS = 4096;
const CHUNK_BYTES = 1 << 20;

/** The whole snapshot in one buffer: `encodeSnapshotChunks` joined. */
export function encodeSnapshot(img: StoreImage, meta: SnapshotMeta): Uint8Array {
  return concatBytes([...encodeSnapshotChunks(img, meta)]);
}

/**
 * The snapshot's bytes a chunk at a time (about `CHUNK_ITEMS` items or `CHUNK_BYTES` of values
 * each), encoded as they are asked for: a kv-server encodes a checkpoint between event-loop turns
 * (a checkpoint of 1.6 million items stopped its loop for 3.5–4.2 s in one piece, longer than a
 * lease). The layout is one msgpack array; the item list's header is written here and each chunk's
 * items are encoded as an array whose own header is cut off, so the bytes are those of encoding
 * the whole at once. `img` must not change while the chunks are taken (`KvStore.image()` lists
 * item objects that never change).
 */
export function* encodeSnapshotChunks(img: StoreImage, meta: SnapshotMeta, chunkItems = CHUNK_ITEMS): Generator<Uint8Array> {
  const head = encoder.encode([
    SNAPSHOT_MAGIC,
    SNAPSHOT_FORMAT,
    [meta.iid, meta.index],
    [
      img.config.itemSizeMax,
      img.config.sessions.ttlMs,
      img.config.sessions.maxSessions,
      img.config.sessions.maxPending,
      // A store's image always has them; only a decoded format-1 image, encoded again, has not.
      img.config.memoryLimit ?? null,
      img.config.evictions ?? null,
    ],
    img.clock,
    img.casCounter,
    img.flushAt,
    img.nextSessionId,
    STORE_COUNTER_NAMES.map((n) => img.counters[n]),
  ]);
  // The top-level array has 11 fields: the 9 above, the items and the sessions.
  head[0] = 0x90 | 11;
  yield concatBytes([head, arrayHeader(img.items.length * 6)]);
  const flat: unknown[] = [];
  let bytes = 0;
  for (let i = 0; i < img.items.length; i++) {
    const it = img.items[i] as ImageItem;
    flat.push(keyToBytes(it.key), it.value, it.flags, it.cas, it.expiresAt, it.storedAt);
    bytes += it.value.length;
    if (flat.length === 6 * chunkItems || bytes >= CHUNK_BYTES || i === img.items.length - 1) {
      yield withoutArrayHeader(encoder.encode(flat), flat.length);
      flat.length = 0;
      bytes = 0;
    }
  }
  yield encoder.encode(img.sessions.map((s) => [s.id, s.lastActive, s.acked, s.results.map(([seq, r]) => [seq, resultToWire(r)])]));
}

/** msgpack's header for an array of `n` elements, in the shortest form (as the encoder writes it). */
function arrayHeader(n: number): Uint8Array {
  if (n < 16) return Uint8Array.of(0x90 | n);
  if (n < 0x10000) return Uint8Array.of(0xdc, n >>> 8, n & 0xff);
  return Uint8Array.of(0xdd, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/** The elements of an encoded array of `n` elements: its bytes after the header (`arrayHeader(n)`'s length). */
function withoutArrayHeader(encoded: Uint8Array, n: number): Uint8Array {
  return encoded.subarray(n < 16 ? 1 : n < 0x10000 ? 3 : 5);
}

function fail(what: string): never {
  throw new KvCodecError(`the KV snapshot is damaged: ${what}`);
}

function int(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(`${what} should be an integer, not ${String(v)}`);
  return v;
}

function num(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${what} should be a number, not ${String(v)}`);
  return v;
}

function arr(v: unknown, what: string): readonly unknown[] {
  if (!Array.isArray(v)) fail(`${what} should be an array`);
  return v;
}

/** A decoded snapshot: the store's image and where in the log it was taken. */
export interface DecodedSnapshot {
  readonly image: StoreImage;
  readonly meta: SnapshotMeta;
}

export function decodeSnapshot(bytes: Uint8Array): DecodedSnapshot {
  return runSteps(decodeSnapshotSteps(bytes));
}

/**
 * `decodeSnapshot` a piece at a time: the generator stops after the structure is checked, and after
 * each `chunkItems` items (the decoding of 400,000 items took about 0.9 s in one piece), so that a
 * caller can let other work run between pieces; its return value is the snapshot. Nothing it
 * decodes is shared with the caller before it returns.
 */
export function* decodeSnapshotSteps(bytes: Uint8Array, chunkItems = CHUNK_ITEMS): Generator<void, DecodedSnapshot> {
  // msgpack that is damaged anywhere, or followed by more bytes, is refused before anything else,
  // as one decode of the whole refused it.
  const notMsgpack = (e: unknown): never => {
    throw new KvCodecError(`the KV snapshot is not valid msgpack (${e instanceof Error ? e.message : String(e)}); it is damaged or not a paxos-kv snapshot`);
  };
  try {
    const end = valuesEnd(bytes, 0, 1);
    if (end !== bytes.length) throw new RangeError(`Extra ${bytes.length - end} of ${bytes.length} byte(s) found at buffer[${end}]`);
  } catch (e) {
    notMsgpack(e);
  }
  /** The value at `pos`, decoded; moves `pos` past it. */
  let pos = 0;
  const next = (): unknown => {
    const end = valuesEnd(bytes, pos, 1);
    try {
      return decoder.decode(bytes.subarray(pos, end));
    } catch (e) {
      return notMsgpack(e);
    } finally {
      pos = end;
    }
  };
  const top = arrayAt(bytes, 0);
  if (top === undefined) throw new KvCodecError('these bytes are not a paxos-kv snapshot (no "paxos-kv snapshot" header)');
  pos = top.next;
  const x: unknown[] = [];
  for (let i = 0; i < Math.min(top.count, 2); i++) x.push(next());
  if (x[0] !== SNAPSHOT_MAGIC) throw new KvCodecError('these bytes are not a paxos-kv snapshot (no "paxos-kv snapshot" header)');
  const format = x[1];
  if (format !== SNAPSHOT_FORMAT && format !== SNAPSHOT_FORMAT_OLDEST) {
    const v = typeof format === 'number' ? `format ${format}` : 'an unknown format';
    throw new KvCodecError(
      typeof format === 'number' && format > SNAPSHOT_FORMAT
        ? `the KV snapshot is in ${v}, written by a newer paxos-kv; this build reads formats ${SNAPSHOT_FORMAT_OLDEST} to ${SNAPSHOT_FORMAT} only: upgrade this replica before restoring it`
        : `the KV snapshot is in ${v}, written by an older paxos-kv; this build reads formats ${SNAPSHOT_FORMAT_OLDEST} to ${SNAPSHOT_FORMAT} only: restore it with the build that wrote it, or let this replica catch up from a newer snapshot`,
    );
  }
  if (top.count !== 11) fail(`it has ${top.count} fields where format ${format} has 11`);
  for (let i = 2; i < 9; i++) x.push(next());
  const meta = arr(x[2], 'the log position');
  const cfg = arr(x[3], 'the configuration');
  if (cfg.length !== (format === 1 ? 4 : 6)) fail(`its configuration has ${cfg.length} fields where format ${format} has ${format === 1 ? 4 : 6}`);
  const base = {
    itemSizeMax: int(cfg[0], 'the item size limit'),
    sessions: { ttlMs: int(cfg[1], 'the session TTL'), maxSessions: int(cfg[2], 'the session limit'), maxPending: int(cfg[3], 'the pending-result limit') },
  };
  let config: ImageConfig = base;
  if (cfg[4] !== null && cfg[4] !== undefined) config = { ...config, memoryLimit: int(cfg[4], 'the memory limit') };
  if (cfg[5] !== null && cfg[5] !== undefined) {
    if (typeof cfg[5] !== 'boolean') fail(`the evictions setting should be true or false, not ${String(cfg[5])}`);
    config = { ...config, evictions: cfg[5] };
  }
  const counters = newStoreCounters();
  const cv = arr(x[8], 'the counters');
  STORE_COUNTER_NAMES.forEach((n, i) => {
    if (i < cv.length) counters[n] = int(cv[i], `counter ${n}`);
  });
  const casCounter = int(x[5], 'the CAS counter');
  const list = arrayAt(bytes, pos);
  if (list === undefined) arr(next(), 'the items');
  const flatLength = (list as { count: number }).count;
  if (flatLength % 6 !== 0) fail('the item list is cut short');
  pos = (list as { next: number }).next;
  yield;
  const items: ImageItem[] = [];
  // A key twice would be counted twice against the memory limit, a CAS above the counter handed
  // out again: a store loaded from either would part from the others.
  const keys = new Set<string>();
  for (let done = 0; done < flatLength / 6; ) {
    // The next chunk's items, decoded as one array: their bytes behind an array header of their own
    // (decoding them with decodeMulti, without the copy, was no faster, and stopped the loop longer
    // now and then: 125–226 ms against at most 78, 400,000 items).
    const n = Math.min(chunkItems, flatLength / 6 - done);
    const end = valuesEnd(bytes, pos, 6 * n);
    const header = arrayHeader(6 * n);
    const piece = new Uint8Array(header.length + end - pos);
    piece.set(header);
    piece.set(bytes.subarray(pos, end), header.length);
    pos = end;
    let flat: unknown;
    try {
      flat = decoder.decode(piece);
    } catch (e) {
      notMsgpack(e);
    }
    const values = flat as readonly unknown[];
    for (let j = 0; j < values.length; j += 6) {
      const i = done + j / 6;
      const k = values[j];
      const v = values[j + 1];
      if (!(k instanceof Uint8Array) || !(v instanceof Uint8Array)) fail(`item ${i} has no key or value bytes`);
      const item: ImageItem = {
        key: bytesToKey(k),
        // Its own bytes: a view would keep the whole snapshot alive for as long as this item.
        value: ownBytes(v),
        flags: int(values[j + 2], 'item flags'),
        cas: int(values[j + 3], 'an item CAS unique'),
        expiresAt: num(values[j + 4], 'an item expiry'),
        storedAt: num(values[j + 5], 'an item store time'),
      };
      if (keys.has(item.key)) fail(`item ${i} repeats a key listed before it`);
      if (item.cas > casCounter) fail(`item ${i} has CAS unique ${item.cas}, above the CAS counter ${casCounter}`);
      keys.add(item.key);
      items.push(item);
    }
    done += n;
    yield;
  }
  const sessions: ImageSession[] = arr(next(), 'the sessions').map((raw, i) => {
    const s = arr(raw, `session ${i}`);
    const results = arr(s[3], `session ${i} results`).map((pair): readonly [number, KvResult] => {
      const p = arr(pair, `a result of session ${i}`);
      return [int(p[0], 'a result seq'), ownResult(resultFromWire(p[1]))];
    });
    return { id: int(s[0], 'a session id'), lastActive: num(s[1], 'a session time'), acked: int(s[2], 'a session ack'), results };
  });
  return {
    meta: { iid: int(meta[0], 'the instance'), index: int(meta[1], 'the index') },
    image: {
      config,
      clock: num(x[4], 'the clock'),
      casCounter,
      flushAt: num(x[6], 'the pending flush'),
      nextSessionId: int(x[7], 'the next session id'),
      counters,
      items,
      sessions,
    },
  };
}

/** `r` with values of its own (a remembered get's hits): views would keep the whole snapshot alive. */
function ownResult(r: KvResult): KvResult {
  return r.status === 'values' ? { ...r, hits: r.hits.map((h) => ({ ...h, value: ownBytes(h.value) })) } : r;
}
