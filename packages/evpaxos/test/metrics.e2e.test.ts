import { afterEach, describe, expect, it } from 'vitest';
import { DIGEST_MIN_VALUE_BYTES, parseConfig, silentLogger, startReplica, type PaxosHandle, type ReplicaHandle } from '../src/index.js';
import { ports, waitFor, withFreePorts } from './ports.js';
import { family, observations, scrape, value } from './prometheus.js';

const handles: PaxosHandle[] = [];
afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.close()));
});

const text = (s: string) => new TextEncoder().encode(s);

async function health(url: string | undefined): Promise<{ status: number; body: { status: string; reasons: string[]; checks: Record<string, unknown> } }> {
  const res = await fetch(`${url}/healthz`);
  return { status: res.status, body: (await res.json()) as never };
}

describe('metrics and health', () => {
  it('a replica serves Prometheus text that a parser reads, counting what the cluster did', async () => {
    const rs = await withFreePorts(3, async (p) => {
      const config = parseConfig([...p.map((port, i) => `replica ${i} 127.0.0.1 ${port}`), 'proposer-batch-max-values 64'].join('\n'), 'm.conf');
      const rs: ReplicaHandle[] = [];
      for (let id = 0; id < 3; id++) rs.push(await startReplica({ id, config, log: silentLogger, metrics: { port: 0 } }));
      handles.push(...rs);
      return rs;
    });
    const r0 = rs[0] as ReplicaHandle;
    expect(r0.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await waitFor(() => r0.submit(text('probe')), 5000, 'replica 0 to connect');
    // Values of DIGEST_MIN_VALUE_BYTES, so that every accepted between replicas may go as a digest.
    await Promise.all(Array.from({ length: 200 }, (_, i) => r0.propose(text(`value ${i} `.padEnd(DIGEST_MIN_VALUE_BYTES, '.')))));
    const m = await scrape(r0.metricsUrl as string);
    expect(family(m, 'paxos_process_info')[0]?.labels).toEqual({ role: 'replica', id: '0', name: 'replica-0', tls: 'off' });
    expect(value(m, 'paxos_learner_values_delivered_total')).toBeGreaterThanOrEqual(201);
    expect(value(m, 'paxos_proposer_values_proposed_total')).toBeGreaterThanOrEqual(201);
    expect(value(m, 'paxos_proposer_values_chosen_total')).toBeGreaterThanOrEqual(201);
    expect(value(m, 'paxos_proposer_instances_opened_total')).toBeGreaterThan(0);
    expect(value(m, 'paxos_proposer_instances_chosen_total')).toBeGreaterThan(0);
    // Batching: fewer Paxos values than client values.
    expect(observations(m, 'paxos_proposer_batch_values')).toBeLessThan(201);
    expect(observations(m, 'paxos_proposer_phase1_seconds')).toBeGreaterThan(0);
    expect(observations(m, 'paxos_proposer_phase2_seconds')).toBeGreaterThan(0);
    expect(observations(m, 'paxos_storage_commit_seconds')).toBeGreaterThan(0);
    expect(value(m, 'paxos_peer_connected', { peer: 'replica-1' })).toBe(1);
    expect(value(m, 'paxos_peer_sent_bytes_total', { peer: 'replica-1' })).toBeGreaterThan(1000);
    expect(value(m, 'paxos_peer_received_bytes_total', { peer: 'replica-2' })).toBeGreaterThan(1000);
    // Between replicas an accepted comes as a digest (accepted-digests, on by default).
    expect(value(m, 'paxos_extension_messages_received_total', { type: 'accepted_digest' })).toBeGreaterThan(0);
    expect(value(m, 'paxos_messages_sent_total', { type: 'accept' })).toBeGreaterThan(0);
    expect(value(m, 'paxos_connections', { direction: 'accepted' })).toBe(2);
    expect(value(m, 'paxos_storage_open')).toBe(1);
    expect(value(m, 'paxos_learner_next_instance')).toBeGreaterThan(1);
    expect(value(m, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    // Arguments that are not instance ids are refused with a sentence, before anything is stepped
    // (the trim counts below stay at one), and the replica goes on.
    expect(() => r0.trim(0)).toThrow(new RangeError('trim(0): an instance id is an integer from 1 to 4294967295'));
    expect(() => r0.trim(1.5)).toThrow(RangeError);
    expect(() => r0.setInstanceId(-1)).toThrow(/^setInstanceId\(-1\): an instance id is an integer from 0 to 4294967295$/);
    // Trims: sent by the handle, applied by every acceptor.
    r0.trim(2);
    const trimmed = async () => value(await scrape(rs[1]?.metricsUrl as string), 'paxos_acceptor_trim_instance');
    for (let i = 0; i < 100 && (await trimmed()) < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await trimmed()).toBe(2);
    expect(value(await scrape(r0.metricsUrl as string), 'paxos_trims_sent_total')).toBe(1);
    expect(value(await scrape(rs[1]?.metricsUrl as string), 'paxos_acceptor_trims_applied_total')).toBe(1);
    const res = await fetch(`${r0.metricsUrl}/nowhere`);
    expect(res.status).toBe(404);
  }, 30_000);

  it('health: 503 with the reason until a quorum is connected, 200 then', async () => {
    const [a, b, c] = ports(3) as [number, number, number];
    const config = parseConfig([`replica 0 127.0.0.1 ${a}`, `replica 1 127.0.0.1 ${b}`, `replica 2 127.0.0.1 ${c}`].join('\n'), 'h.conf');
    const r0 = await startReplica({ id: 0, config, log: silentLogger, metrics: { port: 0 } });
    handles.push(r0);
    const alone = await health(r0.metricsUrl);
    expect(alone.status).toBe(503);
    expect(alone.body.reasons).toEqual(['connected to 1 of 3 acceptors, a quorum is 2 (not connected: replica-1, replica-2)']);
    expect(alone.body.checks).toMatchObject({ storageOpen: true, acceptorsConnected: 1, quorum: 2 });
    const r1 = await startReplica({ id: 1, config, log: silentLogger });
    handles.push(r1);
    expect(r1.metricsUrl).toBeUndefined();
    let h = alone;
    for (let i = 0; i < 250 && h.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 20));
      h = await health(r0.metricsUrl);
    }
    expect(h).toMatchObject({ status: 200, body: { status: 'ready', reasons: [] } });
  }, 30_000);

  it('health with leadership on: not ready until a leader is known; leader metrics name it', async () => {
    const rs = await withFreePorts(3, async (p) => {
      const config = parseConfig([...p.map((port, i) => `replica ${i} 127.0.0.1 ${port}`), 'leader yes', 'leader-lease 600ms'].join('\n'), 'l.conf');
      const rs: ReplicaHandle[] = [await startReplica({ id: 0, config, log: silentLogger, metrics: { port: 0 } })];
      handles.push(...rs);
      // Alone, replica 0 can neither reach a quorum nor see a leader.
      const alone = await health(rs[0]?.metricsUrl);
      expect(alone.status).toBe(503);
      expect(alone.body.reasons).toEqual(['connected to 1 of 3 acceptors, a quorum is 2 (not connected: replica-1, replica-2)', 'no leader is known to hold a lease (leader yes)']);
      expect(alone.body.checks.leader).toBeNull();
      for (let id = 1; id < 3; id++) rs.push(await startReplica({ id, config, log: silentLogger, metrics: { port: 0 } }));
      handles.push(...rs.slice(1));
      return rs;
    });
    let h = await health(rs[2]?.metricsUrl);
    await waitFor(() => rs.some((r) => r.isLeader()), 10_000, 'a leader');
    for (let i = 0; i < 250 && h.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 20));
      h = await health(rs[2]?.metricsUrl);
    }
    expect(h.status).toBe(200);
    expect(h.body.checks.leader).toEqual(expect.any(Number));
    // The leader's own metrics name it; on a loaded machine the lease may move between the
    // question and the scrape, so ask again (a bounded number of times) until both agree.
    let agreed = false;
    for (let i = 0; i < 20 && !agreed; i++) {
      const leader = rs.findIndex((r) => r.isLeader());
      if (leader < 0) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const m = await scrape(rs[leader]?.metricsUrl as string);
      if (value(m, 'paxos_leader_is_self') !== 1) continue;
      expect(value(m, 'paxos_leader_id')).toBe(leader);
      expect(value(m, 'paxos_leader_lease_remaining_seconds')).toBeGreaterThan(0);
      expect(value(m, 'paxos_leader_changes_total')).toBeGreaterThanOrEqual(1);
      agreed = true;
    }
    expect(agreed).toBe(true);
  }, 30_000);
});
