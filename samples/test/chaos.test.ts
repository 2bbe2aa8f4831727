import { afterEach, describe, expect, it } from 'vitest';
import { Proc, cleanUp, ports, tempDir } from './procs.js';

afterEach(cleanUp);

const SECONDS = Number(process.env.CHAOS_SECONDS ?? 20);

interface Report {
  leader: 'on' | 'off';
  violations: number;
  valuesDelivered: number;
  faults: Record<string, number>;
  failoverMs: { count: number; p50: number | null; max: number | null; unmeasured: number } | null;
  snapshotTransfers: { installed: number; rejoined: number };
  restoredStatesChecked: number;
}

async function chaos(seconds: number, extra: string[] = []): Promise<Report> {
  // Its logs (kept when it finds a violation) go to a folder that cleanUp removes.
  const p = new Proc('chaos', ['--duration', String(seconds), '--seed', '7', '--port-base', String(ports(50)[0]), ...extra], { TMPDIR: tempDir() });
  const code = await p.exit;
  expect(code, `${p.stdout}\n${p.stderr.slice(-3000)}`).toBe(0);
  return JSON.parse(p.lines.find((l) => l.startsWith('{')) ?? '{}') as Report;
}

const total = (faults: Record<string, number>) => Object.values(faults).reduce((a, b) => a + b, 0);

describe('pnpm chaos', () => {
  it(`${SECONDS} s of kills, pauses, link faults, a wiped data directory and kills in the middle of snapshot transfers on 3 LMDB replicas with leadership on, the leader itself killed, paused or cut off: every log a segment of one sequence holding every value, and every failover timed`, async () => {
    const report = await chaos(SECONDS);
    expect(report.leader).toBe('on');
    expect(report.violations).toBe(0);
    expect(report.valuesDelivered).toBeGreaterThan(100);
    expect(total(report.faults)).toBeGreaterThan(5);
    const leaderFaults = (report.faults['kill-leader'] ?? 0) + (report.faults['pause-leader'] ?? 0) + (report.faults['cut-leader'] ?? 0);
    expect(leaderFaults).toBeGreaterThan(0);
    // Each leader fault was followed by the delivery of a value submitted after it, or the run healed first.
    expect((report.failoverMs?.count ?? 0) + (report.failoverMs?.unmeasured ?? 0)).toBe(leaderFaults);
    expect(report.failoverMs?.count).toBeGreaterThan(0);
    // A replica lost its data directory, rejoined, and caught up through a snapshot; one was killed
    // in the middle of a transfer; the states restored from checkpoints were checked.
    expect(report.faults['wipe']).toBeGreaterThanOrEqual(1);
    expect(report.faults['kill-in-transfer']).toBeGreaterThanOrEqual(1);
    expect(report.snapshotTransfers.rejoined).toBeGreaterThanOrEqual(1);
    expect(report.snapshotTransfers.installed).toBeGreaterThanOrEqual(1);
    expect(report.restoredStatesChecked).toBeGreaterThanOrEqual(1);
  }, (SECONDS + 150) * 1000);

  it('--leader off: every replica proposes (LibPaxos3), no leader faults, the same checks', async () => {
    const report = await chaos(8, ['--leader', 'off']);
    expect(report.leader).toBe('off');
    expect(report.failoverMs).toBeNull();
    expect(Object.keys(report.faults)).not.toContain('kill-leader');
    expect(report.violations).toBe(0);
    expect(report.valuesDelivered).toBeGreaterThan(100);
    expect(total(report.faults)).toBeGreaterThan(2);
  }, 150_000);
});
