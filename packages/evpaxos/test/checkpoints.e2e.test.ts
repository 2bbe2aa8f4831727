import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode } from '@msgpack/msgpack';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig, resolveConfig, startLearner, startReplica, type LearnerHandle, type LogFields, type Logger, type PaxosConfig, type ReplicaHandle } from '../src/index.js';
import { TestCerts } from './certs.js';
import { waitFor, withFreePorts } from './ports.js';
import { scrape, value } from './prometheus.js';
import { DigestMachine } from './state-machines.js';

const handles = new Set<ReplicaHandle<number> | LearnerHandle>();
const dirs: string[] = [];
const certDirs: TestCerts[] = [];
afterEach(async () => {
  await Promise.all([...handles].map((h) => h.close()));
  handles.clear();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  for (const c of certDirs.splice(0)) c.remove();
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
    expect(l2).toMatch(/Behind the acceptors' trim point: fetching the checkpoint of instance \d+ \(0\.1 MiB\) from replica-[01] at 127\.0\.0\.1:\d+/);
    expect(l2).toMatch(/Installed the checkpoint of instance \d+ \(0\.1 MiB\) from replica-[01] at 127\.0\.0\.1:\d+; learning from instance \d+/);
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

  it('a replica behind the trim gets a checkpoint made for it when no peer has one new enough (an idle cluster checkpoints nothing)', async () => {
    // Checkpoints only every 1000 instances or hour: none is due in this test.
    const { config, dir } = await cluster(3, ['checkpoint-instances 1000', 'checkpoint-interval 3600s']);
    const sms = [new DigestMachine(), new DigestMachine()];
    const r0 = await replica(0, config, sms[0] as DigestMachine);
    await replica(1, config, sms[1] as DigestMachine);
    for (let i = 0; i < 10; i++) await r0.propose(text(`a${i}`));
    await waitFor(() => sms[1]?.count === 10, 10_000, 'replica 1 to apply everything');
    expect(readdirSync(join(dir, 'ckpt_0')).filter((f) => f.endsWith('.ckpt'))).toEqual([]);
    r0.trim(8);
    await new Promise((r) => setTimeout(r, 1500)); // acceptor_state goes out every second
    const late = new DigestMachine();
    const { log, lines } = capture();
    await replica(2, config, late, log);
    // Its peers are asked for a checkpoint of an instance ≥ 8 and make one at their decided prefix.
    await waitFor(() => late.restoredAt >= 8, 20_000, 'replica 2 to install a checkpoint made for it');
    expect(lines.join('\n')).toMatch(/Installed the checkpoint of instance \d+/);
    expect(late.digest).toBe((sms[0] as DigestMachine).digest);
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
    // Stopped once some of it is on disk (not after a fixed time: a loaded CI machine wrote less
    // than the 0.1 MiB the resume line shows in 200 ms, and an idle one may finish in that time).
    const staging = join(dir, 'ckpt_2', 'incoming.part');
    const written = () => {
      try {
        return statSync(staging).size;
      } catch {
        return 0;
      }
    };
    await waitFor(() => written() >= 128 * 1024, 20_000, 'the transfer to write 128 KiB of the checkpoint');
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

/** A logger that keeps every line with its JSON fields (what `log-format json` writes as `fields`). */
function structured(): { log: Logger; lines: { level: string; text: string; fields: LogFields | undefined }[] } {
  const lines: { level: string; text: string; fields: LogFields | undefined }[] = [];
  const at = (level: string) => (text: string, fields?: LogFields) => lines.push({ level, text, fields });
  return { lines, log: { error: at('error'), info: at('info'), debug: () => undefined } };
}

/** Leadership's state in the header of checkpoint `iid` of directory `dir` (checkpoint-store.ts). */
function headerMaster(dir: string, iid: number): { lastOp: number; version: number; master: number | null; maxOpenLimit: number } | undefined {
  const file = readFileSync(join(dir, `checkpoint-${String(iid).padStart(10, '0')}.ckpt`));
  const length = file.readUInt32BE(8);
  return (decode(file.subarray(12, 12 + length)) as { master?: { lastOp: number; version: number; master: number | null; maxOpenLimit: number } }).master;
}

const checkpointIids = (dir: string) => readdirSync(dir).flatMap((f) => /^checkpoint-(\d+)\.ckpt$/.exec(f)?.[1] ?? []).map(Number);

describe('checkpoints with leadership on, over mutual TLS between peers named by host names', () => {
  it("a replica that installs a snapshot, or restarts from its checkpoint, knows the master and its version at once; transfers show in metrics and log fields", async () => {
    const certs = new TestCerts();
    certDirs.push(certs);
    for (const name of ['replica-0', 'replica-1', 'replica-2']) certs.make(name, name);
    const dir = mkdtempSync(join(tmpdir(), 'paxos-ckpt-lead-'));
    dirs.push(dir);
    // Host names (node-a…), resolved here to 127.0.0.1 as a resolver would: log lines name them.
    const config = await withFreePorts(3, async (p) =>
      resolveConfig(
        parseConfig(
          [
            ...p.map((port, i) => `replica ${i} node-${'abc'[i]} ${port}`),
            'storage-backend lmdb',
            `lmdb-env-path ${join(dir, 'acceptor')}`,
            `checkpoint-dir ${join(dir, 'ckpt')}`,
            'checkpoint-instances 10',
            'checkpoint-trim yes',
            'checkpoint-trim-hold 0',
            'snapshot-chunk-size 4kb',
            'leader yes',
            'leader-lease 600ms',
            ...certs.lines(),
          ].join('\n'),
          'lead.conf',
        ),
        async () => '127.0.0.1',
      ),
    );
    const sms = [new DigestMachine(20_000), new DigestMachine(20_000), new DigestMachine(20_000)];
    const leaderEvents: [number | undefined, number][][] = [[], [], []];
    const start = async (id: number, log: Logger, sm: DigestMachine) => {
      const h = await startReplica({ id, config, log, stateMachine: sm, metrics: { port: 0 }, onLeaderChange: (l, v) => leaderEvents[id]?.push([l, v]) });
      handles.add(h);
      return h;
    };
    const r0 = await start(0, structured().log, sms[0] as DigestMachine);
    const r1 = await start(1, structured().log, sms[1] as DigestMachine);
    await waitFor(() => r0.isLeader() || r1.isLeader(), 10_000, 'replica 0 or 1 to lead');
    const leader = r0.isLeader() ? 0 : 1;
    const lh = leader === 0 ? r0 : r1;
    for (let i = 0; i < 40; i++) await lh.propose(new TextEncoder().encode(`a${i}`));
    await waitFor(() => sms[0]?.count === 40 && sms[1]?.count === 40, 10_000, 'replicas 0 and 1 to apply everything');
    await new Promise((r) => setTimeout(r, 1500)); // acceptor_state goes out every second

    // Replica 2 starts behind the trim: it fetches a checkpoint over TLS and takes the leadership
    // state it carries (as of its instance): it reports the leader with that checkpoint's version.
    const late = structured();
    const r2 = await start(2, late.log, sms[2] as DigestMachine);
    const sm2 = sms[2] as DigestMachine;
    await waitFor(() => sm2.restoredAt > 0, 20_000, 'replica 2 to install a checkpoint');
    const installed = headerMaster(join(dir, 'ckpt_2'), sm2.restoredAt);
    expect(installed, 'the installed checkpoint carries leadership state').toBeDefined();
    expect(installed?.master).toBe(leader);
    expect(installed?.version).toBeGreaterThan(0);
    await waitFor(() => leaderEvents[2]?.some(([l, v]) => l === leader && v === installed?.version) === true, 5000, `replica 2 to report leader ${leader} at master version ${installed?.version}`);
    const line = late.lines.find((l) => /^Installed the checkpoint/.test(l.text));
    expect(line?.text).toMatch(new RegExp(`^Installed the checkpoint of instance ${sm2.restoredAt} \\(0\\.0 MiB\\) from replica-[01] at node-[ab]:\\d+ \\(127\\.0\\.0\\.1\\); learning from instance ${sm2.restoredAt + 1}$`));
    expect(line?.fields).toMatchObject({ event: 'snapshot', step: 'installed', iid: sm2.restoredAt, peer: expect.stringMatching(/^replica-[01] at node-[ab]:\d+/) });
    expect(late.lines.some((l) => l.fields?.event === 'snapshot' && l.fields.step === 'started')).toBe(true);

    // Metrics: the fetcher counts the transfer and the bytes; a server counts what it sent.
    const m2 = await scrape(r2.metricsUrl as string);
    expect(value(m2, 'paxos_snapshot_transfers_total', { step: 'installed' })).toBe(1);
    expect(value(m2, 'paxos_snapshot_received_bytes_total')).toBeGreaterThanOrEqual(20_008);
    expect(value(m2, 'paxos_checkpoint_instance')).toBeGreaterThanOrEqual(sm2.restoredAt);
    expect(value(m2, 'paxos_extension_messages_sent_total', { type: 'snapshot_get' })).toBeGreaterThan(0);
    expect(value(m2, 'paxos_extension_messages_received_total', { type: 'snapshot_chunk' })).toBeGreaterThan(0);
    const servers = [await scrape(r0.metricsUrl as string), await scrape(r1.metricsUrl as string)];
    // (A labelled counter has no sample until its label was counted once: the peer that served nothing.)
    const counted = (m: Awaited<ReturnType<typeof scrape>>, name: string, labels: Record<string, string> = {}) => {
      try {
        return value(m, name, labels);
      } catch {
        return 0;
      }
    };
    expect(servers.reduce((n, m) => n + counted(m, 'paxos_snapshot_served_bytes_total'), 0)).toBeGreaterThanOrEqual(20_008);
    expect(servers.reduce((n, m) => n + counted(m, 'paxos_extension_messages_received_total', { type: 'snapshot_get' }), 0)).toBeGreaterThan(0);
    expect(value(servers[0] as never, 'paxos_checkpoints_written_total')).toBeGreaterThan(0);
    expect(value(servers[0] as never, 'paxos_checkpoint_trims_total')).toBeGreaterThan(0);

    // Replica 2 follows the log, writes checkpoints of its own, and restarts from the newest.
    for (let i = 0; i < 10; i++) await r2.propose(new TextEncoder().encode(`b${i}`));
    await waitFor(() => sms.every((sm) => sm.count === 50), 10_000, 'every replica to apply all 50 values');
    await waitFor(() => Math.max(...checkpointIids(join(dir, 'ckpt_2'))) > sm2.restoredAt, 10_000, 'a checkpoint of replica 2 after the one it installed');
    handles.delete(r2);
    await r2.close();
    const newest = Math.max(...checkpointIids(join(dir, 'ckpt_2')));
    const kept = headerMaster(join(dir, 'ckpt_2'), newest);
    expect(kept?.master).toBe(leader);
    leaderEvents[2] = [];
    const again = structured();
    const sm = new DigestMachine(20_000);
    const r2b = await start(2, again.log, sm);
    expect(sm.restoredAt).toBe(newest);
    expect(again.lines.find((l) => /^Restored the checkpoint/.test(l.text))?.fields).toMatchObject({ event: 'checkpoint-restored', iid: newest, masterVersion: kept?.version });
    // Its first tick reports the leader of its checkpoint, at that checkpoint's master version.
    await waitFor(() => (leaderEvents[2]?.length ?? 0) > 0, 5000, 'replica 2 to report a leader');
    expect(leaderEvents[2]?.[0]).toEqual([leader, kept?.version]);
    expect(value(await scrape(r2b.metricsUrl as string), 'paxos_checkpoint_instance')).toBeGreaterThanOrEqual(newest);
    await waitFor(() => sm.count === 50 && sm.digest === sms[0]?.digest, 10_000, 'the restarted replica to catch up');
  }, 90_000);
});
