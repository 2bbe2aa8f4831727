/**
 * memcached's expiry rules, on the state machine's clock (ms since the unix epoch, stamped by the
 * leader on each command; replicas never read a clock of their own).
 *
 * memcached's `realtime()` (memcached.c): exptime 0 never expires; up to 30 days it counts from
 * now; above that it is a unix time; a negative exptime means already expired
 * (`EXPTIME_TO_POSITIVE_TIME`). An item is gone once the clock reaches its expiry
 * (`it->exptime <= current_time`).
 */
import type { Key } from './bytes.js';

/** memcached's REALTIME_MAXDELTA: the largest relative exptime, in seconds (30 days). */
export const REALTIME_MAXDELTA = 60 * 60 * 24 * 30;

/** Expiry of an item that never expires. */
export const NEVER = 0;
/** Expiry of an item that is expired from the start (a negative exptime). */
export const ALREADY_EXPIRED = -1;

/** When an item given memcached `exptime` (seconds) at `now` (ms) expires, in ms; NEVER for never. */
export function expiryOf(exptime: number, now: number): number {
  if (exptime === 0) return NEVER;
  if (exptime < 0) return ALREADY_EXPIRED;
  if (exptime > REALTIME_MAXDELTA) {
    const at = exptime * 1000;
    return at <= now ? ALREADY_EXPIRED : at;
  }
  return now + exptime * 1000;
}

export function isExpired(expiresAt: number, now: number): boolean {
  return expiresAt !== NEVER && expiresAt <= now;
}

/**
 * When flush_all with `delay` seconds, given at `now`, takes effect, in ms; `now` or earlier means
 * at once. memcached sets `oldest_live = realtime(delay) - 1`, one second before the delay ends
 * (so `flush_all 1` flushes at once), and from then on every item last stored at or before it is
 * gone (`item_is_flushed`), also items stored while the flush was pending.
 */
export function flushDeadline(delay: number, now: number): number {
  if (delay <= 0) return now;
  const end = expiryOf(delay, now);
  return end === ALREADY_EXPIRED ? now : end - 1000;
}

interface Due {
  readonly at: number;
  readonly key: Key;
  readonly cas: number;
}

/**
 * Items by expiry time, so that each command removes exactly the items that expired before it (a
 * replica's memory then holds no dead items, and which items exist never depends on when anybody
 * read). Entries are not removed when an item changes: a popped entry counts only if the item still
 * has that CAS unique and expiry.
 */
export class ExpiryHeap {
  private readonly heap: Due[] = [];

  get size(): number {
    return this.heap.length;
  }

  clear(): void {
    this.heap.length = 0;
  }

  push(at: number, key: Key, cas: number): void {
    const h = this.heap;
    h.push({ at, key, cas });
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((h[parent] as Due).at <= at) break;
      h[i] = h[parent] as Due;
      i = parent;
    }
    h[i] = { at, key, cas };
  }

  /** The entries due at `now`, removed from the heap. */
  popDue(now: number, each: (key: Key, cas: number, at: number) => void): void {
    const h = this.heap;
    while (h.length > 0 && (h[0] as Due).at <= now) {
      const top = h[0] as Due;
      const last = h.pop() as Due;
      if (h.length > 0) {
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          if (l >= h.length) break;
          const r = l + 1;
          const c = r < h.length && (h[r] as Due).at < (h[l] as Due).at ? r : l;
          if ((h[c] as Due).at >= last.at) break;
          h[i] = h[c] as Due;
          i = c;
        }
        h[i] = last;
      }
      each(top.key, top.cas, top.at);
    }
  }
}
