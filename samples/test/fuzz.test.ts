import { readFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_UINT32, Prng, type Message } from '@libpaxos/paxos-core';
import { encodeMessage } from '@libpaxos/evpaxos';
import { Proc, cleanUp, ports, startListening, tempDir, waitFor, writeConfig } from './procs.js';

afterEach(cleanUp);

const rng = new Prng(2026);
const FAR = 1_000_000_000;

/**
 * Valid messages with absurd fields, on instances far above what the client will use. No trim:
 * a trim to 2^32−1 would legitimately end every instance, which only authentication can prevent.
 */
function absurd(): Message {
  const iid = rng.pick([FAR + rng.below(1000), MAX_UINT32, MAX_UINT32 - 1]);
  const ballot = rng.pick([0, 1, MAX_UINT32, rng.below(2 ** 31)]);
  const aid = rng.pick([0, 2, 9, 200, MAX_UINT32]);
  const value = new Uint8Array(rng.below(64));
  switch (rng.below(8)) {
    case 0:
      return { type: 'prepare', iid, ballot };
    case 1:
      return { type: 'accept', iid, ballot, value };
    case 2:
      return { type: 'promise', aid, iid, ballot, valueBallot: rng.pick([0, ballot, MAX_UINT32]), value };
    case 3:
      return { type: 'accepted', aid, iid, ballot, valueBallot: rng.pick([0, ballot, MAX_UINT32]), value };
    case 4:
      return { type: 'preempted', aid, iid, ballot };
    case 5:
      return { type: 'repeat', from: rng.pick([1, FAR, MAX_UINT32]), to: MAX_UINT32 };
    case 6:
      return { type: 'acceptor_state', aid, trimIid: rng.pick([0, FAR]) };
    default:
      return { type: 'client_value', value: new Uint8Array(0) };
  }
}

/** Random bytes, or an absurd message with a few bytes flipped. */
function garbage(): Uint8Array {
  if (rng.chance(1, 3)) return Uint8Array.from({ length: 1 + rng.below(64) }, () => rng.below(256));
  const bytes = encodeMessage(absurd());
  if (rng.chance(1, 2)) for (let k = 0; k < 1 + rng.below(3); k++) bytes[rng.below(bytes.length)] = rng.below(256);
  return bytes;
}

async function fuzzPort(port: number, connections: number, perConnection: number): Promise<void> {
  for (let c = 0; c < connections; c++) {
    await new Promise<void>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        for (let i = 0; i < perConnection; i++) s.write(garbage());
        setTimeout(() => s.destroy(), 30);
      });
      s.on('data', () => undefined);
      s.on('error', () => resolve());
      s.on('close', () => resolve());
    });
  }
}

const rssMiB = (p: Proc) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

describe('live fuzzing', () => {
  it('acceptors, a proposer and replicas survive thousands of hostile messages and still decide a fresh client\'s values', async () => {
    const dir = tempDir();
    const { split, replicas, splitPath, replicaPath, p } = await startListening(
      7,
      (p) => {
        const splitPath = writeConfig(dir, `${p.slice(0, 3).map((port, i) => `acceptor ${i} 127.0.0.1 ${port}`).join('\n')}\nproposer 0 127.0.0.1 ${p[3]}\n`, 'split.conf');
        const replicaPath = writeConfig(dir, `${p.slice(4, 7).map((port, i) => `replica ${i} 127.0.0.1 ${port}`).join('\n')}\n`, 'replica.conf');
        const split = [...[0, 1, 2].map((i) => new Proc('acceptor', [String(i), splitPath])), new Proc('proposer', ['0', splitPath])];
        const replicas = [0, 1, 2].map((i) => new Proc('replica', [String(i), replicaPath]));
        return { procs: [...split, ...replicas], value: { split, replicas, splitPath, replicaPath, p } };
      },
      (proc) => /listening on/.test(proc.stderr),
    );
    for (const port of p) await fuzzPort(port, 20, 100);
    const all = [...split, ...replicas];
    for (const proc of all) {
      expect(proc.exitCode, `${proc.name} died: ${proc.stderr.slice(-500)}`).toBeUndefined();
      expect(rssMiB(proc)).toBeLessThan(400);
    }
    expect(split[0]?.stderr).toMatch(/sent bytes that are not a LibPaxos3 message/);
    for (const path of [splitPath, replicaPath]) {
      const c = new Proc('client', [path, '-o', '10', '-v', '32', '--duration', '2']);
      expect(await c.exit).toBe(0);
      expect(Number(/Summary: (\d+) values/.exec(c.stdout)?.[1])).toBeGreaterThan(50);
    }
  }, 90_000);

  it('a learner dialling a hostile acceptor keeps running and keeps its memory bounded', async () => {
    const dir = tempDir();
    const [port] = ports(1);
    const servers: Server[] = [];
    const fake = createServer((socket) => {
      socket.on('data', () => undefined);
      socket.on('error', () => undefined);
      let sent = 0;
      const burst = setInterval(() => {
        if (socket.destroyed || sent > 3000) {
          clearInterval(burst);
          socket.destroy();
          return;
        }
        for (let i = 0; i < 100; i++, sent++) socket.write(garbage());
      }, 5);
    });
    servers.push(fake);
    await new Promise<void>((r) => fake.listen(port, '127.0.0.1', () => r()));
    try {
      const path = writeConfig(dir, `acceptor 0 127.0.0.1 ${port}\n`);
      const learner = new Proc('learner', [path]);
      await waitFor(() => /sent bytes that are not a LibPaxos3 message|claiming to be from acceptor/.test(learner.stderr), 10_000, 'the learner to refuse something');
      await new Promise((r) => setTimeout(r, 2500));
      expect(learner.exitCode).toBeUndefined();
      expect(rssMiB(learner)).toBeLessThan(300);
    } finally {
      for (const s of servers) s.close();
    }
  }, 30_000);
});
