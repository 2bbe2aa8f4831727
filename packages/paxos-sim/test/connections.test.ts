import { describe, expect, it } from 'vitest';
import { drawOptions, resultLine, simulate } from '../src/index.js';

describe('connections coming up (evpaxos\'s acceptor-connected input)', () => {
  it('a connection coming up is an input the roles get, at starts, restarts and ends of partitions; off, none is', () => {
    const on = simulate(drawOptions(3, { values: 100, mode: 'replica', acceptors: 3 }));
    expect(on.violations).toEqual([]);
    // Three replicas each reach the other two at the start alone; a restarted one reaches the
    // others and they reach it again (4 more), and ends of partitions add more.
    expect(on.faults.restarts).toBeGreaterThan(0);
    expect(on.faults.partitions).toBeGreaterThan(0);
    expect(on.faults.connections).toBeGreaterThan(6 + 4 * on.faults.restarts);
    // `pnpm sim` prints both counts.
    expect(resultLine(on)).toContain(` restarts=${on.faults.restarts} `);
    expect(resultLine(on)).toContain(` connections=${on.faults.connections} `);
    const off = simulate(drawOptions(3, { values: 100, mode: 'replica', acceptors: 3, connections: false }));
    expect(off.violations).toEqual([]);
    expect(off.faults.connections).toBe(0);
    expect(resultLine(off)).toContain(' connections=0 ');
  }, 60_000);
});
