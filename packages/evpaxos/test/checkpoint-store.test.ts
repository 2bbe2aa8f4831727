import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CheckpointStore, readAll, type Logger } from '../src/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'paxos-ckpt-'));
  dirs.push(d);
  return d;
}

function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { lines, log: { error: (l) => lines.push(l), info: (l) => lines.push(l), debug: () => undefined } };
}

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const sha = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());

describe('checkpoint files', () => {
  it('write streams a snapshot to a file with a versioned msgpack header and its SHA-256; read gives the bytes back', async () => {
    const d = dir();
    const store = await CheckpointStore.open(d, 2, capture().log);
    const data = bytes(3_000_000, 1);
    // A stream of uneven chunks: nothing requires the whole state in one buffer.
    async function* chunks() {
      for (let at = 0; at < data.length; at += 700_001) yield data.subarray(at, at + 700_001);
    }
    const info = await store.write(42, chunks());
    expect(info).toMatchObject({ iid: 42, size: data.length });
    expect(info.sum).toEqual(sha(data));
    expect(Buffer.from(await readAll(store.read(info))).equals(Buffer.from(data))).toBe(true);
    const file = readFileSync(info.path);
    expect(file.subarray(0, 8).toString()).toBe('LPXCKPT\n');
    expect(file.length).toBe(512 + data.length);
    expect(readdirSync(d)).toEqual(['checkpoint-0000000042.ckpt']);
    await store.close();
  });

  it('keeps the newest K; a reopened store finds them and drops a write a crash interrupted', async () => {
    const d = dir();
    const store = await CheckpointStore.open(d, 2, capture().log);
    for (const iid of [10, 20, 30]) await store.write(iid, bytes(100, iid));
    expect(store.checkpoints.map((c) => c.iid)).toEqual([30, 20]);
    await store.close();
    // A crash after writing part of a checkpoint and before its rename leaves only a .tmp file.
    writeFileSync(join(d, 'checkpoint-0000000040.ckpt.tmp'), bytes(50, 0));
    const again = await CheckpointStore.open(d, 2, capture().log);
    expect(again.checkpoints.map((c) => c.iid)).toEqual([30, 20]);
    expect(readdirSync(d).sort()).toEqual(['checkpoint-0000000020.ckpt', 'checkpoint-0000000030.ckpt']);
    expect((await again.newestGood())?.iid).toBe(30);
    await again.close();
  });

  it('a corrupt newest checkpoint is set aside with a log line, and the next older one is used', async () => {
    const d = dir();
    const store = await CheckpointStore.open(d, 3, capture().log);
    await store.write(10, bytes(5000, 1));
    const newest = await store.write(20, bytes(5000, 2));
    await store.close();
    const file = readFileSync(newest.path);
    file[512 + 100] = (file[512 + 100] as number) ^ 1;
    writeFileSync(newest.path, file);
    const { log, lines } = capture();
    const again = await CheckpointStore.open(d, 3, log);
    expect((await again.newestGood())?.iid).toBe(10);
    expect(lines).toEqual([`Checkpoint ${newest.path} is not usable: its bytes do not match its SHA-256 checksum; renamed to ${newest.path}.corrupt and skipped`]);
    expect(readdirSync(d).sort()).toEqual(['checkpoint-0000000010.ckpt', 'checkpoint-0000000020.ckpt.corrupt']);
    // A truncated one, and one that is no checkpoint at all, are set aside too.
    writeFileSync(join(d, 'checkpoint-0000000030.ckpt'), readFileSync(join(d, 'checkpoint-0000000010.ckpt')).subarray(0, 2000));
    writeFileSync(join(d, 'checkpoint-0000000031.ckpt'), 'hello');
    await again.close();
    const third = capture();
    const s3 = await CheckpointStore.open(d, 3, third.log);
    expect((await s3.newestGood())?.iid).toBe(10);
    expect(third.lines.join('\n')).toMatch(/checkpoint-0000000031\.ckpt is not usable: it is 5 bytes, shorter than the 512-byte header/);
    expect(third.lines.join('\n')).toMatch(/checkpoint-0000000030\.ckpt is not usable: its header says instance 10/);
    await s3.close();
  });

  it('serves chunks of a checkpoint it still has; a pruned one being served stays readable', async () => {
    const store = await CheckpointStore.open(dir(), 1, capture().log);
    const data = bytes(10_000, 5);
    const info = await store.write(5, data);
    expect(await store.readChunk(5, info.sum, 100, 50)).toEqual(data.slice(100, 150));
    expect(await store.readChunk(5, new Uint8Array(32), 0, 10)).toBeUndefined();
    expect(await store.readChunk(5, info.sum, 9_990, 20)).toBeUndefined(); // beyond its end
    await store.write(6, bytes(10, 6)); // prunes checkpoint 5, which is being served
    expect(store.find(info)).toBeUndefined();
    expect(await store.readChunk(5, info.sum, 200, 10)).toEqual(data.slice(200, 210));
    await store.close();
  });

  it("keeps leadership's state as of the checkpoint in its header, across a restart", async () => {
    const d = dir();
    const master = { lastOp: 40, version: 38, master: 1, maxOpenLimit: 130 };
    const store = await CheckpointStore.open(d, 3, capture().log);
    await store.write(50, bytes(100, 1), [[0, 45]], master);
    await store.write(60, bytes(100, 2), [[0, 45]], { ...master, master: undefined });
    await store.write(70, bytes(100, 3));
    await store.close();
    const again = await CheckpointStore.open(d, 3, capture().log);
    expect(again.checkpoints.map((c) => [c.iid, c.master])).toEqual([
      [70, undefined],
      [60, { ...master, master: undefined }],
      [50, master],
    ]);
    await again.close();
  });

  it('a staged transfer survives a restart, resumes from its bytes, verifies, and becomes a checkpoint', async () => {
    const d = dir();
    const data = bytes(9000, 9);
    const ref = { iid: 77, size: data.length, sum: sha(data), reports: [[1, 70] as const], master: { lastOp: 75, version: 75, master: 2, maxOpenLimit: 3 } };
    const store = await CheckpointStore.open(d, 2, capture().log);
    expect(await store.openStaging(ref)).toBe(0);
    await store.writeStaging(0, data.subarray(0, 4000));
    await store.close();
    const again = await CheckpointStore.open(d, 2, capture().log);
    expect(again.staged).toEqual(ref);
    expect(await again.openStaging(ref)).toBe(4000);
    await again.writeStaging(4000, data.subarray(4000));
    expect(await again.verifyStaging(ref)).toBe(true);
    expect(await again.verifyStaging({ ...ref, sum: new Uint8Array(32) })).toBe(false);
    const info = await again.installStaging(ref);
    expect(again.newest).toEqual(info);
    // The checkpoint reports and leadership's state it carries come with it (a node restarted from
    // it trims knowing them, and judges master operations as the others do).
    expect(info.reports).toEqual([[1, 70]]);
    expect(info.master).toEqual(ref.master);
    await again.close();
    const third = await CheckpointStore.open(d, 2, capture().log);
    expect(third.newest?.reports).toEqual([[1, 70]]);
    expect(third.newest?.master).toEqual(ref.master);
    await third.close();
    expect(Buffer.from(await readAll(again.read(info))).equals(Buffer.from(data))).toBe(true);
    expect(again.staged).toBeUndefined();
    // Another checkpoint staged over a partial one starts from zero.
    const fourth = await CheckpointStore.open(d, 2, capture().log);
    expect(await fourth.openStaging({ ...ref, iid: 78 })).toBe(0);
    await fourth.discardStaging();
    expect(readdirSync(d)).toEqual(['checkpoint-0000000077.ckpt']);
    await fourth.close();
  });
});
