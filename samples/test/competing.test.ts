import { afterEach, describe, expect, it } from 'vitest';
import { Proc, cleanUp, startListening, tempDir, writeConfig } from './procs.js';

afterEach(cleanUp);

const SECONDS = Number(process.env.COMPETING_SECONDS ?? 20);
const WARMUP = 2;
/** How long each client waits at the end for its values in flight (`--drain`). */
const DRAIN = 15;

interface Summary {
  values: number;
  valuesPerSec: number;
  submitted: number;
  undelivered: number;
  duplicates: number;
}

function summaryOf(c: Proc): Summary {
  return JSON.parse(c.lines.find((l) => l.includes('"summary"')) ?? '{}') as Summary;
}

/** Clients at `-p` each of `targets`, `-o 10`, for SECONDS; their exit codes and summaries. */
async function clients(path: string, targets: number[], extra: string[] = []) {
  const cs = targets.map((p) => new Proc('client', [path, '-p', String(p), '-o', '10', '-v', '64', '--warmup', String(WARMUP), '--duration', String(WARMUP + SECONDS), '--json', ...extra]));
  const codes = await Promise.all(cs.map((c) => c.exit));
  return { cs, codes, summaries: cs.map(summaryOf) };
}

describe('competing clients', () => {
  it(`leadership on: a client at each of 3 replicas, ${SECONDS} s: each gets at least a quarter of the deliveries and none of their values is lost`, async () => {
    const dir = tempDir();
    const path = await startListening(
      3,
      (p) => {
        // As the shipped paxos.conf: leadership on (default lease) and batching.
        const path = writeConfig(dir, `${p.map((port, i) => `replica ${i} 127.0.0.1 ${port}`).join('\n')}\nleader yes\nproposer-batch-max-values 1024\nproposer-batch-max-bytes 256kb\n`);
        return { procs: [0, 1, 2].map((i) => new Proc('replica', [String(i), path])), value: path };
      },
      (p) => /listening on/.test(p.stderr),
    );
    const { cs, codes, summaries } = await clients(path, [0, 1, 2], ['--drain', String(DRAIN)]);
    const why = `${JSON.stringify(summaries)}\n${cs.map((c) => c.stderr.split('\n').filter((l) => !/Connected to|leader|Leader/.test(l)).join('\n')).join('\n')}`;
    // --drain: each client exits 1 when a value it submitted was not delivered in time.
    expect(codes, why).toEqual([0, 0, 0]);
    const total = summaries.reduce((n, s) => n + s.values, 0);
    process.stdout.write(`competing clients, leadership on: ${summaries.map((s, i) => `client at replica ${i} ${s.valuesPerSec} values/s (${((100 * s.values) / total).toFixed(1)} %)`).join(', ')}; duplicates ${summaries.map((s) => s.duplicates).join(' ')}\n`);
    expect(total).toBeGreaterThan(0);
    for (const s of summaries) {
      expect(s.undelivered, why).toBe(0);
      expect(s.submitted, why).toBeGreaterThan(0);
      expect(s.values, why).toBeGreaterThanOrEqual(total / 4);
    }
  }, (WARMUP + SECONDS + DRAIN + 40) * 1000);

  it(`leadership off (LibPaxos3 §4.6 starves one of them): two split proposers with a client each, ${SECONDS} s: each gets at least a quarter`, async () => {
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
    const { codes, summaries } = await clients(path, [0, 1]);
    expect(codes).toEqual([0, 0]);
    const total = summaries.reduce((n, s) => n + s.values, 0);
    process.stdout.write(`competing proposers, leadership off: client 0 ${summaries[0]?.valuesPerSec} values/s, client 1 ${summaries[1]?.valuesPerSec} values/s\n`);
    expect(total).toBeGreaterThan(0);
    for (const s of summaries) expect(s.values, JSON.stringify(summaries)).toBeGreaterThanOrEqual(total / 4);
  }, (WARMUP + SECONDS + 30) * 1000);
});
