import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig, silentLogger, startLearner, startProposer, startReplica, type LearnerHandle, type PaxosConfig, type PaxosHandle, type ProposerHandle, type ReplicaHandle } from '../src/index.js';
import { waitFor, withFreePorts } from './ports.js';

const handles: PaxosHandle[] = [];
afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.close()));
});

const text = (s: string) => new TextEncoder().encode(s);
const LEASE = 'leader-lease 600ms';

async function replicas(n: number, extra: string[] = []) {
  const delivered: string[][] = Array.from({ length: n }, () => []);
  const changes: (number | undefined)[][] = Array.from({ length: n }, () => []);
  const started = await withFreePorts(n, async (p) => {
    const config = parseConfig([...p.map((port, i) => `replica ${i} 127.0.0.1 ${port}`), 'leader yes', LEASE, ...extra].join('\n'), 'test.conf');
    const rs: ReplicaHandle[] = [];
    for (let id = 0; id < n; id++) {
      const r = await startReplica({
        id,
        config,
        log: silentLogger,
        onDeliver: (_iid, v) => delivered[id]?.push(new TextDecoder().decode(v)),
        onLeaderChange: (leader) => changes[id]?.push(leader),
      });
      handles.push(r);
      rs.push(r);
    }
    return rs;
  });
  return { rs: started, delivered, changes };
}

const leaders = (rs: ReplicaHandle[], up: boolean[] = rs.map(() => true)) => rs.map((r, i) => (up[i] && r.isLeader() ? i : -1)).filter((i) => i >= 0);

describe('leadership over real sockets (leader yes)', () => {
  it('one replica leads; values proposed at every replica are delivered everywhere in one order', async () => {
    const { rs, delivered, changes } = await replicas(3);
    await waitFor(() => leaders(rs).length === 1, 10_000, 'a leader');
    const [leader] = leaders(rs) as [number];
    for (const r of rs) expect(r.leader()?.id).toBe(leader);
    const results = await Promise.all(rs.flatMap((r, i) => Array.from({ length: 30 }, (_, k) => r.propose(text(`r${i}-${k}`)))));
    expect(results).toHaveLength(90);
    await waitFor(() => delivered.every((d) => d.length >= 90), 10_000, 'every replica to deliver 90 values');
    expect(delivered[1]).toEqual(delivered[0]);
    expect(delivered[2]).toEqual(delivered[0]);
    expect(new Set(delivered[0]).size).toBe(90);
    for (const c of changes) expect(c.at(-1)).toBe(leader);
    // A lease renewal in flight makes the leader's answer false until it is applied (its instance
    // is above what the leader has applied), so wait for a moment between renewals; the followers
    // must say false at every moment, that one included. (Under a loaded CI host the lease may even
    // move; the one that can read must then be the leader of that moment.)
    const readers = () => rs.map((r, i) => (r.canReadLocally() ? i : -1)).filter((i) => i >= 0);
    await waitFor(() => readers().length > 0, 10_000, 'the leader to be able to read locally');
    const now = readers();
    expect(now).toEqual(leaders(rs));
    expect(now).toHaveLength(1);
  }, 30_000);

  it('when the leader goes away another takes over, and values proposed meanwhile are delivered', async () => {
    const { rs, delivered } = await replicas(3);
    await waitFor(() => leaders(rs).length === 1, 10_000, 'a leader');
    const [old] = leaders(rs) as [number];
    await (rs[old] as ReplicaHandle).close();
    const up = rs.map((_, i) => i !== old);
    const gone = performance.now();
    const survivors = [0, 1, 2].filter((i) => i !== old);
    const proposals = survivors.map((i) => (rs[i] as ReplicaHandle).propose(text(`after-${i}`)));
    await waitFor(() => leaders(rs, up).length === 1, 10_000, 'a new leader');
    // A lease (600 ms) and an election; generous for a loaded machine.
    expect(performance.now() - gone).toBeLessThan(5000);
    await Promise.all(proposals);
    for (const i of survivors) {
      await waitFor(() => survivors.every((s) => delivered[i]?.includes(`after-${s}`)), 10_000, `replica ${i} to deliver both values`);
    }
  }, 30_000);

  it('dropLeadership hands over to another replica', async () => {
    const { rs } = await replicas(3);
    await waitFor(() => leaders(rs).length === 1, 10_000, 'a leader');
    const [old] = leaders(rs) as [number];
    (rs[old] as ReplicaHandle).dropLeadership();
    // The replica that resigned holds off for three leases (1.8 s) unless another takes over
    // first, and resigns again if a renewal in flight was decided before its resignation; one
    // lease was not always enough on a loaded host (paxos-core's leadership tests).
    await waitFor(() => leaders(rs).length === 1 && leaders(rs)[0] !== old, 10_000, 'another leader');
  }, 30_000);

  it('split mode: proposers elect a leader, a follower forwards to it, and a plain learner knows the leader', async () => {
    const delivered: string[] = [];
    const { proposers, learner } = await withFreePorts(5, async (p) => {
      const config: PaxosConfig = parseConfig(
        [...p.slice(0, 3).map((port, i) => `acceptor ${i} 127.0.0.1 ${port}`), ...p.slice(3).map((port, i) => `proposer ${i} 127.0.0.1 ${port}`), 'leader yes', LEASE].join('\n'),
        'test.conf',
      );
      const { startAcceptor } = await import('../src/index.js');
      for (let id = 0; id < 3; id++) handles.push(await startAcceptor({ id, config, log: silentLogger }));
      const ps: ProposerHandle[] = [];
      for (let id = 0; id < 2; id++) {
        const proposer = await startProposer({ id, config, log: silentLogger });
        handles.push(proposer);
        ps.push(proposer);
      }
      const l: LearnerHandle = await startLearner({ config, log: silentLogger, onDeliver: (_iid, v) => delivered.push(new TextDecoder().decode(v)) });
      handles.push(l);
      return { proposers: ps, learner: l };
    });
    await waitFor(() => proposers.filter((p) => p.isLeader()).length === 1, 10_000, 'a leading proposer');
    const leader = proposers.findIndex((p) => p.isLeader());
    await waitFor(() => learner.leader()?.id === leader, 10_000, 'the learner to know the leader');
    expect(proposers.every((p) => p.leader()?.id === leader)).toBe(true);
  }, 30_000);
});
