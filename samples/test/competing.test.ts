import { afterEach, describe, expect, it } from 'vitest';
import { Proc, cleanUp, startListening, tempDir, writeConfig } from './procs.js';

afterEach(cleanUp);

const SECONDS = Number(process.env.COMPETING_SECONDS ?? 30);

describe('competing proposers (LibPaxos3 §4.6 starves one of them)', () => {
  it(`two proposers with a client each both progress: each gets at least a quarter of ${SECONDS} s of deliveries`, async () => {
    const dir = tempDir();
    const path = await startListening(
      5,
      (p) => {
        const path = writeConfig(
          dir,
          `${p
            .slice(0, 3)
            .map((port, i) => `acceptor ${i} 127.0.0.1 ${port}`)
            .join('\n')}\nproposer 0 127.0.0.1 ${p[3]}\nproposer 1 127.0.0.1 ${p[4]}\n`,
        );
        const procs = [0, 1, 2].map((i) => new Proc('acceptor', [String(i), path]));
        procs.push(new Proc('proposer', ['0', path]), new Proc('proposer', ['1', path]));
        return { procs, value: path };
      },
      (p) => /listening on/.test(p.stderr),
    );
    const clients = [0, 1].map((id) => new Proc('client', [path, '-p', String(id), '-o', '10', '-v', '64', '--duration', String(SECONDS), '--json']));
    const codes = await Promise.all(clients.map((c) => c.exit));
    expect(codes).toEqual([0, 0]);
    const summaries = clients.map((c) => JSON.parse(c.lines.find((l) => l.includes('"summary"')) ?? '{}') as { values: number; valuesPerSec: number });
    const total = summaries.reduce((n, s) => n + s.values, 0);
    process.stdout.write(`competing proposers: client 0 ${summaries[0]?.valuesPerSec} values/s, client 1 ${summaries[1]?.valuesPerSec} values/s\n`);
    expect(total).toBeGreaterThan(0);
    for (const s of summaries) expect(s.values, JSON.stringify(summaries)).toBeGreaterThanOrEqual(total / 4);
  }, (SECONDS + 30) * 1000);
});
