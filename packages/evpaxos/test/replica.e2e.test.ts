import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameDecoder, encodeMessage, parseConfig, resolveConfig, silentLogger, startLearner, startReplica, type LearnerHandle, type Logger, type ReplicaHandle } from '../src/index.js';
import { waitFor, withFreePorts } from './ports.js';

const handles: (ReplicaHandle | LearnerHandle)[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(handles.splice(0).map((h) => h.close()));
});

describe('replicas on 127.0.0.1 (in one process)', () => {
  it('TotalOrderDelivery: three replicas deliver the values submitted to replica 0 in the same order', async () => {
    const delivered: string[][] = [[], [], []];
    await withFreePorts(3, async (p) => {
      const config = parseConfig(p.map((port, i) => `replica ${i} 127.0.0.1 ${port}`).join('\n'), 'test.conf');
      for (let id = 0; id < 3; id++) {
        handles.push(await startReplica({ id, config, log: silentLogger, onDeliver: (_iid, v) => delivered[id]?.push(new TextDecoder().decode(v)) }));
      }
    });
    const r0 = handles[0] as ReplicaHandle;
    await waitFor(() => r0.submit(new TextEncoder().encode('probe')), 5000, 'replica 0 to connect');
    const total = 500;
    for (let i = 0; i < total; i++) r0.submit(new TextEncoder().encode(`v${i}`));
    await waitFor(() => delivered.every((d) => d.length >= total + 1), 20_000, `${total} deliveries on every replica`);
    expect(delivered[1]).toEqual(delivered[0]);
    expect(delivered[2]).toEqual(delivered[0]);
    expect(new Set(delivered[0]).size).toBe(total + 1);
  }, 30_000);

  it('a replica started before the others sends its lost prepares again as each connection comes up, not after its proposer timeout', async () => {
    // Replica 0 starts alone: its first prepares to replicas 1 and 2 are lost with the refused
    // dials. With a 30 s proposer timeout, its first value waited 30 s; the prepares now go again
    // to each replica as its connection comes up.
    const delivered: string[] = [];
    const [r0, ...others] = await withFreePorts(3, async (p) => {
      const config = parseConfig([...p.map((port, i) => `replica ${i} 127.0.0.1 ${port}`), 'proposer-timeout 30'].join('\n'), 'test.conf');
      const started: ReplicaHandle[] = [];
      try {
        started.push(await startReplica({ id: 0, config, log: silentLogger, onDeliver: (_iid, v) => delivered.push(new TextDecoder().decode(v)) }));
        await new Promise((r) => setTimeout(r, 300));
        for (let id = 1; id < 3; id++) started.push(await startReplica({ id, config, log: silentLogger, onDeliver: () => undefined }));
      } catch (e) {
        // A port taken: these are closed, and withFreePorts tries other ports.
        await Promise.all(started.map((h) => h.close()));
        throw e;
      }
      return started as [ReplicaHandle, ...ReplicaHandle[]];
    });
    handles.push(r0, ...others);
    await waitFor(() => r0.submit(new TextEncoder().encode('first')), 5000, 'replica 0 to take a value');
    await waitFor(() => delivered.includes('first'), 10_000, 'the first value, well before the 30 s proposer timeout');
  }, 30_000);

  it('LMDB acceptors restarted past their memory window repeat every instance to a new learner from disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'paxos-window-e2e-'));
    try {
      // 5,000 instances: more than the 4,096 an LMDB acceptor keeps in memory after a restart.
      const total = 5000;
      await withFreePorts(3, async (p) => {
        const config = parseConfig([...p.map((port, i) => `replica ${i} 127.0.0.1 ${port}`), 'storage-backend lmdb', `lmdb-env-path ${join(dir, 'acceptor')}`].join('\n'), 'test.conf');
        const delivered: number[] = [0, 0, 0];
        const first: ReplicaHandle[] = [];
        for (let id = 0; id < 3; id++) first.push(await startReplica({ id, config, log: silentLogger, onDeliver: () => void (delivered[id] = (delivered[id] ?? 0) + 1) }));
        handles.push(...first);
        const r0 = first[0] as ReplicaHandle;
        await waitFor(() => r0.submit(new TextEncoder().encode('v0')), 5000, 'replica 0 to connect');
        for (let i = 1; i < total; i++) r0.submit(new TextEncoder().encode(`v${i}`));
        await waitFor(() => delivered.every((d) => d >= total), 30_000, `${total} deliveries on every replica`);
        for (const h of handles.splice(0)) await h.close();
        // Restarted: each acceptor holds the newest 4,096 in memory, the rest on disk.
        const again: ReplicaHandle[] = [];
        for (let id = 0; id < 3; id++) again.push(await startReplica({ id, config, log: silentLogger, onDeliver: () => undefined }));
        handles.push(...again);
        const learned: string[] = [];
        const learner = await startLearner({ config, log: silentLogger, onDeliver: (_iid, v) => void learned.push(new TextDecoder().decode(v)) });
        handles.push(learner);
        // A new value shows the learner how far the log goes; it asks the acceptors for the rest.
        await waitFor(() => (again[0] as ReplicaHandle).submit(new TextEncoder().encode('after')), 5000, 'replica 0 to reconnect');
        await waitFor(() => learned.length >= total + 1, 30_000, `the learner to catch up on ${total + 1} values`);
        expect(learned.slice(0, 3)).toEqual(['v0', 'v1', 'v2']);
        expect(new Set(learned.slice(0, total)).size).toBe(total);
        expect(learned[total]).toBe('after');
      });
    } finally {
      for (const h of handles.splice(0)) await h.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('host names: a cluster whose config names its hosts runs on the addresses they resolve to, and says both', async () => {
    // The names resolve to 127.0.0.1 through the lookup resolveConfig takes, so that no server
    // listens anywhere else (the system's lookup of a name, and IPv6 forms, are config.test.ts's).
    const names = ['paxos-a.test', 'paxos-b.test', 'PAXOS-C.test'];
    const lines: string[] = [];
    const log: Logger = { error: (l) => lines.push(l), info: (l) => lines.push(l), debug: () => undefined };
    const delivered: string[][] = [[], [], []];
    await withFreePorts(3, async (p) => {
      const parsed = parseConfig(p.map((port, i) => `replica ${i} ${names[i]} ${port}`).join('\n'), 'names.conf');
      const asked: string[] = [];
      const config = await resolveConfig(parsed, async (name) => {
        asked.push(name);
        return '127.0.0.1';
      });
      expect(asked).toEqual(names);
      for (let id = 0; id < 3; id++) {
        handles.push(await startReplica({ id, config, log: id === 0 ? log : silentLogger, onDeliver: (_iid, v) => delivered[id]?.push(new TextDecoder().decode(v)) }));
      }
    });
    expect(lines.find((l) => l.includes('listening on'))).toMatch(/Replica 0 listening on paxos-a\.test:\d+ \(127\.0\.0\.1\)/);
    expect(lines).toContainEqual(expect.stringMatching(/names\.conf: lines 1, 2, 3 give host names or IPv6 addresses, which C LibPaxos3 cannot read/));
    const r0 = handles[0] as ReplicaHandle;
    await waitFor(() => r0.submit(new TextEncoder().encode('probe')), 5000, 'replica 0 to connect');
    for (let i = 0; i < 50; i++) r0.submit(new TextEncoder().encode(`v${i}`));
    await waitFor(() => delivered.every((d) => d.length >= 51), 10_000, '51 deliveries on every replica');
    expect(delivered[2]).toEqual(delivered[0]);
  }, 30_000);

  it('replicas whose applications write into what they are delivered, values counted on digest votes, still repeat every value as submitted', async () => {
    const delivered: string[][] = [[], [], []];
    const config = await withFreePorts(3, async (p) => {
      // Digest votes for every value here (2 KiB and more by default).
      const c = parseConfig([...p.map((port, i) => `replica ${i} 127.0.0.1 ${port}`), 'accepted-digests-min-value-size 16'].join('\n'), 'test.conf');
      for (let id = 0; id < 3; id++) {
        const onDeliver = (_iid: number, v: Uint8Array) => {
          delivered[id]?.push(new TextDecoder().decode(v));
          v.fill(0); // an application scribbling on what it was given
        };
        handles.push(await startReplica({ id, config: c, log: silentLogger, onDeliver }));
      }
      return c;
    });
    const r0 = handles[0] as ReplicaHandle;
    const value = (i: number) => new TextEncoder().encode(`value ${i} `.padEnd(40, '.'));
    // Replicas send each other digest votes for these values (with these two settings; the test
    // failed 3 runs of 3 with a learner that delivered its acceptor's bytes).
    expect([config.acceptedDigests, config.acceptedDigestsMinValueSize <= value(0).length]).toEqual([true, true]);
    await waitFor(() => r0.submit(value(0)), 5000, 'replica 0 to connect');
    const total = 50;
    for (let i = 1; i < total; i++) r0.submit(value(i));
    await waitFor(() => delivered.every((d) => d.length >= total), 20_000, `${total} deliveries on every replica`);
    const submitted = Array.from({ length: total }, (_, i) => new TextDecoder().decode(value(i)));
    for (const d of delivered) expect(d).toEqual(submitted);
    // What each acceptor repeats (to a plain LibPaxos3-style connection) is every value as submitted.
    for (const a of config.acceptors) {
      const socket = createConnection({ host: '127.0.0.1', port: a.port });
      sockets.push(socket);
      // A reset fails the wait below with its description, not the worker with an uncaught error.
      socket.on('error', () => {});
      const chunks: Buffer[] = [];
      socket.on('data', (d: Buffer) => chunks.push(d));
      socket.write(encodeMessage({ type: 'repeat', from: 1, to: 1000 }));
      const repeated = () =>
        new FrameDecoder(1 << 20)
          .push(Buffer.concat(chunks))
          .flatMap((f) => (f.type === 'accepted' ? [new TextDecoder().decode(f.value)] : []));
      await waitFor(() => repeated().length >= total, 10_000, `${a.name} to repeat ${total} values`);
      expect(repeated().sort()).toEqual([...submitted].sort());
    }
  }, 30_000);

  it('a replica reaches its own acceptor in memory, and its acceptor keeps its own copy of every value', async () => {
    const lines: string[] = [];
    const log: Logger = { error: (l) => lines.push(l), info: (l) => lines.push(l), debug: (l) => lines.push(l) };
    const delivered: string[] = [];
    const config = await withFreePorts(1, async ([port]) => {
      const c = parseConfig(`replica 0 127.0.0.1 ${port}`, 'test.conf');
      const onDeliver = (_iid: number, v: Uint8Array) => {
        delivered.push(new TextDecoder().decode(v));
        v.fill(0); // an application scribbling on what it was given
      };
      handles.push(await startReplica({ id: 0, config: c, log, onDeliver }));
      return c;
    });
    const r0 = handles[0] as ReplicaHandle;
    // Its own acceptor needs no connection, so a submit goes through at once.
    expect(r0.submit(new TextEncoder().encode('first'))).toBe(true);
    for (let i = 0; i < 20; i++) r0.submit(new TextEncoder().encode(`v${i}`));
    await waitFor(() => delivered.length >= 21, 10_000, '21 deliveries');
    expect(lines.filter((l) => /Connected to acceptor 0/.test(l))).toEqual([]);
    // A learner that catches up later gets the bytes as submitted, not as the callback left them.
    const learned: string[] = [];
    handles.push(await startLearner({ config, log: silentLogger, onDeliver: (_iid, v) => learned.push(new TextDecoder().decode(v)) }));
    await waitFor(() => learned.length >= 21, 10_000, 'the learner to catch up');
    expect(learned).toEqual(delivered);
    // Both say which acceptors they are connected to (the replica's own one needs no connection).
    expect(r0.acceptors()).toEqual([{ name: config.acceptors[0]?.name, up: true }]);
    expect((handles[1] as LearnerHandle).acceptors()).toEqual([{ name: config.acceptors[0]?.name, up: true }]);
  }, 30_000);
});
