import { afterEach, describe, expect, it } from 'vitest';
import { NOOP, encodeBatch, encodeCheckpointReport } from '@libpaxos/paxos-core';
import { PendingProposals, parseConfig, silentLogger, startReplica, type ReplicaHandle } from '../src/index.js';
import { waitFor, withFreePorts } from './ports.js';

const handles: ReplicaHandle[] = [];
afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.close()));
});

const text = (s: string) => new TextEncoder().encode(s);

/** Replica 0 of a cluster of `n` replicas, alone (the others never start when n > 1). */
async function replica0(n: number, extra: string[] = [], onDeliver?: (iid: number, v: Uint8Array, index: number) => void, maxPendingProposals?: number) {
  const r = await withFreePorts(n, async (p) => {
    const config = parseConfig([...p.map((port, i) => `replica ${i} 127.0.0.1 ${port}`), ...extra].join('\n'), 'test.conf');
    return startReplica({ id: 0, config, log: silentLogger, ...(onDeliver ? { onDeliver } : {}), ...(maxPendingProposals ? { maxPendingProposals } : {}) });
  });
  handles.push(r);
  return r;
}

describe('propose()', () => {
  it('resolves with the instance and batch position at which this replica delivers the value', async () => {
    const seen = new Map<string, string>();
    const r = await replica0(1, ['proposer-batch-max-values 16'], (iid, v, index) => seen.set(new TextDecoder().decode(v), `${iid}/${index}`));
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => r.propose(text(`value ${i}`))));
    results.forEach((res, i) => expect(`${res.iid}/${res.index}`).toBe(seen.get(`value ${i}`)));
    // Batching put several of them in one instance.
    expect(results.some((res) => res.index > 0)).toBe(true);
  }, 20_000);

  it('resolves on a replica whose values go to another replica (the first one up, as LibPaxos3 submits)', async () => {
    const delivered: string[][] = [[], [], []];
    const lines: string[] = [];
    const replicas = await withFreePorts(3, async (p) => {
      const config = parseConfig(p.map((port, i) => `replica ${i} 127.0.0.1 ${port}`).join('\n'), 'test.conf');
      const started: ReplicaHandle[] = [];
      for (let id = 0; id < 3; id++) {
        const log = id === 2 ? { ...silentLogger, info: (l: string) => lines.push(l) } : silentLogger;
        const r = await startReplica({ id, config, log, onDeliver: (iid, v, index) => delivered[id]?.push(`${iid}/${index} ${new TextDecoder().decode(v)}`) });
        handles.push(r);
        started.push(r);
      }
      return started;
    });
    const r2 = replicas[2] as ReplicaHandle;
    // Once replica 2 is connected to replica 0, its values go there, not to its own proposer.
    await waitFor(() => lines.some((l) => /Connected to acceptor 0/.test(l)), 5000, 'replica 2 to connect to replica 0');
    const results = await Promise.all(['x', 'y', 'z'].map((v) => r2.propose(text(v))));
    expect(results.map((r) => `${r.iid}/${r.index}`)).toEqual(['x', 'y', 'z'].map((v) => delivered[2]?.find((l) => l.endsWith(` ${v}`))?.split(' ')[0]));
  }, 20_000);

  it('equal values resolve one delivery each, in the order they were proposed', async () => {
    const r = await replica0(1);
    const [a, b] = await Promise.all([r.propose(text('same')), r.propose(text('same'))]);
    expect(a?.iid).toBeLessThan(b?.iid as number);
  }, 20_000);

  it('refuses what it cannot submit, with a reason: empty, too large, after close (submit says false)', async () => {
    const r = await replica0(1, ['max-value-size 1kb']);
    expect(r.submit(new Uint8Array(0))).toBe(false);
    await expect(r.propose(new Uint8Array(0))).rejects.toThrow(/^Cannot propose: the value is reserved \(an empty value, the no-op, a master operation or a checkpoint report\)/);
    await expect(r.propose(NOOP.slice())).rejects.toThrow(/^Cannot propose: the value is reserved/);
    await expect(r.propose(encodeCheckpointReport({ node: 0, iid: 5 }))).rejects.toThrow(/^Cannot propose: the value is reserved/);
    expect(r.submit(new Uint8Array(1025))).toBe(false);
    await expect(r.propose(new Uint8Array(1025))).rejects.toThrow(/the value has 1025 bytes, more than the 1024 that max-value-size allows/);
    expect(await r.propose(new Uint8Array(1024).fill(1))).toMatchObject({ index: 0 });
    await r.close();
    expect(r.submit(text('late'))).toBe(false);
    await expect(r.propose(text('late'))).rejects.toThrow(/Cannot propose: the replica is closed/);
  }, 20_000);

  it('close() rejects the proposals still waiting; beyond the limit a proposal is refused at once', async () => {
    // Replica 0 of 3 alone has no quorum: nothing is ever delivered.
    const r = await replica0(3, [], undefined, 3);
    const outcome = (p: Promise<unknown>) => p.then(() => 'delivered', (e: Error) => e.message);
    const waiting = [r.propose(text('a')), r.propose(text('b')), r.propose(text('c'))].map(outcome);
    await expect(r.propose(text('d'))).rejects.toThrow(/3 proposals are already waiting to be delivered \(the limit\)/);
    await r.close();
    expect(await Promise.all(waiting)).toEqual(Array(3).fill('the process was closed before the value was delivered'));
  }, 20_000);

  it("rejects when the local proposer's queue is full", async () => {
    const r = await replica0(3);
    // Fill the proposer's queue (2^17 values) without waiting for any of them.
    for (let i = 0; i < 1 << 17; i++) expect(r.submit(text(`v${i}`))).toBe(true);
    await expect(r.propose(text('one more'))).rejects.toThrow(/the local proposer's queue is full/);
  }, 30_000);
});

