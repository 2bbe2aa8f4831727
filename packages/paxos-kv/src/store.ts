/**
 * The KV state machine: memcached's item semantics (memcached 1.6's do_store_item, do_add_delta,
 * item_touch, flush_all), made deterministic. Commands in, results out, no I/O and no clock: time
 * comes in each request (stamped by the leader) and never runs backwards here (a new leader whose
 * clock is behind cannot make items live again). Everything that decides a result (items, the CAS
 * counter, the clock, a pending flush, sessions, counters) is state, is in the snapshot, and is
 * the same on every replica that applied the same requests.
 */
import { ascii, isByteString, ownBytes, type Key } from './bytes.js';
import {
  assertNever,
  type ArithmeticCommand,
  type CasCommand,
  type Hit,
  type KvCommand,
  type KvRequest,
  type KvResult,
  type StoreCommand,
} from './command.js';
import { ExpiryHeap, expiryOf, flushDeadline, isExpired, NEVER } from './expiry.js';
import { parseU64 } from './numbers.js';
import { runSteps } from './steps.js';
import { SessionTable, type Session, type SessionLimits } from './sessions.js';
import { newStoreCounters, type StoreCounters, type StoreStats } from './stats.js';

/** memcached's KEY_MAX_LENGTH. */
export const KEY_MAX_LENGTH = 250;
/** memcached's default item size limit (-I): 1 MiB. */
export const DEFAULT_ITEM_SIZE_MAX = 1024 * 1024;
/** memcached's default memory limit (-m 64): 64 MiB. */
export const DEFAULT_MEMORY_LIMIT = 64 * 1024 * 1024;

/**
 * Bytes an item takes by memcached's accounting (items.c `item_make_header` + CAS): a 48-byte item
 * header, 8 bytes of CAS, the key and its NUL, 4 bytes of flags unless they are 0, and the value with
 * its CRLF. An item fits when this is at most the item size limit: exactly memcached's limit, so a
 * value memcached refuses is refused here too.
 */
export function itemSize(keyLength: number, flags: number, valueLength: number): number {
  return 48 + 8 + keyLength + 1 + (flags !== 0 ? 4 : 0) + valueLength + 2;
}

export interface KvStoreOptions {
  /** Largest item by `itemSize` (memcached's -I); default 1 MiB. */
  readonly itemSizeMax?: number;
  /**
   * The items' bytes by `itemSize` (memcached's `bytes` stat) may not exceed this (memcached's -m,
   * which bounds slab pages instead); at least twice `itemSizeMax`, as memcached demands; default
   * 64 MiB.
   */
  readonly memoryLimit?: number;
  /**
   * What a store that does not fit does: evict the least recently stored items (true, the default,
   * as memcached), or fail with `out_of_memory` (false, memcached's -M).
   */
  readonly evictions?: boolean;
  /** A session idle this long (by the commands' clock) expires; default 10 minutes. */
  readonly sessionTtlMs?: number;
  /** At most this many sessions; a new one evicts the least recently active; default 100,000. */
  readonly maxSessions?: number;
  /** At most this many unacknowledged results per session; default 1,024. */
  readonly maxPendingPerSession?: number;
}

export interface KvStoreConfig {
  readonly itemSizeMax: number;
  readonly memoryLimit: number;
  readonly evictions: boolean;
  readonly sessions: SessionLimits;
}

export function storeConfig(options: KvStoreOptions = {}): KvStoreConfig {
  const cfg: KvStoreConfig = {
    itemSizeMax: options.itemSizeMax ?? DEFAULT_ITEM_SIZE_MAX,
    memoryLimit: options.memoryLimit ?? DEFAULT_MEMORY_LIMIT,
    evictions: options.evictions ?? true,
    sessions: {
      ttlMs: options.sessionTtlMs ?? 10 * 60 * 1000,
      maxSessions: options.maxSessions ?? 100_000,
      maxPending: options.maxPendingPerSession ?? 1024,
    },
  };
  const check = (name: string, v: number, min: number): void => {
    if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`paxos-kv: ${name} must be an integer ≥ ${min}, not ${v}`);
  };
  check('itemSizeMax', cfg.itemSizeMax, itemSize(1, 0, 0));
  check('memoryLimit', cfg.memoryLimit, 1);
  if (cfg.memoryLimit < 2 * cfg.itemSizeMax) {
    // memcached refuses the same ("Cannot set item size limit higher than 1/2 of memory max").
    throw new RangeError(`paxos-kv: memoryLimit ${cfg.memoryLimit} must be at least twice itemSizeMax ${cfg.itemSizeMax}, as memcached's -m must be for its -I`);
  }
  check('sessionTtlMs', cfg.sessions.ttlMs, 1);
  check('maxSessions', cfg.sessions.maxSessions, 1);
  check('maxPendingPerSession', cfg.sessions.maxPending, 1);
  return cfg;
}

