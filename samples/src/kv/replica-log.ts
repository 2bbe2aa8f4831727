/**
 * The evpaxos side of the gateway: an evpaxos replica handle seen as the `ReplicatedLog` the
 * gateway needs. The replica applies every decided value to the KV state machine in log order
 * (its deliver callback), and `propose` resolves with what the state machine returned for the
 * proposal's own delivery.
 */
import type { ReplicaHandle } from '@libpaxos/evpaxos';
import { decodeRequest, encodeResult, type KvRequest, type KvStateMachine } from '@libpaxos/paxos-kv';
import type { ReplicatedLog } from './gateway.js';

/**
 * Applies what the replica delivers and keeps the results of this replica's own proposals until
 * `propose` takes them. The replica resolves a proposal's promise before it calls the deliver
 * callback for the same delivery, and promise callbacks run after that callback returns, so the
 * result is there when `propose` looks. Results of values other replicas proposed (a get of a
 * 1 MiB item through another replica's gateway, say) are not kept: only deliveries whose bytes
 * this replica is waiting for are (told apart by a hash of the bytes, as the replica matches them;
 * a collision only keeps a result nobody takes), and at most the latest `keep` of those.
 */
export class AppliedResults {
  private readonly results = new Map<string, Uint8Array>();
  /** Hashes of the values this replica proposed and waits for, with how many of each. */
  private readonly awaited = new Map<number, number>();
  /** Called after each value is applied, with its request if it decoded (the gateway's clock follows the log's). */
  onApplied: ((request: KvRequest | undefined) => void) | undefined;

  constructor(
    private readonly machine: KvStateMachine,
    private readonly keep = 1 << 16,
  ) {}

  /** The replica's deliver callback: applies the value and keeps its result if it may be ours. */
  readonly onDeliver = (iid: number, value: Uint8Array, index: number): void => {
    let request: KvRequest | undefined;
    try {
      request = decodeRequest(value);
    } catch {
      // Not a request (anyone who reaches an acceptor can propose bytes): the machine answers it
      // with an `invalid` result and changes nothing.
    }
    const result = request === undefined ? this.machine.apply(iid, index, value) : encodeResult(this.machine.applyRequest(iid, index, request));
    if (this.awaited.size > 0 && this.awaited.has(hash(value))) {
      this.results.set(`${iid}:${index}`, result);
      if (this.results.size > this.keep) this.results.delete(this.results.keys().next().value as string);
    }
    this.onApplied?.(request);
  };

  /** A proposal of `value` starts: its delivery's result will be kept. Returns the matching `done`. */
  await(value: Uint8Array): () => void {
    const h = hash(value);
    this.awaited.set(h, (this.awaited.get(h) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const n = (this.awaited.get(h) ?? 1) - 1;
      if (n <= 0) this.awaited.delete(h);
      else this.awaited.set(h, n);
    };
  }

  take(iid: number, index: number): Uint8Array | undefined {
    const k = `${iid}:${index}`;
    const r = this.results.get(k);
    this.results.delete(k);
    return r;
  }

  /** Values being waited for (for tests). */
  get awaiting(): number {
    let n = 0;
    for (const c of this.awaited.values()) n += c;
    return n;
  }
}

export function replicaLog(replica: ReplicaHandle, applied: AppliedResults): ReplicatedLog {
  return {
    propose: (value) => {
      const done = applied.await(value);
      return replica.propose(value).then(
        (p) => {
          done();
          const result = applied.take(p.iid, p.index);
          if (result === undefined) throw new Error(`the result of instance ${p.iid}.${p.index} was not kept; the request may or may not have taken effect`);
          return { iid: p.iid, result };
        },
        (e: unknown) => {
          done();
          throw e;
        },
      );
    },
    canReadLocally: () => replica.canReadLocally(),
    isLeader: () => replica.isLeader(),
    leaderId: () => replica.leader()?.id,
  };
}

/** FNV-1a over the bytes (the replica's own matching hashes the same way; equal bytes, equal hash). */
function hash(value: Uint8Array): number {
  let h = 0x811c9dc5 ^ value.length;
  for (let i = 0; i < value.length; i++) h = Math.imul(h ^ (value[i] as number), 0x01000193);
  return h >>> 0;
}
