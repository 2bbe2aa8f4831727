import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RootDatabase } from 'lmdb';
import { afterEach, describe, expect, it } from 'vitest';
import { Segments } from '../src/storage/segments.js';

const folders: string[] = [];
afterEach(() => {
  for (const f of folders.splice(0)) rmSync(f, { recursive: true, force: true });
});

/** An environment that writes nothing and whose close ends only when the test says so. */
class FakeEnv {
  closes = 0;
  private ends: (() => void)[] = [];
  transactionSync(body: () => void): void {
    body();
  }
  putSync(): void {}
  close(): Promise<void> {
    this.closes++;
    return new Promise<void>((resolve) => this.ends.push(resolve));
  }
  /** Ends every close asked for so far. */
  endCloses(): void {
    for (const end of this.ends.splice(0)) end();
  }
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('segments', () => {
  it("a segment closed to keep few open is deleted only once that close is done, and the store's close waits for it too", async () => {
    const root = mkdtempSync(join(tmpdir(), 'paxos-segments-'));
    folders.push(root);
    const envs = new Map<string, FakeEnv>();
    const segments = new Segments(
      root,
      10,
      (path) => {
        const env = new FakeEnv();
        envs.set(path, env);
        return env as unknown as RootDatabase<Uint8Array, number>;
      },
      false,
    );
    // Five segments written: more than stay open, so the least recently used, segment 0, is
    // closed in the background.
    for (let k = 0; k < 5; k++) segments.writeSync([[k * 10, new Uint8Array([k])]]);
    const first = envs.get(segments.folder(0)) as FakeEnv;
    expect(first.closes).toBe(1);

    let dropped = false;
    const drop = segments.drop(0).then(() => {
      dropped = true;
    });
    for (let i = 0; i < 5; i++) await turn();
    expect(dropped).toBe(false);
    expect(existsSync(segments.folder(0))).toBe(true);
    first.endCloses();
    await drop;
    expect(existsSync(segments.folder(0))).toBe(false);

    // Another one closed in the background (segment 1, on opening a sixth): close() waits for it.
    segments.writeSync([[50, new Uint8Array([5])]]);
    const second = envs.get(segments.folder(1)) as FakeEnv;
    expect(second.closes).toBe(1);
    let closed = false;
    const close = segments.close().then(() => {
      closed = true;
    });
    for (const [path, env] of envs) if (path !== segments.folder(1)) env.endCloses();
    for (let i = 0; i < 5; i++) await turn();
    expect(closed).toBe(false);
    second.endCloses();
    await close;
  });
});