/**
 * An item as the store holds it. Never changed once made (a touch replaces it), and values are
 * never changed in place: callers may keep them, and an image lists these very objects.
 */
export interface Item {
  readonly key: Key;
  readonly value: Uint8Array;
  readonly flags: number;
  readonly cas: number;
  /** ms; NEVER (0) for never. */
  readonly expiresAt: number;
  /** Clock when this version was stored (a delayed flush_all removes what was stored before it). */
  readonly storedAt: number;
}

/** Why a key is not a memcached key, or null. */
export function keyProblem(key: Key): string | null {
  if (key.length === 0) return 'the key is empty';
  if (key.length > KEY_MAX_LENGTH) return `the key is ${key.length} bytes; memcached keys are at most ${KEY_MAX_LENGTH}`;
  if (!isByteString(key)) return 'the key is not a byte string';
  return null;
}

export class KvStore {
  readonly config: KvStoreConfig;
  private items = new Map<Key, Item>();
  /**
   * The eviction order: (key, CAS unique) of every store, oldest first. Every link takes the next
   * CAS unique, so this is ascending CAS, and the least recently stored live item is the first
   * entry whose CAS is still its item's (later stores and deletes leave stale entries, skipped).
   * The order follows from the state alone (`load` rebuilds it by CAS), so a replica restored from
   * a checkpoint evicts what the others evict. Not a Map iterator kept between commands: V8 keeps
   * every table a Map was rehashed from alive while an iterator on it waits.
   */
  private orderKeys: Key[] = [];
  private orderCas: number[] = [];
  private orderHead = 0;
  private expiries = new ExpiryHeap();
  private readonly sessions: SessionTable;
  private counters: StoreCounters = newStoreCounters();
  private casCounter = 0;
  private clockMs = 0;
  /** A pending delayed flush_all: items stored at or before it are gone once the clock reaches it; 0 none. */
  private flushAt = 0;
  private totalBytes = 0;

  constructor(options: KvStoreOptions | KvStoreConfig = {}) {
    this.config = 'sessions' in options ? options : storeConfig(options);
    this.sessions = new SessionTable(this.config.sessions);
  }

  /** The state machine's clock: the latest time any applied request carried (ms). */
  get clock(): number {
    return this.clockMs;
  }

  /** The last CAS unique handed out. */
  get lastCas(): number {
    return this.casCounter;
  }

  /** Items held (none of them expired as of `clock`). */
  get size(): number {
    return this.items.size;
  }

  /** Entries in the expiry heap (bounded by the items; for tests). */
  get pendingExpiries(): number {
    return this.expiries.size;
  }

  /** Applies one request from the log. */
  apply(req: KvRequest): KvResult {
    const now = this.advance(req.now);
    const session = req.session;
    if (req.command.op === 'register') return { status: 'session', id: this.sessions.open(now).id };
    if (session === undefined) return this.execute(req.command, now);
    const verdict = this.sessions.check(session.id, session.seq, session.ack, now);
    if (verdict.kind === 'answer') return verdict.result;
    const result = this.execute(req.command, now);
    // A plain get changes nothing, so a retry may run it again (a later read is still within the
    // client's wait); keeping its values would only cost memory.
    if (req.command.op !== 'get') remember(verdict.session, session.seq, result);
    return result;
  }

  /**
   * A read served without the log (under the leader's lease, or a stale read): pure, changes
   * nothing. `now` is the reader's clock; expiry is judged at the later of it and the store's.
   */
  read(keys: readonly Key[], now: number): Hit[] {
    const t = Math.max(now, this.clockMs);
    const hits: Hit[] = [];
    for (const key of keys) {
      const it = this.live(key, t);
      if (it !== undefined) hits.push({ key, flags: it.flags, cas: it.cas, value: it.value });
    }
    return hits;
  }

