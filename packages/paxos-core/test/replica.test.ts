import { describe, expect, it } from 'vitest';
import { Replica, newEffects, type Delivery, type Envelope } from '../src/index.js';

/** Three replicas wired by direct calls; every replica dials every replica, itself included. */
function cluster(n: number) {
  const replicas = Array.from({ length: n }, (_, id) => new Replica({ id, replicas: n, proposer: { preexecWindow: 16 } }));
  const delivered: Delivery[][] = replicas.map(() => []);
  const queue: { to: number; from: number; env: Envelope }[] = [];
  const out = newEffects();
  const drain = (from: number) => {
    for (const env of out.send) {
      if (env.to === 'peer') queue.push({ to: env.peer, from, env });
      else for (let to = 0; to < n; to++) queue.push({ to, from, env });
    }
    delivered[from]?.push(...out.deliver);
    out.send.length = 0;
    out.deliver.length = 0;
    out.persist.length = 0;
    out.events.length = 0;
  };
  let now = 0;
  /** Deliver queued messages; whenever the network is quiet, advance the clock 5 ms and tick. */
  const run = (maxSteps: number, until: () => boolean) => {
    for (let steps = 0; steps < maxSteps && !until(); steps++) {
      const next = queue.shift();
      if (next === undefined) {
        now += 5;
        replicas.forEach((r, i) => {
          r.tick(now, out);
          drain(i);
        });
        continue;
      }
      replicas[next.to]?.receive(next.from, next.env.msg, out);
      drain(next.to);
    }
  };
  return { replicas, delivered, out, drain, run, idle: () => queue.length === 0 };
}

describe('replica', () => {
  it('TotalOrderDelivery: every replica delivers the values submitted to replica 0, in order', () => {
    const c = cluster(3);
    c.replicas.forEach((r, i) => {
      r.tick(0, c.out);
      c.drain(i);
    });
    const total = 2000;
    for (let v = 0; v < total; v++) {
      c.replicas[0]?.propose(Uint8Array.of(v & 0xff, v >> 8, 1), c.out);
      c.drain(0);
      if (v % 50 === 0) c.run(100_000, c.idle);
    }
    c.run(10_000_000, () => c.delivered.every((d) => d.length >= total));
    const expected = Array.from({ length: total }, (_, v) => [v & 0xff, v >> 8, 1]);
    for (const d of c.delivered) {
      expect(d.map((x) => [...x.value])).toEqual(expected);
      expect(d.map((x) => x.iid)).toEqual([...d.map((x) => x.iid)].sort((a, b) => a - b));
    }
  });

  it('a connection to a peer’s acceptor that comes up makes its learner ask that acceptor for what it missed', () => {
    const r = new Replica({ id: 0, replicas: 3 });
    const out = newEffects();
    r.step({ kind: 'acceptor-connected', peer: 2 }, out);
    expect(out.send).toEqual([{ to: 'peer', peer: 2, msg: { type: 'repeat', from: 1, to: 1024 } }]);
  });
});
