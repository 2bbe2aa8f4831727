/**
 * The proposer's FIFO of client values (LibPaxos3's carray): a growable ring buffer. Displaced
 * values go back to the front, so a value that lost its instance keeps its place in line.
 */
export class ValueQueue {
  private buf: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(16);
  private head = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(value: Uint8Array): void {
    if (this.count === this.buf.length) this.grow();
    this.buf[(this.head + this.count) % this.buf.length] = value;
    this.count++;
  }

  unshift(value: Uint8Array): void {
    if (this.count === this.buf.length) this.grow();
    this.head = (this.head - 1 + this.buf.length) % this.buf.length;
    this.buf[this.head] = value;
    this.count++;
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