describe('PendingProposals', () => {
  it('a batch given up by the proposer rejects each of its values; unrelated bytes are untouched', async () => {
    const p = new PendingProposals(10);
    const a = p.add(text('a'));
    const b = p.add(text('b'));
    const c = p.add(text('c'));
    p.event({ kind: 'value-lost', reason: 'outcome-unknown', iid: 7, value: encodeBatch([text('a'), text('b')]) });
    await expect(a).rejects.toThrow(/trimmed before this replica learned whether it was chosen/);
    await expect(b).rejects.toThrow(/trimmed/);
    expect(p.size).toBe(1);
    p.delivered(8, 0, text('c'));
    await expect(c).resolves.toEqual({ iid: 8, index: 0 });
    expect(p.size).toBe(0);
  });

  it('is bounded: add() returns nothing at the limit', async () => {
    const p = new PendingProposals(2);
    const added = [p.add(text('x')), p.add(text('x')), p.add(text('x'))];
    expect(added.map((a) => a !== undefined)).toEqual([true, true, false]);
    const outcomes = added.map((a) => a?.catch((e: Error) => e.message));
    p.rejectAll('done');
    expect(p.size).toBe(0);
    expect(await Promise.all(outcomes)).toEqual(['done', 'done', undefined]);
  });
});

describe('an application that throws', () => {
  /**
   * Replica 0 of a 1-replica cluster with batching, its state machine and deliver callback as
   * given, where its fatal error goes (an `onFatal` that returns nothing), what it logged at error
   * level, and its metrics.
   */
  async function single(apply: (v: string) => string, onDeliver?: (v: string) => void) {
    const fatal: Error[] = [];
    const applied: string[] = [];
    const errors: string[] = [];
    const log = { ...silentLogger, error: (t: string) => errors.push(t) };
    const r = await withFreePorts(1, async (p) => {
      const config = parseConfig([`replica 0 127.0.0.1 ${p[0]}`, 'proposer-batch-max-values 16'].join('\n'), 'test.conf');
      return startReplica<string>({
        id: 0,
        config,
        log,
        metrics: { port: 0 },
        stateMachine: {
          apply: (_iid, _index, value) => {
            const v = new TextDecoder().decode(value);
            const result = apply(v);
            applied.push(v);
            return result;
          },
          snapshot: () => new Uint8Array(0),
          restore: () => undefined,
        },
        ...(onDeliver !== undefined ? { onDeliver: (_iid: number, v: Uint8Array) => onDeliver(new TextDecoder().decode(v)) } : {}),
        onFatal: (e) => {
          fatal.push(e);
        },
      });
    });
    handles.push(r as unknown as ReplicaHandle);
    return { r, fatal, applied, errors };
  }

  /** What /healthz says of `r`. */
  async function health(r: { metricsUrl: string | undefined }): Promise<{ reasons: string[]; checks: Record<string, unknown> }> {
    return (await (await fetch(`${r.metricsUrl as string}/healthz`)).json()) as { reasons: string[]; checks: Record<string, unknown> };
  }

  it("a state machine's apply that throws stops the replica with a sentence, and nothing after that value is applied", async () => {
    const { r, fatal, applied, errors } = await single((v) => {
      if (v === 'boom') throw new Error('cannot apply boom');
      return v.toUpperCase();
    });
    expect((await r.propose(text('first'))).result).toBe('FIRST');
    // One batch: the value after the failing one must not reach the state machine.
    void r.propose(text('boom')).catch(() => undefined);
    void r.propose(text('after')).catch(() => undefined);
    await waitFor(() => fatal.length > 0, 5000, 'the fatal error');
    expect(fatal[0]?.message).toMatch(/^the state machine's apply\(\) threw for instance \d+ position 0: cannot apply boom; a replica whose state machine fails cannot stay consistent/);
    await new Promise((res) => setTimeout(res, 100));
    expect(applied).toEqual(['first']);
    // The application's onFatal decides: the library neither logs a stop nor closes the process.
    expect(errors.filter((l) => l.endsWith('; stopping'))).toEqual([]);
    // Health names the error; the storage did not fail.
    const h = await health(r);
    expect(h.reasons).toEqual([expect.stringMatching(/^the process stopped on an error: the state machine's apply\(\) threw for instance \d+ position 0: cannot apply boom/)]);
    expect(h.checks.storageOpen).toBe(true);
    // The role stopped all the same (its state machine is gone): it takes no more values.
    await expect(r.propose(text('later'))).rejects.toThrow(/the replica is closed/);
  }, 20_000);

  it('a deliver callback that throws stops the replica with a sentence naming the instance (no unhandled rejection)', async () => {
    const { r, fatal } = await single(
      (v) => v,
      (v) => {
        if (v === 'boom') throw new Error('callback failed');
      },
    );
    await r.propose(text('fine'));
    void r.propose(text('boom')).catch(() => undefined);
    await waitFor(() => fatal.length > 0, 5000, 'the fatal error');
    expect(fatal[0]?.message).toMatch(/^the application's deliver callback threw at instance \d+: callback failed; nothing after it is delivered$/);
    // Health names the error; the storage did not fail (it used to say 'acceptor storage failed').
    const h = await health(r);
    expect(h.reasons).toEqual([expect.stringMatching(/^the process stopped on an error: the application's deliver callback threw at instance \d+: callback failed/)]);
    expect(h.checks.storageOpen).toBe(true);
  }, 20_000);
});