  /** The item under `key` as of the store's clock, if it is live. */
  peek(key: Key): Readonly<Item> | undefined {
    return this.live(key, this.clockMs);
  }

  stats(): StoreStats {
    return {
      counters: { ...this.counters },
      curr_items: this.items.size,
      bytes: this.totalBytes,
      item_size_max: this.config.itemSizeMax,
      limit_maxbytes: this.config.memoryLimit,
      evictions_on: this.config.evictions,
      sessions: this.sessions.size,
      cas_unique: this.casCounter,
    };
  }

  // ---- time ----

  /** Moves the clock to `now` (never back) and drops what expired by then. */
  private advance(now: number): number {
    if (Number.isFinite(now) && now > this.clockMs) this.clockMs = now;
    const t = this.clockMs;
    this.expiries.popDue(t, (key, cas, at) => {
      const it = this.items.get(key);
      if (it !== undefined && it.cas === cas && it.expiresAt === at) {
        this.unlink(key, it);
        this.counters.expired_unfetched++;
        this.counters.reclaimed++;
      }
    });
    if (this.flushAt !== 0 && this.flushAt <= t) {
      const at = this.flushAt;
      this.flushAt = 0;
      for (const [key, it] of this.items) if (it.storedAt <= at) this.unlink(key, it);
    }
    this.sessions.expire(t);
    return t;
  }

  private live(key: Key, now: number): Item | undefined {
    const it = this.items.get(key);
    if (it === undefined) return undefined;
    if (isExpired(it.expiresAt, now)) return undefined;
    if (this.flushAt !== 0 && this.flushAt <= now && it.storedAt <= this.flushAt) return undefined;
    return it;
  }

  // ---- item bookkeeping ----

  private link(key: Key, value: Uint8Array, flags: number, expiresAt: number, storedAt: number): Item {
    const old = this.items.get(key);
    if (old !== undefined) this.unlink(key, old);
    // memcached hands out a CAS unique when an item is linked (do_item_link).
    const it: Item = { key, value, flags, cas: ++this.casCounter, expiresAt, storedAt };
    this.items.set(key, it);
    this.stored(key, it.cas);
    this.totalBytes += itemSize(key.length, flags, value.length);
    this.counters.total_items++;
    if (expiresAt !== NEVER) this.pushExpiry(expiresAt, key, it.cas);
    return it;
  }

  /** Notes a store in the eviction order; past twice the items (plus slack) the order is rebuilt from them. */
  private stored(key: Key, cas: number): void {
    this.orderKeys.push(key);
    this.orderCas.push(cas);
    if (this.orderKeys.length - this.orderHead > 2 * this.items.size + 1024) this.rebuildOrder();
    else if (this.orderHead > 4096 && 2 * this.orderHead > this.orderKeys.length) {
      // Evictions consumed the front: drop it (half the array at least, so O(1) a store).
      this.orderKeys = this.orderKeys.slice(this.orderHead);
      this.orderCas = this.orderCas.slice(this.orderHead);
      this.orderHead = 0;
    }
  }

  private rebuildOrder(): void {
    // The map's own order is CAS order (see `image`); sorted only if it were not.
    const keys: Key[] = [];
    const cas: number[] = [];
    for (const [key, it] of this.items) {
      if (cas.length > 0 && it.cas <= (cas[cas.length - 1] as number)) {
        const live = [...this.items.values()].sort(byCas);
        this.orderKeys = live.map((i) => i.key);
        this.orderCas = live.map((i) => i.cas);
        this.orderHead = 0;
        return;
      }
      keys.push(key);
      cas.push(it.cas);
    }
    this.orderKeys = keys;
    this.orderCas = cas;
    this.orderHead = 0;
  }

  /**
   * The heap keeps an entry per expiry ever set until its time comes, so a key touched over and
   * over would pile up entries: past twice the items (plus slack) it is rebuilt from the items.
   */
  private pushExpiry(at: number, key: Key, cas: number): void {
    this.expiries.push(at, key, cas);
    if (this.expiries.size > 2 * this.items.size + 1024) {
      this.expiries.clear();
      for (const [k, it] of this.items) if (it.expiresAt !== NEVER) this.expiries.push(it.expiresAt, k, it.cas);
    }
  }

