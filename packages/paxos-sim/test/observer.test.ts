import { NOOP, encodeBatch, encodeCheckpointReport, encodeMasterOp } from '@libpaxos/paxos-core';
import { describe, expect, it } from 'vitest';
import { Recorder, Simulation, countsAt, drawOptions, makeValue, simulate, valueLabel, type SimObservation, type SimOverrides } from '../src/index.js';

const RUNS: [number, SimOverrides][] = [
  [17, { values: 300, mode: 'replica' }],
  [2, { values: 300, mode: 'split' }],
  [5, { values: 200 }],
];

describe('a run with an observer', () => {
  it.each(RUNS)('seed %i %o has the same trace hash and outcome as without one', (seed, overrides) => {
    const plain = simulate(drawOptions(seed, overrides));
    const seen: SimObservation[] = [];
    const watched = new Simulation(drawOptions(seed, overrides), (o) => seen.push(o)).run();
    expect(watched).toEqual(plain);
    expect(seen.filter((o) => o.kind === 'crash')).toHaveLength(plain.faults.crashes);
    // Observations arrive in time order: the viewer replays them as they happened.
    for (let i = 1; i < seen.length; i++) expect((seen[i] as SimObservation).time).toBeGreaterThanOrEqual((seen[i - 1] as SimObservation).time);
  }, 60_000);

  it.each(RUNS)('seed %i %o: the recording counts every fault, value and decision the run counted', (seed, overrides) => {
    const options = drawOptions(seed, overrides);
    const recorder = new Recorder(options);
    const r = new Simulation(options, recorder.observe).run();
    const rec = recorder.finish(r.simTimeMs);
    const end = countsAt(rec, rec.endMs);
    expect({ crashes: end.crashes, partitions: end.partitions, dropped: end.dropped, duplicated: end.duplicated }).toEqual({
      crashes: r.faults.crashes,
      partitions: r.faults.partitions,
      dropped: r.faults.dropped,
      duplicated: r.faults.duplicated,
    });
    expect(end.submitted).toBe(r.submitted);
    expect(end.decided).toBe(r.instances);
    expect(rec.nodes).toHaveLength(options.mode === 'replica' ? options.acceptors : options.acceptors + options.proposers + options.learners);
    // Every crashed node came back by the heal; the run's end is after everything recorded.
    expect(rec.restarts).toHaveLength(r.faults.crashes);
    expect(rec.healAt).toBe(options.faultMs);
    expect(rec.endMs).toBe(r.simTimeMs);
    expect(rec.times[rec.times.length - 1]).toBeLessThanOrEqual(rec.endMs);
    // Halfway through, fewer things had happened than at the end.
    const half = countsAt(rec, rec.endMs / 2);
    expect(half.sent).toBeGreaterThan(0);
    expect(half.sent).toBeLessThan(end.sent);
  }, 60_000);

  it('a partition span names the side it cut off', () => {
    const options = drawOptions(17, { values: 300, mode: 'replica' });
    const recorder = new Recorder(options);
    const r = new Simulation(options, recorder.observe).run();
    const rec = recorder.finish(r.simTimeMs);
    expect(rec.partitions.length).toBeGreaterThan(0);
    for (const p of rec.partitions) {
      expect(p.until).toBeGreaterThanOrEqual(p.from);
      expect(p.side.length).toBeGreaterThan(0);
      // Every cut link leaves the side that was cut off, or (two-way) enters it.
      for (const [a, b] of p.links) expect(p.side.includes(a) || (!p.oneWay && p.side.includes(b))).toBe(true);
    }
  }, 60_000);
});

describe('valueLabel', () => {
  it('names client values by client and sequence, no-ops and batches as such', () => {
    expect(valueLabel(makeValue(1, 23, 4), false)).toBe('c1#23');
    expect(valueLabel(NOOP, false)).toBe('no-op');
    expect(valueLabel(NOOP, true)).toBe('no-op');
    expect(valueLabel(new Uint8Array(0), false)).toBe('no-op');
    expect(valueLabel(encodeBatch([makeValue(0, 1, 0), makeValue(1, 2, 3)]), true)).toBe('2 values: c0#1…');
    expect(valueLabel(encodeBatch([makeValue(0, 7, 0)]), true)).toBe('c0#7');
    expect(valueLabel(Uint8Array.of(1, 2, 3), false)).toBe('3 bytes');
    expect(valueLabel(encodeMasterOp({ kind: 'claim', node: 2, leaseMs: 400, version: 9, nonce: 1, openLimit: 40 }), true)).toBe('master operation (claim by 2)');
    expect(valueLabel(encodeCheckpointReport({ node: 1, iid: 50 }), true)).toBe('checkpoint report (node 1 at 50)');
  }, 60_000);
});
