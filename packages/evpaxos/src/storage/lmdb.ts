import { mkdirSync, rmSync } from 'node:fs';
import { open, type RootDatabase } from 'lmdb';
import type { AcceptorRecord, PersistRecord } from '@libpaxos/paxos-core';
import { META_KEY, decodeMeta, decodeRecord, encodeMeta, encodeRecord, type Meta } from './record-format.js';
import { StorageError, type AcceptorStorage, type StoredState } from './types.js';

export interface LmdbOptions {
  /** `lmdb-env-path`; the acceptor's directory is `<envPath>_<aid>` (LibPaxos3). */
  readonly envPath: string;
  readonly aid: number;
  /** `lmdb-sync`: fsync every commit before its replies go out. */
  readonly sync: boolean;
  /** `lmdb-mapsize`: the initial map size; lmdb-js grows a full map instead of failing (B6). */
  readonly mapSize: number;
  /** `acceptor-trash-files`: delete the directory first. */
  readonly trash: boolean;
}

/**
 * LMDB acceptor storage (lmdb-js): one environment per acceptor, uint32 keys, one transaction per
 * group commit. With `lmdb-sync yes` the commit resolves after fsync (overlapping sync off, since
 * lmdb-js would otherwise resolve before the flush); with `no`, commits are not synced, as in
 * LibPaxos3.
 */
export class LmdbStorage implements AcceptorStorage {
  readonly kind = 'lmdb';
  readonly location: string;
  private readonly db: RootDatabase<Uint8Array, number>;
  private meta: Meta = { trimIid: 0, roundFloor: 0 };

  constructor(options: LmdbOptions) {
    this.location = `${options.envPath}_${options.aid}`;
    try {
      if (options.trash) rmSync(this.location, { recursive: true, force: true });
      mkdirSync(this.location, { recursive: true, mode: 0o700 });
      this.db = open<Uint8Array, number>({
        path: this.location,
        mapSize: options.mapSize,
        noSync: !options.sync,
        overlappingSync: false,
        encoding: 'binary',
        keyEncoding: 'uint32',
      });
    } catch (e) {
      throw new StorageError(`cannot open LMDB storage at ${this.location}: ${(e as Error).message}`);
    }
  }

  load(): StoredState {
    const records: AcceptorRecord[] = [];
    try {
      const metaBytes = this.db.get(META_KEY);
      if (metaBytes !== undefined) {
        const meta = decodeMeta(metaBytes);
        if (typeof meta === 'string') throw new StorageError(`${this.location}: ${meta}`);
        this.meta = meta;
      }
      for (const { key, value } of this.db.getRange({ start: 1 })) {
        const r = decodeRecord(key, value);
        if (typeof r === 'string') throw new StorageError(`${this.location}: ${r}; the storage is corrupt or from another program`);
        if (r.iid > this.meta.trimIid) records.push(r);
      }
    } catch (e) {
      if (e instanceof StorageError) throw e;
      throw new StorageError(`cannot read LMDB storage at ${this.location}: ${(e as Error).message}`);
    }
    return { trimIid: this.meta.trimIid, records, roundFloor: this.meta.roundFloor };
  }

  async commit(records: readonly PersistRecord[]): Promise<void> {
    try {
      await this.db.transaction(() => {
        let metaChanged = false;
        for (const r of records) {
          switch (r.kind) {
            case 'record':
              if (r.iid > this.meta.trimIid) this.db.putSync(r.iid, encodeRecord(r));
              break;
            case 'trim':
              if (r.iid <= this.meta.trimIid) break;
              // The trim point goes in first, as LibPaxos3 does: a crash half-way leaves records
              // below it, which `load` skips.
              this.meta.trimIid = r.iid;
              metaChanged = true;
              for (const key of this.db.getKeys({ start: 1, end: r.iid + 1 })) this.db.removeSync(key);
              break;
            case 'round-floor':
              this.meta.roundFloor = Math.max(this.meta.roundFloor, r.round);
              metaChanged = true;
              break;
          }
        }
        if (metaChanged) this.db.putSync(META_KEY, encodeMeta(this.meta));
      });
    } catch (e) {
      throw new StorageError(`writing to LMDB storage at ${this.location} failed: ${(e as Error).message}`);
    }
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