  private unlink(key: Key, it: Item): void {
    this.items.delete(key);
    this.totalBytes -= itemSize(key.length, it.flags, it.value.length);
  }

  /**
   * Makes room for an item of `size` bytes under `key`, which replaces the item there (if any):
   * false, changing nothing, when it cannot fit (evictions off); otherwise the item there is gone
   * and the least recently stored others are evicted until the new one fits, as memcached's LRU
   * tail is when an allocation finds no free memory. Reads never reorder items here, unlike in
   * memcached: a read may be served without the log, by one replica, so it cannot decide what
   * every replica evicts.
   */
  private makeRoom(key: Key, size: number): boolean {
    const limit = this.config.memoryLimit;
    const old = this.items.get(key);
    const freed = old === undefined ? 0 : itemSize(key.length, old.flags, old.value.length);
    if (this.totalBytes - freed + size <= limit) return true;
    if (!this.config.evictions || size > limit) return false;
    if (old !== undefined) this.unlink(key, old);
    while (this.totalBytes + size > limit) {
      const oldest = this.oldest();
      if (oldest === undefined) break;
      this.unlink(oldest[0], oldest[1]);
      this.counters.evictions++;
    }
    return true;
  }

  private oldest(): [Key, Item] | undefined {
    while (this.orderHead < this.orderKeys.length) {
      const key = this.orderKeys[this.orderHead] as Key;
      const cas = this.orderCas[this.orderHead] as number;
      this.orderHead++;
      const it = this.items.get(key);
      if (it !== undefined && it.cas === cas) return [key, it];
    }
    return undefined;
  }

  /** A new item in `it`'s place (the map keeps its position, so CAS order holds): an image taken before keeps the old expiry. */
  private setExpiry(key: Key, it: Item, expiresAt: number): void {
    this.items.set(key, { key, value: it.value, flags: it.flags, cas: it.cas, expiresAt, storedAt: it.storedAt });
    if (expiresAt !== NEVER) this.pushExpiry(expiresAt, key, it.cas);
  }

  // ---- commands ----

  private execute(cmd: KvCommand, now: number): KvResult {
    switch (cmd.op) {
      case 'set':
      case 'add':
      case 'replace':
      case 'append':
      case 'prepend':
      case 'cas':
        return this.store(cmd, now);
      case 'get':
        return this.get(cmd.keys, now);
      case 'gat':
        return this.gat(cmd.keys, cmd.exptime, now);
      case 'touch':
        return this.touch(cmd.key, cmd.exptime, now);
      case 'delete':
        return this.remove(cmd.key, cmd.cas, now);
      case 'incr':
      case 'decr':
        return this.arithmetic(cmd, now);
      case 'flush_all':
        return this.flush(cmd.delay, now);
      case 'oversized_set': {
        const bad = keyProblem(cmd.key);
        if (bad !== null) return { status: 'invalid', reason: bad };
        const old = this.items.get(cmd.key);
        if (old !== undefined) this.unlink(cmd.key, old);
        return { status: 'too_large' };
      }
      case 'register':
        return { status: 'session', id: this.sessions.open(now).id };
      default:
        return assertNever(cmd);
    }
  }

