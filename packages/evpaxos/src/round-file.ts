import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { syncDirectory } from './sync-dir.js';
import { dirname } from 'node:path';
import type { PersistRecord } from '@libpaxos/paxos-core';
import { StorageError } from './storage/types.js';

/**
 * A split-mode proposer's round floor (B2), in a small file of its own (`proposer-round-file`,
 * plus `_<id>`): one decimal number and a newline, then (since checkpoints) the instance its
 * learner had learned up to, so that a restart starts there and not at instance 1: `<round>
 * <learned>\n` (a file of earlier builds, with the round alone, still reads). Written to a
 * temporary file, synced and renamed over the old one, so a crash leaves either the old or the
 * new contents, never a torn one.
 */
export class RoundFile {
  private floor = 0;
  private learnedIid = 0;

  constructor(readonly path: string) {
    if (!existsSync(path)) return;
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new StorageError(`cannot read the proposer round file ${path}: ${(e as Error).message}`);
    }
    const m = /^(\d+)(?: (\d+))?\n?$/.exec(text);
    if (m === null) throw new StorageError(`the proposer round file ${path} does not hold a round number; remove it only if no proposer with this id ever ran`);
    this.floor = Number(m[1]);
    this.learnedIid = Number(m[2] ?? 0);
  }

  get roundFloor(): number {
    return this.floor;
  }

  /** The instance the proposer's learner had learned up to (0: unknown). */
  get learned(): number {
    return this.learnedIid;
  }

  async commit(records: readonly PersistRecord[]): Promise<void> {
    let floor = this.floor;
    let learned = this.learnedIid;
    for (const r of records) {
      if (r.kind === 'round-floor' && r.round > floor) floor = r.round;
      if (r.kind === 'learned' && r.iid > learned) learned = r.iid;
    }
    if (floor === this.floor && learned === this.learnedIid) return;
    const tmp = `${this.path}.tmp`;
    try {
      const fd = openSync(tmp, 'w', 0o600);
      try {
        writeSync(fd, learned > 0 ? `${floor} ${learned}\n` : `${floor}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.path);
      syncDirectory(dirname(this.path));
    } catch (e) {
      throw new StorageError(`cannot write the proposer round file ${this.path}: ${(e as Error).message}`);
    }
    this.floor = floor;
    this.learnedIid = learned;
  }
}
