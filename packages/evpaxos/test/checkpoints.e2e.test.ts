import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig, startLearner, startReplica, type LearnerHandle, type Logger, type PaxosConfig, type ReplicaHandle } from '../src/index.js';
import { waitFor, withFreePorts } from './ports.js';
import { DigestMachine } from './state-machines.js';

const handles = new Set<ReplicaHandle<number> | LearnerHandle>();
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all([...handles].map((h) => h.close()));
  handles.clear();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { lines, log: { error: (l) => lines.push(`E ${l}`), info: (l) => lines.push(`I ${l}`), debug: () => undefined } };
}

const text = (s: string) => new TextEncoder().encode(s);

async function cluster(n: number, extra: string[]): Promise<{ config: PaxosConfig; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'paxos-ckpt-e2e-'));
  dirs.push(dir);
  // The ports are taken from this worker's range; a replica that fails to listen is retried by
  // withFreePorts in the tests that start one.
  return withFreePorts(n, async (p) => {
    const lines = p.map((port, i) => `replica ${i} 127.0.0.1 ${port}`);
    lines.push('storage-backend lmdb', `lmdb-env-path ${join(dir, 'acceptor')}`, `checkpoint-dir ${join(dir, 'ckpt')}`, ...extra);
    return { config: parseConfig(lines.join('\n'), 'test.conf'), dir };
  });
}

async function replica(id: number, config: PaxosConfig, sm: DigestMachine, log: Logger = capture().log, rejoin = false): Promise<ReplicaHandle<number>> {
  const h = await startReplica({ id, config, log, stateMachine: sm, rejoin });
  handles.add(h);
  return h;
}

async function stop(h: ReplicaHandle<number> | LearnerHandle): Promise<void> {
  handles.delete(h);
  await h.close();
}

