import { mkdirSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { RootDatabase } from 'lmdb';
import { syncDirectory } from '../sync-dir.js';
import { commitCause } from './commit-cause.js';

type Env = RootDatabase<Uint8Array, number>;

/**
 * Instances per segment in a store created by this build (`lmdb-segment-instances`; a store keeps
 * its own, in its meta record). With a trim lag of L instances a store holds L to L + this many on
 * disk; 16,384 batches of 10 KB are 160 MB.
 */
export const SEGMENT_INSTANCES = 16_384;
/** The largest `lmdb-segment-instances` taken: beyond it a segment would be too large for a trim to free the disk in useful steps (16,777,216 batches of 10 KB are 160 GB). */
export const MAX_SEGMENT_INSTANCES = 1 << 24;

/** A segment's folder: `records-<its first instance>`. */
export const SEGMENT_FOLDER = /^records-(\d+)$/;

/**
 * At most this many segments stay open (more only while transactions are under way in them): the
 * newest, which commits write to, and the last few an acceptor read older records from (the read of
 * the older records' ballots for a rejoining peer opens each in turn). Each open one takes three
 * file descriptors and a map; a store that is never trimmed has a segment for every 16,384 instances.
 */
const MAX_OPEN = 4;

/**
 * A segmented store's records: instance `iid` lives in the LMDB environment of segment
 * floor(iid / size), the folder `records-<its first instance>` beside the store's meta record.
 *
 * Why not one environment: a trimmed acceptor log frees pages at its old end as fast as it takes
 * them at its new one, and the LMDB inside lmdb-js 3.5 pays for every commit in proportion to its
 * in-memory free list (`mdb_freelist_save` merges and checks all of it, one insert at a time:
 * 85 % of the time in `perf` of a trimmed log of 10 KB records). Such a log slowed from 83,000
 * puts/s to 6,000 in 25 s, a replica cluster from 200,000 values/s to 26,000 in a minute. A
 * segment is only ever appended to (a re-accepted instance aside), and a trim deletes whole
 * segments, files and all: LMDB frees nothing but the few pages each commit copies, and the same
 * log ran at 110,000–147,000 puts/s for as long as it ran.
 *
 * Each segment is a whole LMDB environment with its own transactions: a commit that spans two
 * segments (and the meta record, in the store's own environment) is two or three transactions.
 * The storage writes the records first and the meta record last, and sends no reply before all are
 * done, so a crash in between leaves records an acceptor may hold (accepted, never answered), never
 * a trim point, round floor or fence without what it stands for.
 */
export class Segments {
  /** Open environments by segment number; a Map's order is the order of last use. */
  private readonly open = new Map<number, Env>();
  /** Asynchronous transactions under way, by segment: such a segment is not closed until they are done. */
  private readonly busy = new Map<number, number>();
  /** Closes `closeOld` started and nobody awaited, by segment: a deletion of its folder, and the store's close, wait for them. */
  private readonly closing = new Map<number, Promise<void>>();
  /** Segments whose folders this process synced into the store's folder (`lmdb-sync yes`). */
  private readonly dirSynced = new Set<number>();
  /** Segment numbers on disk, ascending. */
  private readonly onDisk: number[];

  constructor(
    private readonly root: string,
    private readonly size: number,
    private readonly openEnv: (path: string) => Env,
    /** `lmdb-sync yes`: a new segment's folder is synced into the store's folder before anything is committed in it. */
    private readonly sync: boolean,
  ) {
    this.onDisk = [];
    for (const name of readdirSync(root)) {
      const m = SEGMENT_FOLDER.exec(name);
      if (m === null) continue;
      const first = Number(m[1]);
      if (first % size !== 0) throw new Error(`folder ${join(root, name)} does not start a segment of ${size} instances`);
      this.onDisk.push(first / size);
    }
    this.onDisk.sort((a, b) => a - b);
  }

  private segmentOf(iid: number): number {
    return Math.floor(iid / this.size);
  }

  /** Segment `k`'s folder. */
  folder(k: number): string {
    return join(this.root, `records-${k * this.size}`);
  }

  /** The environment of segment `k`, opened if it is on disk (or created, if asked), else undefined. */
  private env(k: number, create: boolean): Env | undefined {
    let env = this.open.get(k);
    if (env !== undefined) {
      this.open.delete(k);
      this.open.set(k, env);
    } else {
      const at = lowerBound(this.onDisk, k);
      const exists = this.onDisk[at] === k;
      if (!exists && !create) return undefined;
      // Recursive: a folder left by an earlier attempt of this process that failed to open it is used.
      if (!exists) mkdirSync(this.folder(k), { recursive: true, mode: 0o700 });
      env = this.openEnv(this.folder(k));
      if (!exists) this.onDisk.splice(at, 0, k);
      this.open.set(k, env);
      this.closeOld(k);
    }
    // LMDB syncs its data file, not the directory entries that lead to it: without this, a power
    // cut could take a segment's first acknowledged records with its folder. Once a process, for
    // every segment it writes to, also one it opened to read first (one found at start may have
    // been made by a process killed before it synced it).
    if (this.sync && create && !this.dirSynced.has(k)) {
      syncDirectory(this.folder(k));
      syncDirectory(this.root);
      this.dirSynced.add(k);
    }
    return env;
  }

  /**
   * Closes the least recently used segments beyond `MAX_OPEN`, but for `keep` and those with a
   * transaction under way (lmdb-js's close turns a handle's writes off at once). Opening one again
   * while its close is under way is safe: lmdb-js shares one LMDB environment per file among the
   * handles of a process, and closes it with the last.
   */
  private closeOld(keep: number): void {
    for (const [k, env] of this.open) {
      if (this.open.size <= MAX_OPEN) return;
      if (k === keep || this.busy.has(k)) continue;
      this.open.delete(k);
      this.closeLater(k, env);
    }
  }

  /**
   * Closes `env`, segment `k`'s, without waiting; `drop(k)` and `close()` wait for it. Its commits
   * are done: a close that fails loses nothing, and must not become an unhandled rejection.
   */
  private closeLater(k: number, env: Env): void {
    const earlier = this.closing.get(k);
    const closed = env.close().catch(() => undefined);
    const all: Promise<void> = (earlier === undefined ? closed : Promise.all([earlier, closed])).then(() => {
      if (this.closing.get(k) === all) this.closing.delete(k);
    });
    this.closing.set(k, all);
  }

  get(iid: number): Uint8Array | undefined {
    return this.env(this.segmentOf(iid), false)?.get(iid);
  }

  /** The records from `from` to `to` (both included), in instance order. */
  *range(from: number, to: number): Generator<{ key: number; value: Uint8Array }> {
    const first = this.segmentOf(from);
    const last = this.segmentOf(to);
    for (const k of [...this.onDisk]) {
      if (k < first) continue;
      if (k > last) return;
      const env = this.env(k, false);
      if (env === undefined) continue;
      yield* env.getRange({ start: Math.max(from, k * this.size), end: Math.min(to, (k + 1) * this.size - 1) + 1 });
    }
  }

  /** Every record, newest first: a start reads only as far as its window (storage/lmdb.ts). */
  *rangeDown(): Generator<{ key: number; value: Uint8Array }> {
    for (const k of [...this.onDisk].reverse()) {
      const env = this.env(k, false);
      if (env === undefined) continue;
      yield* env.getRange({ reverse: true });
    }
  }

  /** The records grouped by segment: nearly always one, which needs no grouping. */
  private groups(puts: readonly (readonly [number, Uint8Array])[]): Iterable<[number, readonly (readonly [number, Uint8Array])[]]> {
    const k0 = this.segmentOf(puts[0]?.[0] ?? 0);
    if (puts.every(([iid]) => this.segmentOf(iid) === k0)) return puts.length === 0 ? [] : [[k0, puts]];
    const byK = new Map<number, (readonly [number, Uint8Array])[]>();
    for (const put of puts) {
      const k = this.segmentOf(put[0]);
      const group = byK.get(k);
      if (group === undefined) byK.set(k, [put]);
      else group.push(put);
    }
    return byK;
  }

  /** Writes the records, a synchronous transaction per segment (`lmdb-sync no`), each segment opened (or created) as it comes. */
  writeSync(puts: readonly (readonly [number, Uint8Array])[]): void {
    for (const [k, group] of this.groups(puts)) {
      const env = this.env(k, true) as Env;
      env.transactionSync(() => {
        for (const [iid, bytes] of group) env.putSync(iid, bytes);
      });
    }
  }

  /**
   * Writes the records, lmdb-js's asynchronous transaction per segment, each resolved after its
   * fsync. Every segment is opened before any transaction starts (one that cannot be opened fails
   * the commit with nothing under way), and every transaction is awaited: the first failure is
   * the commit's, the causes lmdb-js keeps of the others are awaited here so that none becomes an
   * unhandled rejection.
   */
  async write(puts: readonly (readonly [number, Uint8Array])[]): Promise<void> {
    const groups: [number, Env, readonly (readonly [number, Uint8Array])[]][] = [];
    const marked: number[] = [];
    try {
      for (const [k, group] of this.groups(puts)) {
        // Busy from here: opening the next segment must not close this one.
        this.busy.set(k, (this.busy.get(k) ?? 0) + 1);
        marked.push(k);
        groups.push([k, this.env(k, true) as Env, group]);
      }
    } catch (e) {
      for (const k of marked) this.idle(k);
      throw e;
    }
    const results = await Promise.allSettled(
      groups.map(([k, env, group]) => {
        try {
          return env
            .transaction(() => {
              for (const [iid, bytes] of group) env.putSync(iid, bytes);
            })
            .finally(() => this.idle(k));
        } catch (e) {
          // lmdb-js throws here only for a closed handle, which a busy segment never is; still,
          // the transactions already started must be awaited.
          this.idle(k);
          return Promise.reject(e as Error);
        }
      }),
    );
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    // The caller reads the first failure's cause; the others' are awaited here, unread.
    for (const other of failures.slice(1)) void commitCause(other).catch(() => undefined);
    if (failures.length > 0) throw failures[0];
  }

  /** One asynchronous transaction in segment `k` is done. */
  private idle(k: number): void {
    const n = (this.busy.get(k) ?? 1) - 1;
    if (n <= 0) this.busy.delete(k);
    else this.busy.set(k, n);
  }

  /** The lowest segment whose every instance is at or below `trimIid`, if one is on disk. */
  trimmable(trimIid: number): number | undefined {
    const k = this.onDisk[0];
    return k !== undefined && (k + 1) * this.size - 1 <= trimIid ? k : undefined;
  }

  /**
   * Closes segment `k` and deletes its folder, once every close of it is done (one `closeOld`
   * started may still be under way: its files must not go while LMDB has them mapped). It stays
   * on the list until its folder is gone, so a deletion that failed is tried again (nothing reads
   * or writes a segment at or below the trim).
   */
  async drop(k: number): Promise<void> {
    const env = this.open.get(k);
    this.open.delete(k);
    await env?.close();
    await this.closing.get(k);
    await rm(this.folder(k), { recursive: true, force: true });
    const at = lowerBound(this.onDisk, k);
    if (this.onDisk[at] === k) this.onDisk.splice(at, 1);
  }

  /**
   * Closes every segment, and waits for the closes `closeOld` started (lmdb-js's close settles once
   * LMDB has let go of the files). All are awaited before the first failure, if any, is thrown.
   */
  async close(): Promise<void> {
    const envs = [...this.open.values()];
    this.open.clear();
    const results = await Promise.allSettled([...envs.map((env) => env.close()), ...this.closing.values()]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }
}

/** The first index of `sorted` whose entry is at least `k`. */
function lowerBound(sorted: readonly number[], k: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as number) < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
