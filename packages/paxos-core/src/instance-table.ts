import { isUint32 } from './limits.js';

/**
 * Entries by instance id, for the acceptor's records. Instance ids are dense in practice (a
 * leader numbers them one after another), so they are kept in pages of PAGE_SIZE slots found by a
 * small Map of pages, and the last page used is remembered. A Map keyed by iid, which this
 * replaces, grows with every instance the acceptor holds: with memory storage and no trimming that
 * is every instance since start, and each lookup then misses the cache and each growth rehashes
 * the whole table (a few hundred ns per accept at 300,000 records, against tens here). Trimming
 * drops whole pages, so it costs the pages, not the records.
 *
 * Sparse ids (a proposer that prepares far ahead) cost a page each, about 300 bytes with
 * PAGE_SIZE 32, against about 100 for a record with its Map entry before; dense ids cost about two
 * bytes each on top of the records. Ids are uint32 (LibPaxos3's iid_t): any other number is never
 * found, and storing one throws, so an id past 2^32 cannot alias a page. Entries leave only by
 * `deleteUpTo` (the acceptor forgets records by trimming, and below its memory window once its
 * storage holds them).
 */
const PAGE_BITS = 5;
const PAGE_SIZE = 1 << PAGE_BITS;
const SLOT_MASK = PAGE_SIZE - 1;

interface Page<T> {
  readonly slots: (T | undefined)[];
  /** Slots in use: the page is dropped when it reaches 0. */
  used: number;
}

export class InstanceTable<T> {
  private readonly pages = new Map<number, Page<T>>();
  private count = 0;
  /** The page last looked up, and its number (consecutive ids hit it without a Map lookup). */
  private lastNumber = -1;
  private lastPage: Page<T> | undefined;

  get size(): number {
    return this.count;
  }

  get(iid: number): T | undefined {
    if (!isUint32(iid)) return undefined;
    return this.page(iid)?.slots[iid & SLOT_MASK];
  }

  set(iid: number, value: T): void {
    if (!isUint32(iid)) throw new RangeError(`instance id ${iid} is not a uint32`);
    let page = this.page(iid);
    if (page === undefined) {
      page = { slots: emptySlots<T>(), used: 0 };
      const number = pageNumber(iid);
      this.pages.set(number, page);
      this.lastNumber = number;
      this.lastPage = page;
    }
    const slot = iid & SLOT_MASK;
    if (page.slots[slot] === undefined) {
      page.used++;
      this.count++;
    }
    page.slots[slot] = value;
  }

  /** Calls `fn` for every entry with an id at or below `iid`, walking the pages held (not the ids). */
  forEachUpTo(iid: number, fn: (value: T, iid: number) => void): void {
    if (!isUint32(iid)) throw new RangeError(`instance id ${iid} is not a uint32`);
    const last = pageNumber(iid);
    for (const [number, page] of this.pages) {
      if (number > last) continue;
      const base = number << PAGE_BITS;
      const top = number === last ? iid & SLOT_MASK : SLOT_MASK;
      for (let slot = 0; slot <= top; slot++) {
        const v = page.slots[slot];
        if (v !== undefined) fn(v, (base + slot) >>> 0);
      }
    }
  }

  /** Deletes every entry with an id at or below `iid`: whole pages at once, then the page `iid` is in. */
  deleteUpTo(iid: number): void {
    if (!isUint32(iid)) throw new RangeError(`instance id ${iid} is not a uint32`);
    const last = pageNumber(iid);
    for (const [number, page] of this.pages) {
      if (number < last) {
        this.count -= page.used;
        this.dropPage(number);
      }
    }
    const page = this.pages.get(last);
    if (page === undefined) return;
    for (let slot = 0; slot <= (iid & SLOT_MASK); slot++) {
      if (page.slots[slot] === undefined) continue;
      page.slots[slot] = undefined;
      page.used--;
      this.count--;
    }
    if (page.used === 0) this.dropPage(last);
  }

  private page(iid: number): Page<T> | undefined {
    const number = pageNumber(iid);
    if (number === this.lastNumber) return this.lastPage;
    const page = this.pages.get(number);
    if (page !== undefined) {
      this.lastNumber = number;
      this.lastPage = page;
    }
    return page;
  }

  private dropPage(number: number): void {
    this.pages.delete(number);
    if (number === this.lastNumber) {
      this.lastNumber = -1;
      this.lastPage = undefined;
    }
  }
}

/** Ids are checked to be uint32 first, so `>>>` and `&` see all of their bits. */
function pageNumber(iid: number): number {
  return iid >>> PAGE_BITS;
}

/** A page's slots, all empty. Pushed one by one: `new Array(n)` would make a holey array. */
function emptySlots<T>(): (T | undefined)[] {
  const slots: (T | undefined)[] = [];
  for (let i = 0; i < PAGE_SIZE; i++) slots.push(undefined);
  return slots;
}