  private store(cmd: StoreCommand | CasCommand, now: number): KvResult {
    const bad = keyProblem(cmd.key);
    if (bad !== null) return { status: 'invalid', reason: bad };
    if (!isU32(cmd.flags)) return { status: 'invalid', reason: `flags ${cmd.flags} are not a uint32` };
    this.counters.cmd_set++;
    const key = cmd.key;
    if (itemSize(key.length, cmd.flags, cmd.value.length) > this.config.itemSizeMax) {
      // memcached removes the old item when a set fails for size (process_update_command).
      if (cmd.op === 'set') {
        const old = this.items.get(key);
        if (old !== undefined) this.unlink(key, old);
      }
      return { status: 'too_large' };
    }
    const old = this.live(key, now);
    const wanted = cmd.cas ?? 0n;
    if (old !== undefined) {
      const casMatches = wanted !== 0n && BigInt(old.cas) === wanted;
      switch (cmd.op) {
        case 'add':
          return { status: 'not_stored' };
        case 'cas':
          if (!casMatches) {
            this.counters.cas_badval++;
            return { status: 'exists' };
          }
          this.counters.cas_hits++;
          break;
        case 'append':
        case 'prepend': {
          if (wanted !== 0n && !casMatches) return { status: 'exists' };
          // The new item keeps the old one's flags and expiry (do_store_item).
          const joined = new Uint8Array(old.value.length + cmd.value.length);
          joined.set(cmd.op === 'append' ? old.value : cmd.value, 0);
          joined.set(cmd.op === 'append' ? cmd.value : old.value, cmd.op === 'append' ? old.value.length : cmd.value.length);
          const size = itemSize(key.length, old.flags, joined.length);
          // memcached answers NOT_STORED when it cannot allocate the joined item (do_store_item).
          if (size > this.config.itemSizeMax || !this.makeRoom(key, size)) return { status: 'not_stored' };
          const it = this.link(key, joined, old.flags, old.expiresAt, now);
          return { status: 'stored', cas: it.cas };
        }
        case 'set':
        case 'replace':
          break;
        default:
          return assertNever(cmd);
      }
    } else {
      switch (cmd.op) {
        case 'cas':
          this.counters.cas_misses++;
          return { status: 'not_found' };
        case 'replace':
        case 'append':
        case 'prepend':
          return { status: 'not_stored' };
        case 'add':
        case 'set':
          break;
        default:
          return assertNever(cmd);
      }
    }
    if (!this.makeRoom(key, itemSize(key.length, cmd.flags, cmd.value.length))) {
      // process_update_command: out of memory, and a failed set must not leave the old value.
      const stale = cmd.op === 'set' ? this.items.get(key) : undefined;
      if (stale !== undefined) this.unlink(key, stale);
      return { status: 'out_of_memory' };
    }
    const it = this.link(key, ownBytes(cmd.value), cmd.flags, expiryOf(cmd.exptime, now), now);
    return { status: 'stored', cas: it.cas };
  }

  private get(keys: readonly Key[], now: number): KvResult {
    const hits: Hit[] = [];
    for (const key of keys) {
      const bad = keyProblem(key);
      if (bad !== null) return { status: 'invalid', reason: bad };
    }
    for (const key of keys) {
      this.counters.cmd_get++;
      const it = this.live(key, now);
      if (it === undefined) {
        this.counters.get_misses++;
        continue;
      }
      this.counters.get_hits++;
      hits.push({ key, flags: it.flags, cas: it.cas, value: it.value });
    }
    return { status: 'values', hits };
  }

  private gat(keys: readonly Key[], exptime: number, now: number): KvResult {
    for (const key of keys) {
      const bad = keyProblem(key);
      if (bad !== null) return { status: 'invalid', reason: bad };
    }
    const hits: Hit[] = [];
    for (const key of keys) {
      this.counters.cmd_touch++;
      const it = this.live(key, now);
      if (it === undefined) {
        this.counters.touch_misses++;
        continue;
      }
      this.counters.touch_hits++;
      // The expiry is counted from this command's time for every hit, as memcached's item_touch.
      this.setExpiry(key, it, expiryOf(exptime, now));
      hits.push({ key, flags: it.flags, cas: it.cas, value: it.value });
    }
    return { status: 'values', hits };
  }

  private touch(key: Key, exptime: number, now: number): KvResult {
    const bad = keyProblem(key);
    if (bad !== null) return { status: 'invalid', reason: bad };
    this.counters.cmd_touch++;
    const it = this.live(key, now);
    if (it === undefined) {
      this.counters.touch_misses++;
      return { status: 'not_found' };
    }
    this.counters.touch_hits++;
    this.setExpiry(key, it, expiryOf(exptime, now));
    return { status: 'touched' };
  }

  private remove(key: Key, cas: bigint | undefined, now: number): KvResult {
    const bad = keyProblem(key);
    if (bad !== null) return { status: 'invalid', reason: bad };
    const it = this.live(key, now);
    if (it === undefined) {
      this.counters.delete_misses++;
      return { status: 'not_found' };
    }
    if (cas !== undefined && cas !== 0n && BigInt(it.cas) !== cas) return { status: 'exists' };
    this.counters.delete_hits++;
    this.unlink(key, it);
    return { status: 'deleted' };
  }

