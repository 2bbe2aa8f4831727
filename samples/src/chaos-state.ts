import { readAll, type StateMachine } from '@libpaxos/evpaxos';
import { readChaosValue } from './chaos-value.js';

/**
 * The replicated state of `pnpm chaos`: every value id delivered, in order, as a count and a hash
 * chain (so the checker can tell whether a state restored from a checkpoint is the state of the
 * common sequence at that instance), and the set of ids (so a client's learner that installs a
 * checkpoint knows which of its values were delivered, and a transfer moves a state that grows).
 * The snapshot also carries `pad` bytes derived from the state, checked on restore, so transfers
 * take long enough for the nemesis to kill a replica in the middle of one.
 */
export class ChaosState implements StateMachine<undefined> {
  count = 0;
  hash = 0x811c9dc5;
  readonly ids = new Set<string>();

  constructor(
    private readonly pad: number,
    private readonly onRestore?: (iid: number, state: ChaosState) => void,
  ) {}

  apply(_iid: number, _index: number, value: Uint8Array): undefined {
    const id = readChaosValue(value) ?? 'foreign';
    this.count++;
    this.hash = chainHash(this.hash, id);
    this.ids.add(id);
    return undefined;
  }

  snapshot(): Uint8Array {
    const ids = new TextEncoder().encode([...this.ids].join('\n'));
    const out = new Uint8Array(12 + ids.length + this.pad);
    const view = new DataView(out.buffer);
    view.setUint32(0, this.count);
    view.setUint32(4, this.hash);
    view.setUint32(8, ids.length);
    out.set(ids, 12);
    for (let i = 0; i < this.pad; i++) out[12 + ids.length + i] = padByte(this.hash, i);
    return out;
  }

  async restore(data: AsyncIterable<Uint8Array>, iid: number): Promise<void> {
    const bytes = await readAll(data);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const count = view.getUint32(0);
    const hash = view.getUint32(4);
    const n = view.getUint32(8);
    for (let i = 12 + n; i < bytes.length; i++) if (bytes[i] !== padByte(hash, i - 12 - n)) throw new Error(`snapshot byte ${i} is wrong`);
    this.count = count;
    this.hash = hash;
    this.ids.clear();
    for (const id of new TextDecoder().decode(bytes.subarray(12, 12 + n)).split('\n')) if (id !== '') this.ids.add(id);
    this.onRestore?.(iid, this);
  }
}

/** The hash chain over delivered ids (the checker recomputes it over the common sequence). */
export function chainHash(h: number, id: string): number {
  let x = h;
  for (let i = 0; i < id.length; i++) x = Math.imul(x ^ id.charCodeAt(i), 0x01000193);
  return Math.imul(x ^ 0x0a, 0x01000193) >>> 0;
}

function padByte(hash: number, i: number): number {
  return ((hash >>> (i % 23)) ^ i) & 0xff;
}