describe('a replica with a state machine and checkpoints', () => {
  it('propose() resolves with what apply returned; a restart restores the newest checkpoint and learns only what follows it', async () => {
    const { config, dir } = await cluster(1, ['checkpoint-instances 10', 'checkpoint-keep 2', 'checkpoint-interval 1s']);
    const sm = new DigestMachine();
    const r = await replica(0, config, sm);
    const results: number[] = [];
    for (let i = 1; i <= 35; i++) results.push((await r.propose(text(`v${i}`))).result);
    expect(results).toEqual(Array.from({ length: 35 }, (_, i) => i + 1));
    const digest = sm.digest;
    // A checkpoint becomes due while another is written, and comes right after it: the last one
    // holds all 35 values (the instances also hold checkpoint reports).
    const iids = () => readdirSync(join(dir, 'ckpt_0')).flatMap((f) => /^checkpoint-(\d+)\.ckpt$/.exec(f)?.[1] ?? []).map(Number);
    await waitFor(() => Math.max(0, ...iids()) >= 35, 10_000, 'a checkpoint of all 35 values');
    await stop(r);
    const files = readdirSync(join(dir, 'ckpt_0')).sort();
    expect(files).toHaveLength(2);
    const newest = Math.max(...iids());

    const again = new DigestMachine();
    const { log, lines } = capture();
    await replica(0, config, again, log);
    expect(again.restoredAt).toBe(newest);
    expect(lines.join('\n')).toMatch(new RegExp(`Restored the checkpoint of instance ${newest} \\(8 bytes\\) from .*; learning from instance ${newest + 1}`));
    await waitFor(() => again.digest === digest, 10_000, 'the instances after the checkpoint');
    // Nothing at or below the checkpoint was applied again; what follows it is.
    const r2 = [...handles][0] as ReplicaHandle<number>;
    expect((await r2.propose(text('after'))).result).toBe(36);
    expect(again.applied.length).toBeGreaterThan(0);
    expect(again.applied.every((iid) => iid > newest)).toBe(true);
  }, 30_000);

  it('replicas trim the acceptors by the lowest reported checkpoint; a new replica behind the trim fetches a checkpoint in chunks, then follows the log', async () => {
    const { config } = await cluster(3, ['checkpoint-instances 20', 'checkpoint-trim yes', 'checkpoint-trim-hold 5', 'snapshot-chunk-size 4kb']);
    const sms = [new DigestMachine(100_000), new DigestMachine(100_000), new DigestMachine(100_000)];
    const logs = [capture(), capture(), capture()];
    const r0 = await replica(0, config, sms[0] as DigestMachine, logs[0]?.log);
    await replica(1, config, sms[1] as DigestMachine, logs[1]?.log);
    for (let i = 0; i < 120; i++) await r0.propose(text(`a${i}`));
    // Both report checkpoints in the log; the trim follows the lower of them, minus the hold.
    await waitFor(() => (sms[1] as DigestMachine).count >= 120, 10_000, 'replica 1 to apply everything');
    await new Promise((r) => setTimeout(r, 1500)); // acceptor_state goes out every second
    const late = sms[2] as DigestMachine;
    const r2 = await replica(2, config, late, logs[2]?.log);
    await waitFor(() => late.restoredAt > 0, 20_000, 'replica 2 to install a checkpoint');
    const l2 = logs[2]?.lines.join('\n') ?? '';
    expect(l2).toMatch(/Behind the acceptors' trim point: fetching the checkpoint of instance \d+ \(0\.1 MiB\) from peer [01]/);
    expect(l2).toMatch(/Installed the checkpoint of instance \d+ \(0\.1 MiB\) from peer [01]; learning from instance \d+/);
    // It never applied anything below the checkpoint it installed.
    expect(late.applied.every((iid) => iid > late.restoredAt)).toBe(true);
    for (let i = 0; i < 30; i++) await r2.propose(text(`b${i}`));
    await waitFor(() => sms.every((s) => s.count === 150), 10_000, 'every replica to apply all 150 values');
    expect(new Set(sms.map((s) => s.digest)).size).toBe(1);
  }, 60_000);

  it('a replica whose whole data directory was wiped rejoins: fenced acceptor, proposer above every round, state from a snapshot', async () => {
    const { config, dir } = await cluster(3, ['checkpoint-instances 10', 'checkpoint-trim yes', 'checkpoint-trim-hold 0', 'snapshot-chunk-size 4kb']);
    const sms = [new DigestMachine(20_000), new DigestMachine(20_000), new DigestMachine(20_000)];
    const r0 = await replica(0, config, sms[0] as DigestMachine);
    await replica(1, config, sms[1] as DigestMachine);
    const r2 = await replica(2, config, sms[2] as DigestMachine);
    for (let i = 0; i < 30; i++) await r0.propose(text(`a${i}`));
    await waitFor(() => (sms[2] as DigestMachine).count === 30, 10_000, 'replica 2 to apply everything');
    await stop(r2);
    rmSync(join(dir, 'acceptor_2'), { recursive: true, force: true });
    rmSync(join(dir, 'ckpt_2'), { recursive: true, force: true });
    for (let i = 0; i < 30; i++) await r0.propose(text(`b${i}`));
    await new Promise((r) => setTimeout(r, 1500));
    const { log, lines } = capture();
    const again = new DigestMachine(20_000);
    const r2b = await replica(2, config, again, log, true);
    const l = () => lines.join('\n');
    expect(l()).toMatch(/Replica 2 lost its storage: rejoining/);
    expect(l()).toMatch(/Replica 2 rejoined: its acceptor takes no part in instances up to (\d+), its proposer starts at round \d+/);
    const fence = Number(/up to (\d+)/.exec(l())?.[1]);
    // Above the highest instance the others hold, by the margin (the proposers' window, 128).
    expect(fence).toBeGreaterThanOrEqual(60 + 128);
    await waitFor(() => again.restoredAt > 0, 20_000, 'replica 2 to install a checkpoint');
    for (let i = 0; i < 10; i++) await r2b.propose(text(`c${i}`));
    await waitFor(() => sms[0]?.count === 70 && again.count === 70, 10_000, 'every replica to apply all 70 values');
    expect(again.digest).toBe((sms[0] as DigestMachine).digest);
    // Asked again with storage in place, it lost nothing and starts normally.
    await stop(r2b);
    const third = capture();
    await replica(2, config, new DigestMachine(20_000), third.log, true);
    expect(third.lines.join('\n')).toMatch(/was asked to rejoin, but its acceptor storage at .* is not empty: it lost nothing; starting normally/);
  }, 60_000);

  it('a transfer interrupted by a restart of the fetcher resumes from what it had written; a learner fetches checkpoints too', async () => {
    const { config, dir } = await cluster(3, ['checkpoint-instances 10', 'checkpoint-trim yes', 'checkpoint-trim-hold 0', 'snapshot-chunk-size 4kb', 'snapshot-window 1']);
    const pad = 3_000_000;
    const sms = [new DigestMachine(pad), new DigestMachine(pad)];
    const r0 = await replica(0, config, sms[0] as DigestMachine);
    await replica(1, config, sms[1] as DigestMachine);
    for (let i = 0; i < 40; i++) await r0.propose(text(`a${i}`));
    await waitFor(() => (sms[1] as DigestMachine).count >= 40, 10_000, 'replica 1 to apply everything');
    await new Promise((r) => setTimeout(r, 1500));
    const first = capture();
    const r2 = await replica(2, config, new DigestMachine(pad), first.log);
    await waitFor(() => first.lines.some((l) => /fetching the checkpoint/.test(l)), 20_000, 'the transfer to start');
    await new Promise((r) => setTimeout(r, 200));
    await stop(r2);
    expect(first.lines.some((l) => /Installed/.test(l)), 'the transfer was not interrupted: it finished too fast').toBe(false);
    const second = capture();
    const again = new DigestMachine(pad);
    await replica(2, config, again, second.log);
    await waitFor(() => again.restoredAt > 0, 30_000, 'the resumed transfer');
    const resumed = /Resuming the transfer of the checkpoint of instance \d+ at (\d+\.\d) MiB of 2\.9 MiB/.exec(second.lines.join('\n'));
    expect(Number(resumed?.[1]), `${first.lines.join('\n')}\n---\n${second.lines.join('\n')}`).toBeGreaterThan(0);

    // A learner with a state machine fetches from the replicas as well.
    const learned = new DigestMachine(pad);
    const l = await startLearner({ config, log: capture().log, stateMachine: learned, checkpointDir: join(dir, 'learner'), onDeliver: () => undefined });
    handles.add(l);
    await waitFor(() => learned.restoredAt > 0, 30_000, 'the learner to install a checkpoint');
    for (let i = 0; i < 5; i++) await r0.propose(text(`c${i}`));
    await waitFor(() => learned.count === 45 && again.count === 45, 10_000, 'the learner and replica 2 to follow the log');
    expect(learned.digest).toBe((sms[0] as DigestMachine).digest);
    expect(again.digest).toBe((sms[0] as DigestMachine).digest);
  }, 90_000);
});
