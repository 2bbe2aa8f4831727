import { connect } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Proc, cleanUp, sleep, startListening, tempDir, waitFor, writeConfig } from './procs.js';

afterEach(cleanUp);

const listening = (p: Proc) => /listening on/.test(p.stderr);
const conf = (lines: string[]) => `${lines.join('\n')}\n`;

/** 3 acceptors + 1 proposer, on fresh ports, with `extra` config lines. */
async function splitCluster(extra: string[] = []) {
  const dir = tempDir();
  return startListening(
    4,
    (p) => {
      const path = writeConfig(dir, conf([...p.slice(0, 3).map((port, i) => `acceptor ${i} 127.0.0.1 ${port}`), `proposer 0 127.0.0.1 ${p[3]}`, ...extra]));
      const acceptors = [0, 1, 2].map((i) => new Proc('acceptor', [String(i), path]));
      const proposer = new Proc('proposer', ['0', path]);
      return { procs: [...acceptors, proposer], value: { dir, path, acceptors, proposer } };
    },
    listening,
  );
}

function client(path: string, seconds: number, extra: string[] = []): Proc {
  return new Proc('client', [path, '-o', '10', '-v', '32', '--duration', String(seconds), ...extra]);
}

describe('real processes on 127.0.0.1', () => {
  it('(a) 3 acceptors + proposer + 2 learners + client: both learners deliver the same sequence', async () => {
    const { path } = await splitCluster();
    const learners = [new Proc('learner', [path]), new Proc('learner', [path])];
    const c = client(path, 3);
    expect(await c.exit).toBe(0);
    expect(c.stdout).toMatch(/^Connected to proposer$/m);
    expect(c.stdout).toMatch(/^\d+ value\/sec, \d+\.\d\d Mbps, latency min \d+ us max \d+ us avg \d+ us$/m);
    const summary = /Summary: (\d+) values/.exec(c.stdout);
    expect(Number(summary?.[1])).toBeGreaterThan(100);
    await waitFor(() => learners.every((l) => l.lines.length >= Number(summary?.[1])), 10_000, 'both learners to catch up');
    await sleep(300);
    expect(learners[1]?.lines).toEqual(learners[0]?.lines);
    expect(learners[0]?.lines[0]).toMatch(/^\d+\.\d{6} \[[0-9a-z]{0,16}\] 32 bytes$/);
    expect(new Set(learners[0]?.lines).size).toBe(learners[0]?.lines.length);
  }, 40_000);

  it('(b) 3 replicas as processes deliver identical sequences', async () => {
    const dir = tempDir();
    const { path, replicas } = await startListening(
      3,
      (p) => {
        const path = writeConfig(dir, conf(p.map((port, i) => `replica ${i} 127.0.0.1 ${port}`)));
        const replicas = [0, 1, 2].map((i) => new Proc('replica', [String(i), path, '-v']));
        return { procs: replicas, value: { path, replicas } };
      },
      listening,
    );
    const c = client(path, 3);
    expect(await c.exit).toBe(0);
    const n = Number(/Summary: (\d+) values/.exec(c.stdout)?.[1]);
    expect(n).toBeGreaterThan(100);
    await waitFor(() => replicas.every((r) => r.lines.length >= n), 10_000, 'every replica to deliver');
    await sleep(300);
    expect(replicas[1]?.lines).toEqual(replicas[0]?.lines);
    expect(replicas[2]?.lines).toEqual(replicas[0]?.lines);
  }, 40_000);

  it('(c) progress goes on without one acceptor, stops without two, resumes when one returns; nothing lost or reordered', async () => {
    const dir = tempDir();
    const { path, acceptors } = await splitCluster(['storage-backend lmdb', `lmdb-env-path ${join(dir, 'acc')}`]);
    const learner = new Proc('learner', [path]);
    const c = new Proc('client', [path, '-o', '5', '-v', '16']);
    await waitFor(() => learner.lines.length > 50, 10_000, 'first deliveries');
    await acceptors[2]?.kill('SIGKILL');
    const afterOne = learner.lines.length;
    await waitFor(() => learner.lines.length > afterOne + 50, 10_000, 'progress with two acceptors');
    await acceptors[1]?.kill('SIGKILL');
    await sleep(500);
    const stalled = learner.lines.length;
    await sleep(1500);
    expect(learner.lines.length).toBe(stalled);
    const restarted = new Proc('acceptor', ['1', path]);
    await waitFor(() => listening(restarted), 10_000, 'acceptor 1 to restart');
    await waitFor(() => learner.lines.length > stalled + 50, 15_000, 'progress after the restart');
    await c.kill('SIGINT');
    const lines = learner.lines;
    expect(new Set(lines).size).toBe(lines.length);
  }, 60_000);

  it('(d) LMDB acceptors SIGKILLed and restarted keep the log: a new learner catches up all of it', async () => {
    const dir = tempDir();
    const { path, acceptors } = await splitCluster(['storage-backend lmdb', `lmdb-env-path ${join(dir, 'acc')}`]);
    const first = new Proc('learner', [path]);
    expect(await client(path, 2).exit).toBe(0);
    await Promise.all(acceptors.map((a) => a.kill('SIGKILL')));
    const again = [0, 1, 2].map((i) => new Proc('acceptor', [String(i), path]));
    await waitFor(() => again.every(listening), 10_000, 'acceptors to restart');
    expect(again[0]?.stderr).toMatch(/recovered records up to instance \d+ above trim point 0 \(the newest \d+ in memory/);
    expect(await client(path, 2).exit).toBe(0);
    await sleep(500);
    const late = new Proc('learner', [path]);
    await waitFor(() => late.lines.length >= first.lines.length && first.lines.length > 0, 15_000, 'the new learner to catch up');
    await sleep(300);
    expect(late.lines.slice(0, first.lines.length)).toEqual(first.lines);
  }, 60_000);

  it('(e) hostile bytes close only that connection: every role keeps serving', async () => {
    const dir = tempDir();
    const { path, ports, replicas } = await startListening(
      3,
      (p) => {
        const path = writeConfig(dir, conf(p.map((port, i) => `replica ${i} 127.0.0.1 ${port}`)));
        const replicas = [0, 1, 2].map((i) => new Proc('replica', [String(i), path]));
        return { procs: replicas, value: { path, ports: p, replicas } };
      },
      listening,
    );
    const hostile = [
      [0x01], // a top-level integer: LibPaxos3 segfaults
      [0xc0], // nil
      [0x93, 0x09, 0x01, 0x02], // unknown type
      [0x92, 0x00, 0x01], // prepare with one field
      [0x92, 0x08, 0xc6, 0xff, 0xff, 0xff, 0xff], // a 4 GiB value
      [0x96, 0x01, 0x07, 0x01, 0x0b, 0x00, 0xc4, 0x00], // a promise claiming to be acceptor 7
      [0x93, 0x05, 0x01, 0xce, 0xff, 0xff, 0xff, 0xff], // repeat 1..2^32-1
      [0x93, 0x00, 0xce, 0xff, 0xff, 0xff, 0xff, 0xce, 0xff, 0xff, 0xff, 0xff], // prepare at the max iid and ballot
    ];
    for (const port of ports) {
      for (const bytes of hostile) {
        await new Promise<void>((resolve) => {
          const s = connect({ host: '127.0.0.1', port }, () => s.write(Uint8Array.from(bytes)));
          s.on('data', () => undefined);
          s.on('error', () => resolve());
          s.on('close', () => resolve());
          setTimeout(() => {
            s.destroy();
            resolve();
          }, 300);
        });
      }
    }
    const c = client(path, 2);
    expect(await c.exit).toBe(0);
    expect(Number(/Summary: (\d+) values/.exec(c.stdout)?.[1])).toBeGreaterThan(50);
    for (const r of replicas) {
      expect(r.exitCode).toBeUndefined();
      expect(r.stderr).toMatch(/peer 127\.0\.0\.1:\d+ sent bytes that are not a LibPaxos3 message \(expected a msgpack array, got byte 0x01\); closing that connection/);
      expect(r.stderr).toMatch(/unknown message type 9/);
      expect(r.stderr).toMatch(/exceeds the limit/);
      expect(r.stderr).toMatch(/sent a promise claiming to be from acceptor 7; dropped/);
    }
  }, 60_000);
});

describe('command lines', () => {
  it.each([
    ['an unknown key', 'proposer-timout 2', /bad\.conf:2: unknown key 'proposer-timout'; did you mean 'proposer-timeout'\?/],
    ['window 0', 'proposer-preexec-window 0', /bad\.conf:2: proposer-preexec-window: must be at least 1/],
    ['a host name with an underscore', 'acceptor 1 db_1.example.org 9000', /bad\.conf:2: 'db_1\.example\.org' is neither a dotted IPv4 address/],
    ['trailing junk', 'proposer-preexec-window 3s', /bad\.conf:2: proposer-preexec-window: expected a whole number of instances, got '3s'/],
    ['a key without value', 'verbosity', /bad\.conf:2: 'verbosity' needs a value/],
  ])('(f) a config with %s exits 1 with its path:line', async (_name, line, message) => {
    const dir = tempDir();
    const path = writeConfig(dir, conf(['acceptor 0 127.0.0.1 1', line]), 'bad.conf');
    for (const role of ['acceptor', 'proposer', 'replica', 'learner']) {
      const p = new Proc(role, role === 'learner' ? [path] : ['0', path]);
      expect(await p.exit, `${role}: ${p.stderr}`).toBe(1);
      expect(p.stderr).toMatch(message);
      expect(p.stderr).toMatch(new RegExp(`Could not start the ${role}!`));
    }
  }, 30_000);

  it('every binary answers --help with exit 0', async () => {
    for (const role of ['acceptor', 'proposer', 'learner', 'replica', 'client']) {
      const p = new Proc(role, ['--help']);
      expect(await p.exit, role).toBe(0);
      expect(p.stdout).toMatch(/Usage:/);
    }
  }, 30_000);

  it("keeps LibPaxos3's exit codes for wrong arguments", async () => {
    const acceptor = new Proc('acceptor', []);
    expect(await acceptor.exit).toBe(0);
    expect(acceptor.stdout).toMatch(/Usage: acceptor <id> \[config\]/);
    const proposer = new Proc('proposer', []);
    expect(await proposer.exit).toBe(1);
    const c = new Proc('client', ['--no-such-flag']);
    expect(await c.exit).toBe(1);
    expect(c.stderr).toMatch(/Unknown argument/);
  }, 30_000);

  it('names a missing acceptor id and a port already in use', async () => {
    const dir = tempDir();
    const { path } = await startListening(
      1,
      (p) => {
        const path = writeConfig(dir, conf([`acceptor 0 127.0.0.1 ${p[0]}`]));
        return { procs: [new Proc('acceptor', ['0', path])], value: { path } };
      },
      listening,
    );
    const missing = new Proc('acceptor', ['3', path]);
    expect(await missing.exit).toBe(1);
    expect(missing.stderr).toMatch(/there is no acceptor 3; the config has 1 acceptor \(ids 0 to 0\)/);
    const twice = new Proc('acceptor', ['0', path]);
    expect(await twice.exit).toBe(1);
    expect(twice.stderr).toMatch(/cannot listen on 127\.0\.0\.1:\d+ \(.*paxos\.conf:1\): another process is using that port/);
  }, 30_000);
});
