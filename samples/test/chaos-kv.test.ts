import { afterEach, describe, expect, it } from 'vitest';
import { Proc, cleanUp, ports, tempDir } from './procs.js';

afterEach(cleanUp);

const SECONDS = Number(process.env.CHAOS_KV_SECONDS ?? 20);

interface Report {
  workload: string;
  leader: 'on' | 'off';
  faultsInjected: number;
  faults: Record<string, number>;
  operationsChecked: number;
  operationsAnswered: number;
  outcomeUnknown: number;
  operations: Record<string, number>;
  checker: { verdict: string; steps: number; ms: number };
  violations: number;
  problems: number;
}

describe('pnpm chaos --workload kv', () => {
  it(`${SECONDS} s of kills, pauses and link faults on 3 kv-servers driven by memcached text clients: the history they saw is linearizable`, async () => {
    // The whole port block: the run takes the ports in it that are free (other processes' connections
    // may hold some).
    const [base] = ports(300) as [number];
    // Its logs (kept when it finds a violation) go to a folder that cleanUp removes.
    const p = new Proc('chaos', ['--workload', 'kv', '--duration', String(SECONDS), '--seed', '5', '--port-base', String(base)], { TMPDIR: tempDir() });
    const code = await p.exit;
    expect(code, `${p.stdout}\n${p.stderr.slice(-3000)}`).toBe(0);
    const report = JSON.parse(p.lines.find((l) => l.startsWith('{')) ?? '{}') as Report;
    expect(report.workload).toBe('kv');
    expect(report.leader).toBe('on');
    expect(report.violations).toBe(0);
    expect(report.problems).toBe(0);
    expect(report.checker.verdict).toBe('ok');
    expect(report.operationsChecked).toBeGreaterThan(0);
    expect(report.operationsAnswered).toBeGreaterThan(100);
    // Every kind of request the workload sends was sent, and faults were injected while it ran.
    for (const op of ['get', 'set', 'cas', 'delete', 'incr']) expect(report.operations[op], op).toBeGreaterThan(0);
    expect(report.faultsInjected).toBeGreaterThan(3);
  }, (SECONDS + 100) * 1000);
});