  private arithmetic(cmd: ArithmeticCommand, now: number): KvResult {
    const key = cmd.key;
    const bad = keyProblem(key);
    if (bad !== null) return { status: 'invalid', reason: bad };
    const incr = cmd.op === 'incr';
    const it = this.live(key, now);
    if (it === undefined) {
      if (cmd.initial !== undefined) {
        // The binary protocol's seed: stored as its decimal text, like any counter (complete_incr_bin).
        const text = ascii(cmd.initial.value.toString());
        if (!this.makeRoom(key, itemSize(key.length, 0, text.length))) return { status: 'out_of_memory' };
        const seeded = this.link(key, text, 0, expiryOf(cmd.initial.exptime, now), now);
        return { status: 'number', value: cmd.initial.value, cas: seeded.cas };
      }
      if (incr) this.counters.incr_misses++;
      else this.counters.decr_misses++;
      return { status: 'not_found' };
    }
    // do_add_delta's order: empty value, then the CAS check, then the number.
    if (it.value.length === 0) return { status: 'non_numeric' };
    if (cmd.cas !== undefined && cmd.cas !== 0n && BigInt(it.cas) !== cmd.cas) return { status: 'exists' };
    const current = parseU64(it.value);
    if (current === null) return { status: 'non_numeric' };
    const next = incr ? BigInt.asUintN(64, current + cmd.delta) : cmd.delta > current ? 0n : current - cmd.delta;
    if (incr) this.counters.incr_hits++;
    else this.counters.decr_hits++;
    const digits = next.toString();
    if (digits.length <= it.value.length) {
      // memcached rewrites a shorter number in place, padded with spaces to the old length, and the
      // item keeps its store time; it only gets a new CAS unique.
      const padded = new Uint8Array(it.value.length).fill(0x20);
      for (let i = 0; i < digits.length; i++) padded[i] = digits.charCodeAt(i);
      this.unlink(key, it);
      const replaced: Item = { key, value: padded, flags: it.flags, cas: ++this.casCounter, expiresAt: it.expiresAt, storedAt: it.storedAt };
      this.items.set(key, replaced);
      this.stored(key, replaced.cas);
      this.totalBytes += itemSize(key.length, replaced.flags, padded.length);
      if (replaced.expiresAt !== NEVER) this.pushExpiry(replaced.expiresAt, key, replaced.cas);
      return { status: 'number', value: next, cas: replaced.cas };
    }
    // A longer number needs a new item (do_add_delta), which may not fit: memcached then answers
    // out of memory, having counted the hit.
    if (!this.makeRoom(key, itemSize(key.length, it.flags, digits.length))) return { status: 'out_of_memory' };
    const grown = this.link(key, ascii(digits), it.flags, it.expiresAt, now);
    // link() counted a new item; memcached's item_replace does too (total_items), so keep it.
    return { status: 'number', value: next, cas: grown.cas };
  }

  private flush(delay: number, now: number): KvResult {
    this.counters.cmd_flush++;
    const at = flushDeadline(delay, now);
    if (at > now) {
      this.flushAt = at;
      return { status: 'ok' };
    }
    // An immediate flush takes a CAS unique (memcached's oldest_cas) and cancels a pending one.
    this.casCounter++;
    this.flushAt = 0;
    this.items.clear();
    this.rebuildOrder();
    this.expiries.clear();
    this.totalBytes = 0;
    return { status: 'ok' };
  }

  // ---- snapshots ----

  /**
   * The whole state as plain data, items in CAS order: the order they were stored in, which is the
   * items map's own order (every store unlinks the key and appends it; `load` inserts by CAS), so
   * equal states give equal images without sorting. The items are the store's own objects, which
   * never change, so this is one copy of references and no encoding: a checkpoint of a large store
   * takes the image between two applies and encodes it afterwards, a chunk at a time
   * (snapshot.ts), instead of stopping the event loop for all of it.
   */
  image(): StoreImage {
    const items = Array.from(this.items.values());
    // Not taken while every store appends and `load` inserts by CAS; kept so that equal states give
    // equal images whatever order the map is in.
    if (!inCasOrder(items)) items.sort(byCas);
    const sessions: ImageSession[] = [];
    for (const s of this.sessions.all()) {
      sessions.push({ id: s.id, lastActive: s.lastActive, acked: s.acked, results: [...s.results.entries()].sort((a, b) => a[0] - b[0]) });
    }
    return {
      config: this.config,
      clock: this.clockMs,
      casCounter: this.casCounter,
      flushAt: this.flushAt,
      nextSessionId: this.sessions.nextSessionId,
      counters: { ...this.counters },
      items,
      sessions,
    };
  }

