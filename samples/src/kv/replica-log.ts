/**
 * The evpaxos side of the gateway: the KV state machine as evpaxos's `StateMachine` (issue 12's
 * interface, so a kv-server replica writes checkpoints, restarts from its newest one and fetches
 * one from a peer when it fell behind the trim), and an evpaxos replica handle seen as the
 * `ReplicatedLog` the gateway needs.
 */
import { readAll, type ReplicaHandle, type StateMachine } from '@libpaxos/evpaxos';
import { decodeRequest, encodeResult, type KvRequest, type KvStateMachine } from '@libpaxos/paxos-kv';
import type { ReplicatedLog } from './gateway.js';
import { nextTurn, yieldBetween } from './turns.js';

/**
 * Applies each decided value to the KV store and tells the gateway (`onApplied`), whose clock
 * follows the log's. The replica resolves a proposal's promise with what `apply` returned for its
 * own delivery (evpaxos matches deliveries to proposals by bytes), so results of values other
 * replicas proposed (a get of a 1 MiB item through another replica's gateway, say) are dropped at
 * once. A restored snapshot (this replica's checkpoint at start, or a peer's after falling behind
 * the trim) moves the store's clock too, so the gateway hears of it as of an applied value.
 */
export class ReplicatedKv implements StateMachine<Uint8Array> {
  /** Called after each value is applied, with its request if it decoded, and after a restore (with nothing). */
  onApplied: ((request: KvRequest | undefined) => void) | undefined;

  constructor(readonly machine: KvStateMachine) {}

  apply(iid: number, index: number, value: Uint8Array): Uint8Array {
    let request: KvRequest | undefined;
    try {
      request = decodeRequest(value);
    } catch {
      // Not a request (anyone who reaches an acceptor can propose bytes): the machine answers it
      // with an `invalid` result and changes nothing, the same on every replica.
    }
    const result = request === undefined ? this.machine.apply(iid, index, value) : encodeResult(this.machine.applyRequest(iid, index, request));
    this.onApplied?.(request);
    return result;
  }

  /**
   * The store as of the last value applied: its image is taken now (one pass over the items), and
   * encoded a chunk at a time as the checkpoint writer asks, with a turn of the event loop between
   * chunks, so that clients, peers and lease renewals are served while a large store is written
   * (in one piece, 1.6 million items stopped the loop for 3.5–4.2 s, longer than a renewal may wait).
   */
  snapshot(): AsyncIterable<Uint8Array> {
    return yieldBetween(this.machine.snapshotChunks());
  }

  /**
   * Replaces the store with a checkpoint's. KvStateMachine refuses (throws, store unchanged) a
   * snapshot holding values past `iid` or made with other settings (`-I`, session limits): results
   * depend on them, so the replicas must share them, and evpaxos then says which checkpoint failed.
   * It is decoded a piece at a time with a turn of the event loop between pieces, so that this
   * replica's acceptor, clients and peers are served meanwhile (in one piece, 400,000 items stopped
   * the loop for about a second); the store changes at the end, in one piece, and evpaxos applies
   * nothing until then.
   */
  async restore(data: AsyncIterable<Uint8Array>, iid: number): Promise<void> {
    const steps = this.machine.restoreSteps(await readAll(data), iid);
    while (steps.next().done !== true) await nextTurn();
    this.onApplied?.(undefined);
  }
}

export function replicaLog(replica: ReplicaHandle<Uint8Array>): ReplicatedLog {
  return {
    propose: async (value) => {
      const p = await replica.propose(value);
      return { iid: p.iid, result: p.result };
    },
    canReadLocally: () => replica.canReadLocally(),
    isLeader: () => replica.isLeader(),
    leaderId: () => replica.leader()?.id,
  };
}
