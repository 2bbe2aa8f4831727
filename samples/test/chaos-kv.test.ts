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
  checkpoints: { written: number; restored: number; installed: number; installedAfterWipe: number; rejoined: number; trimPoint: number };
  answeredFromSnapshot: number;
  finalStatesAgree: boolean;
  violations: number;
  problems: number;
}

describe('pnpm chaos --workload kv', () => {
  it(`${SECONDS} s of kills, pauses, link faults and a wiped disk on 3 kv-servers with checkpoints, driven by memcached text clients: the history they saw is linearizable`, async () => {
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
    // Checkpoints were written and the acceptors trimmed by them; a killed kv-server restarted from
    // its checkpoint; a wiped one rejoined and came back through a peer's checkpoint (its reads
    // after that are in the history above); and at the end all three hold the same state.
    expect(report.checkpoints.written).toBeGreaterThan(0);
    expect(report.checkpoints.trimPoint).toBeGreaterThan(0);
    expect(report.checkpoints.restored, 'restarts from a checkpoint').toBeGreaterThan(0);
    expect(report.faults.wipe, 'wipes').toBeGreaterThan(0);
    expect(report.checkpoints.rejoined).toBeGreaterThan(0);
    expect(report.checkpoints.installedAfterWipe, "wipes followed by a peer's checkpoint").toBeGreaterThan(0);
    expect(report.answeredFromSnapshot, 'answers from a kv-server whose state came from a snapshot').toBeGreaterThan(0);
    expect(report.finalStatesAgree).toBe(true);
    // Well above the harness's own waits (ready, installs, final reads, agreement, the checker),
    // so that a slow run on a loaded machine ends with its report, not a vitest timeout.
  }, (SECONDS + 400) * 1000);
});
