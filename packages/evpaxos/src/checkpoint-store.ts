import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { decode, encode } from '@msgpack/msgpack';
import type { MasterState, SnapshotRef } from '@libpaxos/paxos-core';
import { ExtensionError, masterMap, masterState, reportList } from './extensions.js';
import type { Logger } from './log.js';
import { snapshotChunks, type SnapshotData } from './state-machine.js';
import { StorageError } from './storage/types.js';
import { syncDirectoryAsync } from './sync-dir.js';

/**
 * Checkpoint files. One file per checkpoint, `checkpoint-<iid>.ckpt`:
 *   [8 bytes "LPXCKPT\n"] [u32 BE header length] [msgpack header map] [zero padding to 512 bytes] [snapshot bytes]
 * header: { v: 1, iid, size, sum (SHA-256 of the snapshot bytes), algo: 'sha256', complete, reports, master? }
 * (`reports`: the checkpoint reports known as of `iid`, `[node, iid]` pairs, which a node restarted
 * from it needs to trim like the others: paxos-core's `CheckpointTrim.reportsAsOf`; `master`, with
 * leadership on: leadership's state as of `iid`, which a node restarted from it needs to judge the
 * master operations after it as the others do: paxos-core's `Leadership.stateAsOf`. A header
 * without `master` is read as one whose node did not know it; an older build ignores it).
 *
 * Written atomically: into `<name>.tmp`, synced, renamed, then the directory synced, so a crash at
 * any point leaves either the new checkpoint whole or no trace of it (a leftover `.tmp` is removed
 * at the next start) and the previous ones usable. The newest `keep` are kept. A checkpoint that
 * does not match its checksum is renamed `<name>.corrupt` with a log line and the next older one is
 * used. A snapshot fetched from a peer is staged in `incoming.part` (same layout, `complete`
 * false): its header names what it holds, so a transfer resumes after a restart.
 */
const MAGIC = Uint8Array.from('LPXCKPT\n', (c) => c.charCodeAt(0));
export const HEADER_BYTES = 512;
const FORMAT = 1;
const STAGING = 'incoming.part';
/** Bytes read per step when streaming a checkpoint. */
const READ_CHUNK = 1 << 20;

export interface CheckpointInfo extends SnapshotRef {
  readonly path: string;
  readonly reports: readonly (readonly [number, number])[];
}

interface Header extends SnapshotRef {
  readonly complete: boolean;
  readonly reports: readonly (readonly [number, number])[];
}

function encodeHeader(h: Header): Uint8Array {
  const body = encode({
    v: FORMAT,
    iid: h.iid,
    size: h.size,
    sum: h.sum,
    algo: 'sha256',
    complete: h.complete,
    reports: h.reports.map(([n, i]) => [n, i]),
    ...(h.master !== undefined ? { master: masterMap(h.master) } : {}),
  });
  if (body.length > HEADER_BYTES - 12) throw new StorageError(`a checkpoint header of ${body.length} bytes does not fit in ${HEADER_BYTES}`);
  const out = new Uint8Array(HEADER_BYTES);
  out.set(MAGIC);
  new DataView(out.buffer).setUint32(8, body.length);
  out.set(body, 12);
  return out;
}

/** The header at the start of `bytes`, or a sentence saying why it is not one. */
function decodeHeader(bytes: Uint8Array): Header | string {
  if (bytes.length < HEADER_BYTES) return `it is ${bytes.length} bytes, shorter than the ${HEADER_BYTES}-byte header`;
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) return 'it does not start with a libpaxos-ts checkpoint header';
  const len = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(8);
  if (len > HEADER_BYTES - 12) return `its header claims ${len} bytes`;
  let h: unknown;
  try {
    h = decode(bytes.subarray(12, 12 + len));
  } catch (e) {
    return `its header is not msgpack (${(e as Error).message})`;
  }
  const m = h as Record<string, unknown>;
  if (typeof m !== 'object' || m === null) return 'its header is not a map';
  if (m['v'] !== FORMAT) return `its header has format ${String(m['v'])}, this build reads format ${FORMAT}`;
  const iid = m['iid'];
  const size = m['size'];
  const sum = m['sum'];
  if (typeof iid !== 'number' || !Number.isInteger(iid) || iid < 0 || iid > 0xffff_ffff) return 'its header has no valid instance';
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return 'its header has no valid size';
  if (!(sum instanceof Uint8Array) || sum.length !== 32 || m['algo'] !== 'sha256') return 'its header has no SHA-256 checksum';
  let reports: [number, number][];
  let master: MasterState | undefined;
  try {
    reports = reportList(m['reports'] ?? [], 'checkpoint header');
    master = m['master'] === undefined || m['master'] === null ? undefined : masterState(m['master'], 'checkpoint header');
  } catch (e) {
    if (e instanceof ExtensionError) return (e as Error).message;
    throw e;
  }
  return { iid, size, sum: new Uint8Array(sum), complete: m['complete'] === true, reports, ...(master !== undefined ? { master } : {}) };
}