  /** Replaces the whole state with an image (from `image()`, usually through a snapshot). */
  load(img: StoreImage): void {
    runSteps(this.loadSteps(img));
  }

  /**
   * `load` a piece at a time: the generator stops after each `chunkItems` items (loading 400,000
   * took about a quarter of a second), building the new items aside, and replaces the state at its
   * last step, in one piece: until then the store is as it was, and nothing may change it. A
   * generator dropped before its end changes nothing.
   */
  *loadSteps(img: StoreImage, chunkItems = 4096): Generator<void, void> {
    const items = new Map<Key, Item>();
    const expiries = new ExpiryHeap();
    let totalBytes = 0;
    // The eviction order as `rebuildOrder` would make it, built along (the items go in by CAS).
    const orderKeys: Key[] = [];
    const orderCas: number[] = [];
    // In CAS order, so that `image()` finds the map in it and need not sort; older builds' images
    // list the items by key.
    const list = inCasOrder(img.items) ? img.items : [...img.items].sort(byCas);
    // Whether the CAS uniques rise strictly (the sort leaves equal ones side by side).
    let rising = true;
    for (let n = 0; n < list.length; n++) {
      const i = list[n] as ImageItem;
      if (n > 0 && i.cas <= (list[n - 1] as ImageItem).cas) rising = false;
      // Items never change, so an image's own (a decoded snapshot's copies its values) are taken as they are.
      const value = ownBytes(i.value);
      const it: Item = value === i.value ? i : { key: i.key, value, flags: i.flags, cas: i.cas, expiresAt: i.expiresAt, storedAt: i.storedAt };
      items.set(i.key, it);
      orderKeys.push(i.key);
      orderCas.push(i.cas);
      totalBytes += itemSize(i.key.length, i.flags, i.value.length);
      if (it.expiresAt !== NEVER) expiries.push(it.expiresAt, i.key, it.cas);
      if ((n + 1) % chunkItems === 0) yield;
    }
    this.items = items;
    this.expiries = expiries;
    this.totalBytes = totalBytes;
    this.clockMs = img.clock;
    this.casCounter = img.casCounter;
    this.flushAt = img.flushAt;
    this.counters = { ...newStoreCounters(), ...img.counters };
    if (items.size === orderKeys.length && rising) {
      this.orderKeys = orderKeys;
      this.orderCas = orderCas;
      this.orderHead = 0;
    } else {
      // A key listed twice, or a CAS unique twice: what `rebuildOrder` makes of it.
      this.rebuildOrder();
    }
    this.sessions.load(
      img.nextSessionId,
      img.sessions.map((s) => ({ id: s.id, lastActive: s.lastActive, acked: s.acked, results: new Map(s.results) })),
    );
  }
}

function byCas(a: { readonly cas: number }, b: { readonly cas: number }): number {
  return a.cas - b.cas;
}

function inCasOrder(items: readonly ImageItem[]): boolean {
  for (let i = 1; i < items.length; i++) if ((items[i] as ImageItem).cas <= (items[i - 1] as ImageItem).cas) return false;
  return true;
}

function remember(s: Session, seq: number, result: KvResult): void {
  s.results.set(seq, result);
}

function isU32(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

/** An item in an image: the store's own item objects (immutable), or decoded from a snapshot. */
export type ImageItem = Item;

export interface ImageSession {
  readonly id: number;
  readonly lastActive: number;
  readonly acked: number;
  readonly results: readonly (readonly [number, KvResult])[];
}

/**
 * The settings an image was made with. A format-1 snapshot (before the memory limit) does not say
 * its memory settings: it was made by a build that never evicted.
 */
export type ImageConfig = Omit<KvStoreConfig, 'memoryLimit' | 'evictions'> & Partial<Pick<KvStoreConfig, 'memoryLimit' | 'evictions'>>;

/** The store's whole state as plain data. */
export interface StoreImage {
  readonly config: ImageConfig;
  readonly clock: number;
  readonly casCounter: number;
  readonly flushAt: number;
  readonly nextSessionId: number;
  readonly counters: StoreCounters;
  readonly items: readonly ImageItem[];
  readonly sessions: readonly ImageSession[];
}
