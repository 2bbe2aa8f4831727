import { bytesEqual, hashBytes } from './bytes.js';

/**
 * The proposer's FIFO of client values (LibPaxos3's carray): a growable ring buffer. Displaced
 * values go back to the front, so a value that lost its instance keeps its place in line.
 */
export class ValueQueue {
  private buf: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(16);
  private head = 0;
  private count = 0;
  /** With `indexed`: how many values of each byte-hash are queued, so `has` is O(1) on average. */
  private readonly index: Map<number, number> | undefined;

  constructor(indexed = false) {
    this.index = indexed ? new Map() : undefined;
  }

  /** Whether a value with these bytes is queued (an indexed queue only; otherwise false). */
  has(value: Uint8Array): boolean {
    if (this.index === undefined || !this.index.has(hashBytes(value))) return false;
    for (const v of this) if (bytesEqual(v, value)) return true;
    return false;
  }

  private counted(value: Uint8Array, by: number): void {
    if (this.index === undefined) return;
    const h = hashBytes(value);
    const n = (this.index.get(h) ?? 0) + by;
    if (n <= 0) this.index.delete(h);
    else this.index.set(h, n);
  }

  get length(): number {
    return this.count;
  }

  push(value: Uint8Array): void {
    if (this.count === this.buf.length) this.grow();
    this.buf[(this.head + this.count) % this.buf.length] = value;
    this.count++;
    this.counted(value, 1);
  }

  unshift(value: Uint8Array): void {
    if (this.count === this.buf.length) this.grow();
    this.head = (this.head - 1 + this.buf.length) % this.buf.length;
    this.buf[this.head] = value;
    this.count++;
    this.counted(value, 1);
  }

  peek(): Uint8Array | undefined {
    return this.count === 0 ? undefined : this.buf[this.head];
  }

  shift(): Uint8Array | undefined {
    if (this.count === 0) return undefined;
    const value = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) % this.buf.length;
    this.count--;
    if (value !== undefined) this.counted(value, -1);
    return value;
  }

  *[Symbol.iterator](): IterableIterator<Uint8Array> {
    for (let i = 0; i < this.count; i++) yield this.buf[(this.head + i) % this.buf.length] as Uint8Array;
  }

  private grow(): void {
    const next = new Array<Uint8Array | undefined>(this.buf.length * 2);
    for (let i = 0; i < this.count; i++) next[i] = this.buf[(this.head + i) % this.buf.length];
    this.buf = next;
    this.head = 0;
  }
}
