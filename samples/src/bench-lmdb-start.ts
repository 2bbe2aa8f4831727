#!/usr/bin/env node
/**
 * `pnpm bench:lmdb-start`: what an LMDB acceptor's start costs as its log grows, in one process.
 * For each size N it writes an untrimmed store of N records (this build's segmented layout, no
 * sync, commits of 1,000), closes it, and opens it again as an acceptor's start does:
 * - start: `load` with the acceptor's default memory window (4,096 instances, 64 MiB), which reads
 *   the newest records only (storage/lmdb.ts);
 * - older read: the read of the older records' highest ballot that a rejoining peer's first query
 *   starts (`olderMaxBallot`), with the longest loop turns another task saw meanwhile.
 * Prints a table; writes nothing but its temporary stores, removed at the end (also on failure or
 * a signal).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MEMORY_BYTES, DEFAULT_MEMORY_WINDOW, type AcceptorRecord } from '@libpaxos/paxos-core';
import { LmdbStorage } from '@libpaxos/evpaxos';
import { numberFlag, sampleArgs } from './cli.js';

const argv = sampleArgs('pnpm bench:lmdb-start')
  .usage('Usage: $0 [--records N,…] [--value-bytes B] [--dir PATH]\n\nStart time and the read of the older ballots of LMDB stores of N records (default 10000,1000000,5000000).')
  .option('records', {
    type: 'string',
    coerce: (v: unknown) =>
      String(v)
        .split(',')
        .map((x) => numberFlag('records', { integer: true, min: 1, max: 100_000_000 })(x.trim())),
    describe: 'store sizes in records, comma-separated',
  })
  .option('value-bytes', { coerce: numberFlag('value-bytes', { integer: true, min: 0, max: 1 << 20 }), describe: 'bytes of each record’s value (default 64)' })
  .option('dir', { type: 'string', describe: 'where to make the temporary stores (default: the OS temporary folder)' })
  .strictOptions()
  .parseSync();

const sizes: number[] = argv.records ?? [10_000, 1_000_000, 5_000_000];
const valueBytes: number = argv['value-bytes'] ?? 64;
const base = argv.dir ?? tmpdir();
if (!existsSync(base)) {
  process.stderr.write(`--dir ${base}: no such folder; give a folder that exists (the bench makes its stores inside it)\n`);
  process.exit(1);
}
const root = mkdtempSync(join(base, 'paxos-lmdb-start-'));
const cleanup = () => rmSync(root, { recursive: true, force: true });
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    cleanup();
    process.exit(1);
  });
}
const say = (t: string) => process.stderr.write(`[bench:lmdb-start] ${t}\n`);

interface Row {
  readonly records: number;
  readonly writeS: number;
  readonly startMs: number;
  readonly kept: number;
  readonly olderS: number;
  readonly turnP99Ms: number;
  readonly turnMaxMs: number;
}

async function measure(n: number): Promise<Row> {
  const envPath = join(root, `store-${n}`);
  const open = () => new LmdbStorage({ envPath, aid: 0, sync: false, mapSize: 1 << 30, trash: false, warn: say });
  const writer = open();
  writer.load(DEFAULT_MEMORY_WINDOW, DEFAULT_MEMORY_BYTES);
  const value = new Uint8Array(valueBytes).fill(0x61);
  let t = performance.now();
  for (let first = 1; first <= n; first += 1000) {
    const group: AcceptorRecord[] = [];
    // The oldest record has the highest ballot: only a read that reached it answers 12.
    for (let iid = first; iid < first + 1000 && iid <= n; iid++) group.push({ kind: 'record', iid, ballot: iid === 1 ? 12 : 11, valueBallot: 11, value });
    await writer.commit(group);
  }
  const writeS = (performance.now() - t) / 1000;
  await writer.close();
  const store = open();
  try {
    t = performance.now();
    const state = store.load(DEFAULT_MEMORY_WINDOW, DEFAULT_MEMORY_BYTES);
    const startMs = performance.now() - t;
    // The read a rejoining peer's first query starts, and how long another task waits for a turn meanwhile.
    const turns: number[] = [];
    t = performance.now();
    let last = t;
    for (let i = 0; i < 10_000_000 && store.olderMaxBallot() === undefined; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      const now = performance.now();
      turns.push(now - last);
      last = now;
    }
    const olderS = (performance.now() - t) / 1000;
    // Instance 1's ballot, 12, unless it is in the window (then nothing is older): anything else, or
    // no answer, is not a measurement.
    const expected = n > DEFAULT_MEMORY_WINDOW ? 12 : 0;
    const older = store.olderMaxBallot();
    if (older !== expected) throw new Error(`the read of the older ballots of ${n} records gave ${String(older)}, not ${expected}`);
    turns.sort((a, b) => a - b);
    const at = (q: number) => turns[Math.min(turns.length - 1, Math.floor(q * turns.length))] ?? 0;
    return { records: n, writeS, startMs, kept: state.records.length, olderS, turnP99Ms: at(0.99), turnMaxMs: turns.at(-1) ?? 0 };
  } finally {
    await store.close();
    rmSync(`${envPath}_0`, { recursive: true, force: true });
  }
}

try {
  const rows: Row[] = [];
  for (const n of sizes) {
    say(`${n.toLocaleString('en-US')} records of ${valueBytes} bytes…`);
    rows.push(await measure(n));
  }
  // Times without grouping, so that the table reads back as numbers; counts grouped.
  const f = (x: number, d: number) => x.toFixed(d);
  process.stdout.write(
    [
      `LMDB acceptor start, ${valueBytes}-byte values, Node ${process.version}`,
      '',
      '| records | write s | start (load) ms | records kept | older ballots read s | loop turn p99 / max ms |',
      '|---:|---:|---:|---:|---:|---|',
      ...rows.map((r) => `| ${r.records.toLocaleString('en-US')} | ${f(r.writeS, 1)} | ${f(r.startMs, 1)} | ${r.kept.toLocaleString('en-US')} | ${f(r.olderS, 2)} | ${f(r.turnP99Ms, 1)} / ${f(r.turnMaxMs, 1)} |`),
      '',
    ].join('\n'),
  );
} finally {
  cleanup();
}
