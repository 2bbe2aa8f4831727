import { afterEach, describe, expect, it } from 'vitest';
import { DIGEST_MIN_VALUE_BYTES, parseConfig, silentLogger, startLearner, startReplica, type PaxosHandle, type ReplicaHandle } from '../src/index.js';
import { waitFor, withFreePorts } from './ports.js';
import { family, scrape, value } from './prometheus.js';

const handles: PaxosHandle[] = [];
afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.close()));
});

const text = (s: string) => new TextEncoder().encode(s);
const TOTAL = 300;

interface Traffic {
  /** LibPaxos3 accepted messages (with the value) received over TCP. */
  readonly acceptedIn: number;
  readonly digestsIn: number;
  readonly digestsOut: number;
}

/** The accepted_digest sample of an extension counter (absent until the first one). */
function counted(m: Awaited<ReturnType<typeof scrape>>, name: string): number {
  return Number(family(m, name).find((s) => s.labels?.['type'] === 'accepted_digest')?.value ?? 0);
}

async function traffic(url: string | undefined): Promise<Traffic> {
  const m = await scrape(url as string);
  return {
    acceptedIn: value(m, 'paxos_messages_received_total', { type: 'accepted' }),
    digestsIn: counted(m, 'paxos_extension_messages_received_total'),
    digestsOut: counted(m, 'paxos_extension_messages_sent_total'),
  };
}

/** Three replicas (replica k with the config `configs[k]` makes), each recording what it delivers. */
async function cluster(extra: (id: number) => string[]): Promise<{ replicas: ReplicaHandle[]; delivered: string[][]; ports: number[] }> {
  const delivered: string[][] = [[], [], []];
  return withFreePorts(3, async (ports) => {
    const replicas: ReplicaHandle[] = [];
    for (let id = 0; id < 3; id++) {
      const config = parseConfig([...ports.map((port, i) => `replica ${i} 127.0.0.1 ${port}`), ...extra(id)].join('\n'), `r${id}.conf`);
      const h = await startReplica({ id, config, log: silentLogger, metrics: { port: 0 }, onDeliver: (_iid, v) => delivered[id]?.push(new TextDecoder().decode(v)) });
      handles.push(h);
      replicas.push(h);
    }
    return { replicas, delivered, ports };
  });
}

async function submitAll(r0: ReplicaHandle, delivered: string[][]): Promise<void> {
  // Every replica's connections are up (each has delivered the probe) before the values go.
  await waitFor(() => r0.submit(text('probe')), 5000, 'replica 0 to connect');
  await waitFor(() => delivered.every((d) => d.length >= 1), 10_000, 'the probe on every replica');
  // Values of DIGEST_MIN_VALUE_BYTES or more: smaller ones go whole (see the last test).
  for (let i = 0; i < TOTAL; i++) r0.submit(text(`v${i} `.padEnd(DIGEST_MIN_VALUE_BYTES, '.')));
  await waitFor(() => delivered.every((d) => d.length >= TOTAL + 1), 20_000, `${TOTAL} deliveries on every replica`);
}

describe('accepted digests between replicas (accepted-digests, issue 10 item 3)', () => {
  it('a 3-replica cluster delivers the same values in the same order while its replicas send each other digests instead of values', async () => {
    const { replicas, delivered, ports } = await cluster(() => []);
    // A plain learner announces nothing: it must get LibPaxos3's full accepted messages.
    const learned: string[] = [];
    const config = parseConfig(ports.map((port, i) => `replica ${i} 127.0.0.1 ${port}`).join('\n'), 'l.conf');
    const learner = await startLearner({ config, log: silentLogger, metrics: { port: 0 }, onDeliver: (_iid, v) => learned.push(new TextDecoder().decode(v)) });
    handles.push(learner);
    await submitAll(replicas[0] as ReplicaHandle, delivered);
    expect(delivered[1]).toEqual(delivered[0]);
    expect(delivered[2]).toEqual(delivered[0]);
    expect(new Set(delivered[0]).size).toBe(TOTAL + 1);
    for (const r of replicas) {
      const t = await traffic(r.metricsUrl);
      // From each of the two other acceptors, a digest per instance; values travel again only in
      // answers to repeats (a digest quorum that came before the accept, on another connection):
      // fewer than the digests even on a loaded machine (without the feature: 0 digests, and at
      // least 2 × TOTAL full accepted messages, as the learner below gets).
      expect(t.digestsIn).toBeGreaterThanOrEqual(2 * TOTAL);
      expect(t.digestsOut).toBeGreaterThanOrEqual(2 * TOTAL);
      expect(t.acceptedIn).toBeLessThan(t.digestsIn / 2);
    }
    await waitFor(() => learned.length >= TOTAL + 1, 20_000, 'the learner to deliver everything');
    expect(learned).toEqual(delivered[0]);
    const l = await traffic(learner.metricsUrl);
    expect(l.digestsIn).toBe(0);
    expect(l.acceptedIn).toBeGreaterThanOrEqual(2 * TOTAL);
    // Values under DIGEST_MIN_VALUE_BYTES go whole between replicas too: a digest would save little.
    const before = await Promise.all(replicas.map((r) => traffic(r.metricsUrl)));
    for (let i = 0; i < 50; i++) (replicas[0] as ReplicaHandle).submit(text(`small ${i}`));
    await waitFor(() => delivered.every((d) => d.length >= TOTAL + 51), 20_000, 'the small values on every replica');
    const after = await Promise.all(replicas.map((r) => traffic(r.metricsUrl)));
    after.forEach((t, i) => {
      expect(t.digestsIn).toBe(before[i]?.digestsIn);
      expect(t.acceptedIn - (before[i]?.acceptedIn ?? 0)).toBeGreaterThanOrEqual(2 * 50);
    });
  }, 60_000);

  it('a replica that does not announce the feature (accepted-digests no) gets full accepted messages, and the cluster delivers identically', async () => {
    const { replicas, delivered } = await cluster((id) => (id === 2 ? ['accepted-digests no'] : []));
    await submitAll(replicas[0] as ReplicaHandle, delivered);
    expect(delivered[1]).toEqual(delivered[0]);
    expect(delivered[2]).toEqual(delivered[0]);
    const [t0, t1, t2] = await Promise.all(replicas.map((r) => traffic(r.metricsUrl)));
    // Replica 2 neither takes digests nor sends them: every accepted it gets carries the value.
    expect(t2?.digestsIn).toBe(0);
    expect(t2?.digestsOut).toBe(0);
    expect(t2?.acceptedIn).toBeGreaterThanOrEqual(2 * TOTAL);
    // Replicas 0 and 1 send each other digests, and take replica 2's accepted messages whole.
    for (const t of [t0, t1]) {
      expect(t?.digestsIn).toBeGreaterThanOrEqual(TOTAL);
      expect(t?.digestsOut).toBeGreaterThanOrEqual(TOTAL);
      expect(t?.acceptedIn).toBeGreaterThanOrEqual(TOTAL);
    }
  }, 60_000);

  it('with accepted-digests no everywhere, replicas exchange only LibPaxos3 accepted messages', async () => {
    const { replicas, delivered } = await cluster(() => ['accepted-digests no']);
    await submitAll(replicas[0] as ReplicaHandle, delivered);
    expect(delivered[1]).toEqual(delivered[0]);
    expect(delivered[2]).toEqual(delivered[0]);
    for (const r of replicas) {
      const t = await traffic(r.metricsUrl);
      expect(t.digestsIn + t.digestsOut).toBe(0);
      expect(t.acceptedIn).toBeGreaterThanOrEqual(2 * TOTAL);
    }
  }, 60_000);
});
