import { afterEach, describe, expect, it } from 'vitest';
import { Proc, cleanUp, ports, tempDir } from './procs.js';

afterEach(cleanUp);

const SECONDS = Number(process.env.CHAOS_SECONDS ?? 20);

describe('pnpm chaos', () => {
  it(`${SECONDS} s of kills, pauses, link faults, a wiped data directory and kills in the middle of snapshot transfers on 3 LMDB replicas: every log a segment of one sequence holding every value`, async () => {
    // Its logs (kept when it finds a violation) go to a folder that cleanUp removes.
    const chaos = new Proc('chaos', ['--duration', String(SECONDS), '--seed', '7', '--port-base', String(ports(50)[0])], { TMPDIR: tempDir() });
    const code = await chaos.exit;
    const report = JSON.parse(chaos.lines.find((l) => l.startsWith('{')) ?? '{}') as {
      violations: number;
      valuesDelivered: number;
      faults: Record<string, number>;
      snapshotTransfers: { installed: number; rejoined: number };
      restoredStatesChecked: number;
    };
    expect(code, `${chaos.stdout}\n${chaos.stderr.slice(-2000)}`).toBe(0);
    expect(report.violations).toBe(0);
    expect(report.valuesDelivered).toBeGreaterThan(100);
    expect(Object.values(report.faults).reduce((a, b) => a + b, 0)).toBeGreaterThan(5);
    // A replica lost its data directory, rejoined, and caught up through a snapshot; one was killed
    // in the middle of a transfer; the states restored from checkpoints were checked.
    expect(report.faults['wipe'], chaos.stderr.slice(-3000)).toBeGreaterThanOrEqual(1);
    expect(report.faults['kill-in-transfer'], chaos.stderr.slice(-3000)).toBeGreaterThanOrEqual(1);
    expect(report.snapshotTransfers.rejoined).toBeGreaterThanOrEqual(1);
    expect(report.snapshotTransfers.installed).toBeGreaterThanOrEqual(1);
    expect(report.restoredStatesChecked).toBeGreaterThanOrEqual(1);
  }, (SECONDS + 150) * 1000);
});