const nameOf = (iid: number) => `checkpoint-${String(iid).padStart(10, '0')}.ckpt`;
const NAME = /^checkpoint-(\d{10})\.ckpt$/;

export function sameSum(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The durable checkpoints of one node, and the snapshot it is receiving. */
export class CheckpointStore {
  /** Complete checkpoints, newest first. */
  private list: CheckpointInfo[] = [];
  private stagedHeader: Header | undefined;
  private staging: FileHandle | undefined;
  /** Open handles of checkpoints being served, kept while reads come (a pruned file stays readable). */
  private readonly serving = new Map<string, { fh: FileHandle; size: number; timer: NodeJS.Timeout | undefined }>();
  private closed = false;

  private constructor(
    readonly dir: string,
    readonly keep: number,
    private readonly log: Logger,
  ) {}

  /** Opens (creating) `dir`: drops leftover temporary files, reads every checkpoint's header. */
  static async open(dir: string, keep: number, log: Logger): Promise<CheckpointStore> {
    const store = new CheckpointStore(dir, keep, log);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      for (const f of await readdir(dir)) {
        if (f.endsWith('.tmp')) {
          // A checkpoint whose write a crash interrupted: never renamed, so never used.
          await rm(join(dir, f), { force: true });
          continue;
        }
        const m = NAME.exec(f);
        if (m === null && f !== STAGING) continue;
        const path = join(dir, f);
        const h = await readHeader(path);
        if (typeof h === 'string') {
          if (f === STAGING) await rm(path, { force: true });
          else await store.setAside(path, h);
          continue;
        }
        if (f === STAGING) {
          if (!h.complete) store.stagedHeader = h;
          continue;
        }
        if (!h.complete || Number(m?.[1]) !== h.iid) {
          await store.setAside(path, `its header says instance ${h.iid}${h.complete ? '' : ', incomplete'}`);
          continue;
        }
        store.list.push({ iid: h.iid, size: h.size, sum: h.sum, path, reports: h.reports, ...(h.master !== undefined ? { master: h.master } : {}) });
      }
    } catch (e) {
      if (e instanceof StorageError) throw e;
      throw new StorageError(`cannot use the checkpoint directory ${dir}: ${(e as Error).message}; make it writable, or set checkpoint-dir to a writable place`);
    }
    store.list.sort((a, b) => b.iid - a.iid);
    return store;
  }

  /** Complete checkpoints, newest first. */
  get checkpoints(): readonly CheckpointInfo[] {
    return this.list;
  }

  /** The newest checkpoint, if any (its bytes were checked when written or at start). */
  get newest(): CheckpointInfo | undefined {
    return this.list[0];
  }

  /** What a previous incarnation left staged from a transfer (to resume it). */
  get staged(): SnapshotRef | undefined {
    const h = this.stagedHeader;
    return h === undefined ? undefined : { iid: h.iid, size: h.size, sum: h.sum, reports: h.reports, ...(h.master !== undefined ? { master: h.master } : {}) };
  }

  /**
   * The newest checkpoint whose bytes match its checksum. Corrupt ones are set aside with a log
   * line naming the file and the problem, and the next older one is tried.
   */
  async newestGood(): Promise<CheckpointInfo | undefined> {
    while (this.list.length > 0) {
      const info = this.list[0] as CheckpointInfo;
      const problem = await this.check(info);
      if (problem === undefined) return info;
      this.list.shift();
      await this.setAside(info.path, problem);
    }
    return undefined;
  }

  /** The bytes of a checkpoint, `READ_CHUNK` at a time. */
  async *read(info: SnapshotRef & { readonly path: string }): AsyncIterable<Uint8Array> {
    const fh = await open(info.path, 'r');
    try {
      for (let at = 0; at < info.size; ) {
        const n = Math.min(READ_CHUNK, info.size - at);
        const buf = new Uint8Array(n);
        const { bytesRead } = await fh.read(buf, 0, n, HEADER_BYTES + at);
        if (bytesRead !== n) throw new StorageError(`${info.path} ends at ${HEADER_BYTES + at + bytesRead} bytes, before the ${info.size} bytes its header announces`);
        at += n;
        yield buf;
      }
    } finally {
      await fh.close();
    }
  }

  /**
   * Writes a checkpoint of instance `iid` from `data` (streamed: memory holds one chunk at a time),
   * durably and atomically, then drops the ones beyond the newest `keep`.
   */
  async write(iid: number, data: SnapshotData, reports: readonly (readonly [number, number])[] = [], master?: MasterState): Promise<CheckpointInfo> {
    const path = join(this.dir, nameOf(iid));
    const tmp = `${path}.tmp`;
    let size = 0;
    let sum: Uint8Array;
    try {
      const fh = await open(tmp, 'w', 0o600);
      try {
        const hash = createHash('sha256');
        for await (const chunk of snapshotChunks(data)) {
          hash.update(chunk);
          await writeFully(fh, chunk, HEADER_BYTES + size);
          size += chunk.length;
        }
        sum = new Uint8Array(hash.digest());
        await writeFully(fh, encodeHeader({ iid, size, sum, complete: true, reports, ...(master !== undefined ? { master } : {}) }), 0);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
      await syncDirectoryAsync(this.dir);
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw new StorageError(`writing the checkpoint of instance ${iid} to ${path} failed: ${(e as Error).message}`);
    }
    const info: CheckpointInfo = { iid, size, sum, path, reports, ...(master !== undefined ? { master } : {}) };
    await this.added(info);
    return info;
  }

  /** `ref` if this store still has it, else undefined. */
  find(ref: SnapshotRef): CheckpointInfo | undefined {
    return this.list.find((c) => c.iid === ref.iid && c.size === ref.size && sameSum(c.sum, ref.sum));
  }

  /**
   * Bytes `offset…offset+length` of the checkpoint of instance `iid` with checksum `sum` (for a peer
   * fetching it), or undefined when this store no longer has it. A checkpoint being served stays
   * readable after it is pruned, while reads keep coming.
   */
  async readChunk(iid: number, sum: Uint8Array, offset: number, length: number): Promise<Uint8Array | undefined> {
    const key = `${iid}:${Buffer.from(sum).toString('hex')}`;
    let e = this.serving.get(key);
    if (e === undefined) {
      const info = this.list.find((c) => c.iid === iid && sameSum(c.sum, sum));
      if (info === undefined || this.closed) return undefined;
      e = { fh: await open(info.path, 'r'), size: info.size, timer: undefined };
      this.serving.set(key, e);
    }
    const entry = e;
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    // Closed after a minute without reads: a transfer that stopped does not pin the file for ever.
    entry.timer = setTimeout(() => {
      this.serving.delete(key);
      void entry.fh.close().catch(() => undefined);
    }, 60_000);
    entry.timer.unref();
    if (offset < 0 || offset + length > entry.size) return undefined;
    const buf = new Uint8Array(length);
    const { bytesRead } = await entry.fh.read(buf, 0, length, HEADER_BYTES + offset);
    return bytesRead === length ? buf : undefined;
  }

  // ---- a snapshot being received ----

  /** Prepares to receive `ref`: keeps what is staged for exactly `ref`; returns the bytes already there. */
  async openStaging(ref: SnapshotRef): Promise<number> {
    const path = join(this.dir, STAGING);
    const h = this.stagedHeader;
    if (h !== undefined && h.iid === ref.iid && h.size === ref.size && sameSum(h.sum, ref.sum)) {
      this.staging ??= await open(path, 'r+');
      const { size } = await this.staging.stat();
      return Math.max(0, Math.min(ref.size, size - HEADER_BYTES));
    }
    await this.staging?.close();
    this.staging = await open(path, 'w+', 0o600);
    const header: Header = { iid: ref.iid, size: ref.size, sum: ref.sum, complete: false, reports: ref.reports ?? [], ...(ref.master !== undefined ? { master: ref.master } : {}) };
    await writeFully(this.staging, encodeHeader(header), 0);
    this.stagedHeader = header;
    return 0;
  }

  async writeStaging(offset: number, data: Uint8Array): Promise<void> {
    if (this.staging === undefined) throw new StorageError('no snapshot is being received');
    await writeFully(this.staging, data, HEADER_BYTES + offset);
  }

  /** Whether the staged bytes are exactly `ref`'s. */
  async verifyStaging(ref: SnapshotRef): Promise<boolean> {
    const path = join(this.dir, STAGING);
    if ((await stat(path)).size !== HEADER_BYTES + ref.size) return false;
    return (await this.check({ iid: ref.iid, size: ref.size, sum: ref.sum, path })) === undefined;
  }

  /** Makes the staged snapshot a checkpoint of this node (durably), returns it. */
  async installStaging(ref: SnapshotRef): Promise<CheckpointInfo> {
    const fh = this.staging;
    if (fh === undefined) throw new StorageError('no snapshot is being received');
    const reports = ref.reports ?? this.stagedHeader?.reports ?? [];
    const master = ref.master ?? this.stagedHeader?.master;
    await writeFully(fh, encodeHeader({ iid: ref.iid, size: ref.size, sum: ref.sum, complete: true, reports, ...(master !== undefined ? { master } : {}) }), 0);
    await fh.sync();
    await fh.close();
    this.staging = undefined;
    this.stagedHeader = undefined;
    const path = join(this.dir, nameOf(ref.iid));
    await rename(join(this.dir, STAGING), path);
    await syncDirectoryAsync(this.dir);
    const info: CheckpointInfo = { iid: ref.iid, size: ref.size, sum: ref.sum, path, reports, ...(master !== undefined ? { master } : {}) };
    await this.added(info);
    return info;
  }

  async discardStaging(): Promise<void> {
    await this.staging?.close();
    this.staging = undefined;
    this.stagedHeader = undefined;
    await rm(join(this.dir, STAGING), { force: true });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const e of this.serving.values()) {
      if (e.timer !== undefined) clearTimeout(e.timer);
      await e.fh.close().catch(() => undefined);
    }
    this.serving.clear();
    await this.staging?.close().catch(() => undefined);
    this.staging = undefined;
  }

  /** A new checkpoint is durable: list it, and drop the ones beyond the newest `keep`. */
  private async added(info: CheckpointInfo): Promise<void> {
    this.list = [info, ...this.list.filter((c) => c.iid !== info.iid)].sort((a, b) => b.iid - a.iid);
    for (const old of this.list.splice(this.keep)) await rm(old.path, { force: true });
  }

  /** Undefined when the file holds `info`'s bytes, else a sentence saying what is wrong. */
  private async check(info: SnapshotRef & { readonly path: string }): Promise<string | undefined> {
    try {
      const { size } = await stat(info.path);
      if (size !== HEADER_BYTES + info.size) return `it is ${size} bytes, its header announces ${HEADER_BYTES + info.size}`;
      const hash = createHash('sha256');
      for await (const chunk of this.read(info)) hash.update(chunk);
      if (!sameSum(new Uint8Array(hash.digest()), info.sum)) return 'its bytes do not match its SHA-256 checksum';
      return undefined;
    } catch (e) {
      return `it cannot be read (${(e as Error).message})`;
    }
  }

  private async setAside(path: string, why: string): Promise<void> {
    this.log.error(`Checkpoint ${path} is not usable: ${why}; renamed to ${path}.corrupt and skipped`);
    await rename(path, `${path}.corrupt`).catch(() => undefined);
  }
}

async function readHeader(path: string): Promise<Header | string> {
  const fh = await open(path, 'r');
  try {
    const buf = new Uint8Array(HEADER_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEADER_BYTES, 0);
    return decodeHeader(buf.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

async function writeFully(fh: FileHandle, data: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < data.length; ) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

