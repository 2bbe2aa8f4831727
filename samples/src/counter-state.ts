import { readAll, type StateMachine } from '@libpaxos/evpaxos';

/** The state: how many values were applied, and the instance of the last one. */
export class Counter implements StateMachine<number> {
  count = 0;
  lastIid = 0;

  /** Counts a value; `propose()` resolves with the count after it. */
  apply(iid: number, _index: number, _value: Uint8Array): number {
    this.lastIid = iid;
    return ++this.count;
  }

  /** 16 bytes: the count and the last instance, as two big-endian uint64 halves each. */
  snapshot(): Uint8Array {
    const out = new Uint8Array(16);
    const view = new DataView(out.buffer);
    view.setBigUint64(0, BigInt(this.count));
    view.setBigUint64(8, BigInt(this.lastIid));
    return out;
  }

  async restore(data: AsyncIterable<Uint8Array>, iid: number): Promise<void> {
    const bytes = await readAll(data);
    if (bytes.length !== 16) throw new Error(`a counter snapshot is 16 bytes, this one ${bytes.length}`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.count = Number(view.getBigUint64(0));
    this.lastIid = Number(view.getBigUint64(8));
    if (this.lastIid > iid) throw new Error(`the snapshot of instance ${iid} holds values up to instance ${this.lastIid}`);
  }
}

