/**
 * The KV store as the application state machine the replication layer drives (issue 12's
 * interface): `apply(iid, index, value)` returns the result bytes for the proposer that submitted
 * the value, `snapshot()` (or `snapshotChunks()`) and `restore(bytes, iid)` move the whole state.
 * Values are requests encoded by command-codec.ts; a value that does not decode is answered with
 * an `invalid` result and changes nothing, the same on every replica.
 */
import { decodeRequest, encodeResult, KvCodecError } from './command-codec.js';
import type { KvRequest, KvResult } from './command.js';
import { digestChunks } from './digest.js';
import { runSteps } from './steps.js';
import { decodeSnapshotSteps, encodeSnapshot, encodeSnapshotChunks, type SnapshotMeta } from './snapshot.js';
import { KvStore, type ImageConfig, type KvStoreConfig, type KvStoreOptions } from './store.js';

export class KvStateMachine {
  readonly store: KvStore;
  private position: SnapshotMeta = { iid: 0, index: 0 };

  constructor(options: KvStoreOptions = {}) {
    this.store = new KvStore(options);
  }

  /** The last (instance, index in its batch) applied. */
  get lastApplied(): SnapshotMeta {
    return this.position;
  }

  /** Applies one decided value: a request encoded by `encodeRequest`. */
  apply(iid: number, index: number, value: Uint8Array): Uint8Array {
    let req: KvRequest;
    try {
      req = decodeRequest(value);
    } catch (e) {
      if (!(e instanceof KvCodecError)) throw e;
      this.position = { iid, index };
      return encodeResult({ status: 'invalid', reason: e.message });
    }
    return encodeResult(this.applyRequest(iid, index, req));
  }

  /** Applies a request that is already decoded (in-process callers such as the simulator). */
  applyRequest(iid: number, index: number, req: KvRequest): KvResult {
    this.position = { iid, index };
    return this.store.apply(req);
  }

  snapshot(): Uint8Array {
    return encodeSnapshot(this.store.image(), this.position);
  }

  /**
   * The same bytes as `snapshot()`, encoded a chunk at a time as they are asked for: the state as
   * of this call (the store's image is taken now), however many values are applied before the
   * last chunk is taken. A server yields to its event loop between chunks. `chunkItems`: items
   * per chunk at most (default 4,096; a chunk also ends past a mebibyte of values).
   */
  snapshotChunks(chunkItems?: number): Iterable<Uint8Array> {
    return encodeSnapshotChunks(this.store.image(), this.position, chunkItems);
  }

  /**
   * Replaces the state with a snapshot that is the state as of instance `iid`. The last value it
   * applied may come from an earlier instance: the replication layer labels a checkpoint with the
   * instance it has decided through when every instance after the last applied value held no
   * client value (no-ops, lease renewals, checkpoint reports), as a checkpoint made for a peer is.
   * Refuses (throws, state unchanged) a snapshot that applied values past `iid`, one in another
   * format, or one made with other settings: results depend on them, so replicas must share them.
   */
  restore(bytes: Uint8Array, iid: number): void {
    runSteps(this.restoreSteps(bytes, iid));
  }

  /**
   * `restore` a piece at a time: the generator stops between pieces of the decoding and of the
   * loading (see `decodeSnapshotSteps`, `KvStore.loadSteps`), so that a caller can let other work
   * run, and the state is replaced at its last step only, in one piece: until then it is the state as it was, and nothing may be
   * applied meanwhile. A generator dropped before its end changes nothing.
   */
  *restoreSteps(bytes: Uint8Array, iid: number): Generator<void, void> {
    const { image, meta } = yield* decodeSnapshotSteps(bytes);
    if (meta.iid > iid) {
      throw new KvCodecError(`the KV snapshot holds values of instance ${meta.iid}, so it is not the state as of instance ${iid} as its caller says`);
    }
    const mismatch = configMismatch(image.config, this.store.config);
    if (mismatch !== null) throw new KvCodecError(`the KV snapshot was made with ${mismatch}: give every replica the same settings`);
    yield* this.store.loadSteps(image);
    this.position = meta;
  }

  /** A digest of the whole state: equal on replicas that applied the same values. */
  digest(): string {
    return digestChunks(this.digestedChunks());
  }

  /**
   * The bytes `digest` hashes, a chunk at a time: the state as of this call (its image is taken
   * now), encoded as they are asked for, so a caller may let other work run between chunks and
   * hash them with `digestChunksAsync`. The snapshot's bytes, with the position left out: replicas
   * that applied the same values from different batches have the same digest.
   */
  digestedChunks(): Iterable<Uint8Array> {
    return encodeSnapshotChunks(this.store.image(), { iid: 0, index: 0 });
  }
}

function configMismatch(theirs: ImageConfig, ours: KvStoreConfig): string | null {
  const pairs: [string, number | boolean | undefined, number | boolean][] = [
    ['item size limit', theirs.itemSizeMax, ours.itemSizeMax],
    // A format-1 snapshot does not say these (its build never evicted): any setting may take it on.
    ['memory limit', theirs.memoryLimit, ours.memoryLimit],
    ['evictions setting', theirs.evictions, ours.evictions],
    ['session TTL (ms)', theirs.sessions.ttlMs, ours.sessions.ttlMs],
    ['session limit', theirs.sessions.maxSessions, ours.sessions.maxSessions],
    ['pending-result limit', theirs.sessions.maxPending, ours.sessions.maxPending],
  ];
  for (const [name, a, b] of pairs) if (a !== undefined && a !== b) return `${name} ${String(a)} where this replica has ${String(b)}`;
  return null;
}
