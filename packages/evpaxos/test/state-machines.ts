import { readAll, type StateMachine } from '../src/index.js';

/**
 * A test state machine: the number of values applied and a hash chain over them, so two replicas
 * that applied different sequences disagree. Its snapshot carries `pad` bytes more (derived from
 * the state, and checked on restore) so that transfers span many chunks.
 */
export class DigestMachine implements StateMachine<number> {
  count = 0;
  hash = 0x811c9dc5;
  restoredAt = 0;
  readonly applied: number[] = [];

  constructor(readonly pad = 0) {}

  apply(iid: number, _index: number, value: Uint8Array): number {
    for (const b of value) this.hash = Math.imul(this.hash ^ b, 0x01000193) >>> 0;
    this.count++;
    this.applied.push(iid);
    return this.count;
  }

  snapshot(): Uint8Array {
    const out = new Uint8Array(8 + this.pad);
    const view = new DataView(out.buffer);
    view.setUint32(0, this.count);
    view.setUint32(4, this.hash);
    for (let i = 0; i < this.pad; i++) out[8 + i] = (this.hash >>> (i % 24)) & 0xff ^ (i & 0xff);
    return out;
  }

  async restore(data: AsyncIterable<Uint8Array>, iid: number): Promise<void> {
    const bytes = await readAll(data);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const count = view.getUint32(0);
    const hash = view.getUint32(4);
    for (let i = 0; i < bytes.length - 8; i++) {
      if (bytes[8 + i] !== (((hash >>> (i % 24)) & 0xff) ^ (i & 0xff))) throw new Error(`snapshot byte ${8 + i} is wrong`);
    }
    this.count = count;
    this.hash = hash;
    this.restoredAt = iid;
  }

  get digest(): string {
    return `${this.count}:${this.hash.toString(16)}`;
  }
}
