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
  transactions = 0;
  private ends: (() => void)[] = [];
  /** What `transaction` does: runs the body, then resolves, or fails as `fail` makes the error. */
  fail: (() => Error) | undefined;
  transactionSync(body: () => void): void {
    body();
  }
  transaction(body: () => void): Promise<void> {
    this.transactions++;
    body();
    return this.fail === undefined ? Promise.resolve() : Promise.reject(this.fail());
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

type Env = RootDatabase<Uint8Array, number>;

/** Segments of 10 instances in a new folder, over FakeEnvs (by folder); `refuse(path)` makes an open throw. */
function fakeSegments(refuse: (path: string) => boolean = () => false): { segments: Segments; envs: Map<string, FakeEnv> } {
  const root = mkdtempSync(join(tmpdir(), 'paxos-segments-'));
  folders.push(root);
  const envs = new Map<string, FakeEnv>();
  const segments = new Segments(
    root,
    10,
    (path) => {
      if (refuse(path)) throw new Error(`cannot open ${path}`);
      const env = new FakeEnv();
      envs.set(path, env);
      return env as unknown as Env;
    },
    false,
  );
  return { segments, envs };
}

/** lmdb-js's failed commit: "Commit failed", its cause in a second promise that rejects a little later. */
function commitFailed(cause: string): Error {
  return Object.assign(new Error('Commit failed (see commitError for details)'), {
    commitError: new Promise<never>((_, reject) => setTimeout(() => reject(new Error(cause)), 10)),
  });
}

describe('segments', () => {
  it("a segment closed to keep few open is deleted only once that close is done, and the store's close waits for it too", async () => {
    const { segments, envs } = fakeSegments();
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

  it('a commit whose second segment cannot be opened fails before any transaction, and leaves the first segment free to close', async () => {
    let refusing = true;
    const { segments, envs } = fakeSegments((path) => refusing && path.endsWith('records-10'));
    await expect(segments.write([[5, new Uint8Array([1])], [15, new Uint8Array([2])]])).rejects.toThrow(/cannot open .*records-10/);
    expect((envs.get(segments.folder(0)) as FakeEnv).transactions).toBe(0);
    refusing = false;
    // Segment 0 is open and no longer busy: four newer segments make it the one closed.
    for (let k = 1; k <= 4; k++) await segments.write([[k * 10, new Uint8Array([k])]]);
    expect((envs.get(segments.folder(0)) as FakeEnv).closes).toBe(1);
    const closing = segments.close();
    for (const env of envs.values()) env.endCloses();
    await closing;
  });

  it("a commit whose transactions in two segments both fail rejects with the first, and the other's cause becomes no unhandled rejection", async () => {
    const { segments, envs } = fakeSegments();
    await segments.write([[5, new Uint8Array([1])], [15, new Uint8Array([2])]]);
    // Each segment's transaction fails with a cause of its own: the commit's error is segment 0's.
    for (const k of [0, 1]) (envs.get(segments.folder(k)) as FakeEnv).fail = () => commitFailed(`EIO in segment ${k}`);
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const failure = await segments.write([[6, new Uint8Array([3])], [16, new Uint8Array([4])]]).then(
        () => undefined,
        (e: unknown) => e as { commitError: Promise<never> },
      );
      expect(failure).toBeInstanceOf(Error);
      // The storage awaits the cause of the failure it reports (commit-cause.ts).
      await expect(failure?.commitError).rejects.toThrow('EIO in segment 0');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    const closing = segments.close();
    for (const env of envs.values()) env.endCloses();
    await closing;
  });
});
