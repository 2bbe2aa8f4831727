import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CheckpointSchedule, type SnapshotIoResult, type SnapshotRef } from '@libpaxos/paxos-core';
import { CheckpointStore, readAll, type Logger, type StateMachine } from '../src/index.js';
import { Checkpointing } from '../src/checkpointing.js';
import { RateLimitedLogger } from '../src/log.js';

const dirs: string[] = [];
const closing: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closing.splice(0)) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const quiet: Logger = { error: () => undefined, info: () => undefined, debug: () => undefined };
const turn = () => new Promise<void>((r) => setImmediate(r));

/** Waits until `check()` holds (file steps go through the thread pool), at most 5 s. */
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
}

/** A state machine whose restore waits until it is let go, logging what is called when. */
class SlowRestore implements StateMachine<undefined> {
  readonly calls: string[] = [];
  state = 'old';
  private release: (() => void) | undefined;
  apply(): undefined {
    return undefined;
  }
  snapshot(): Uint8Array {
    this.calls.push(`snapshot of ${this.state}`);
    return new TextEncoder().encode(this.state);
  }
  async restore(data: AsyncIterable<Uint8Array>): Promise<void> {
    const bytes = await readAll(data);
    this.calls.push('restore started');
    await new Promise<void>((r) => (this.release = r));
    this.state = new TextDecoder().decode(bytes);
    this.calls.push('restore done');
  }
  letGo(): void {
    this.release?.();
  }
}

describe('checkpointing while a peer\'s checkpoint is installed', () => {
  it('starts no checkpoint during the restore, and a write under way when it comes finishes before the state is replaced', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'paxos-ckpting-'));
    dirs.push(dir);
    const store = await CheckpointStore.open(dir, 3, quiet);
    const sm = new SlowRestore();
    const results: SnapshotIoResult[] = [];
    const cp = new Checkpointing({
      store,
      stateMachine: sm,
      schedule: new CheckpointSchedule({ instances: 1, intervalMs: 0 }),
      log: new RateLimitedLogger(quiet),
      network: { extensionPeers: () => [], toPeerExtension: () => false },
      ioResult: (r) => results.push(r),
      reportsAsOf: () => [],
      masterAsOf: () => undefined,
      maxChunkBytes: 65536,
      onFatal: (e) => {
        throw e;
      },
    });
    closing.push(() => {
      sm.letGo();
      return cp.close();
    });
    const data = new TextEncoder().encode('new');
    const ref: SnapshotRef = { iid: 100, size: data.length, sum: new Uint8Array(createHash('sha256').update(data).digest()) };
    cp.effect({ kind: 'open', ref });
    cp.effect({ kind: 'write', ref, offset: 0, data });
    cp.effect({ kind: 'verify', ref });
    // A checkpoint of the old state is due and under way when the install comes.
    cp.applied(5);
    cp.delivered();
    cp.effect({ kind: 'install', ref });
    await until(() => sm.calls.includes('restore started'));
    expect(sm.calls).toEqual(['snapshot of old', 'restore started']);
    expect(store.checkpoints.map((c) => c.iid)).toEqual([100, 5]);
    // Values applied meanwhile make another checkpoint due: none is started during the restore.
    cp.applied(6);
    cp.delivered();
    for (let i = 0; i < 20; i++) await turn();
    expect(sm.calls).toEqual(['snapshot of old', 'restore started']);
    sm.letGo();
    await until(() => results.some((r) => r.kind === 'installed'));
    expect(results.at(-1)).toEqual({ kind: 'installed', ref, ok: true });
    expect(sm.calls).toEqual(['snapshot of old', 'restore started', 'restore done']);
    // Afterwards checkpoints go on, of the new state.
    cp.applied(101);
    cp.delivered();
    await until(() => sm.calls.length >= 4);
    expect(sm.calls.at(-1)).toBe('snapshot of new');
  });
});
