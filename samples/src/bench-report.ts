/**
 * What `pnpm bench` writes from a run: the table, bench/RESULTS.md and bench/chart.svg. Pure
 * functions of a run's JSON, so a committed run can be drawn again (`pnpm bench --report`).
 */

export const MODES = ['replica', 'split'] as const;
export const SIZES = [64, 1024, 8192] as const;
export const OUTSTANDING = [1, 10, 100] as const;
export const STORAGES = ['memory', 'lmdb', 'lmdb-sync'] as const;
export const BATCHING = ['off', 'on'] as const;
export type Mode = (typeof MODES)[number];
export type Storage = (typeof STORAGES)[number];
export type Batching = (typeof BATCHING)[number];

export interface Setup {
  mode: Mode;
  size: number;
  outstanding: number;
  storage: Storage;
  batching: Batching;
  /** Mutual TLS on every connection (absent in runs from before it existed: off). */
  tls?: 'off' | 'on';
}

export interface ProcStats {
  role: string;
  cpuPercent: number;
  peakRssMiB: number;
}

export interface Result extends Setup {
  /** The round of the run this row belongs to (`--rounds`), from 1; absent: 1. */
  round?: number;
  /** The machine's 1-minute load average when the configuration started and when it ended. */
  load?: [number, number];
  perSecond: number[];
  valuesPerSec: { median: number; min: number; max: number };
  mbps: number;
  latencyUs: { p50: number; p99: number; max: number };
  processes: ProcStats[];
  error?: string;
}

/**
 * The leadership rows: 3 replicas (64 B values, memory storage), leadership off or on, one client
 * at replica 0 or one client at each replica (competing clients), at `-o` 10 and 100.
 */
export const LEADERSHIP_OUTSTANDING = [10, 100] as const;
/** Leadership off and on, one client and three: the rows per -o and batching setting. */
export const LEADERSHIP_CASES = [
  ['off', 1],
  ['on', 1],
  ['on', 3],
  ['off', 3],
] as const;
/** All the leadership rows: a full run has every one of them. */
export const LEADERSHIP_GRID_SIZE = LEADERSHIP_OUTSTANDING.length * BATCHING.length * LEADERSHIP_CASES.length;

export interface LeadershipSetup {
  outstanding: number;
  batching: 'off' | 'on';
  leader: 'off' | 'on';
  /** 1: a client at replica 0; 3: a client at each replica. */
  clients: number;
}

export interface ClientFigure {
  /** The replica it submits to (`-p`). */
  replica: number;
  /** Its own values delivered per second over the measured window (its summary). */
  valuesPerSec: number;
  latencyUs: { p50: number; p99: number; max: number };
}

export interface LeadershipResult extends LeadershipSetup {
  /** The round of the run this row belongs to (`--rounds`), from 1; absent: 1. */
  round?: number;
  /** Sum of the clients' values/s. */
  valuesPerSec: number;
  perClient: ClientFigure[];
  error?: string;
}

/**
 * A row measured with other programs in the same run: the skeleton (our message pattern without
 * Paxos, `skeleton.ts`) for a mode, value size, -o and batching setting, or C LibPaxos3
 * (`--libpaxos3`) for a mode, value size, -o and storage mode. Compared with our rows of the same
 * configuration.
 */
export interface PeerResult {
  mode: Mode;
  size: number;
  outstanding: number;
  /** C LibPaxos3 only: its storage (it has no batching). */
  storage?: Storage;
  /**
   * The skeleton only: whether its proposer bound a turn's client values into one instance.
   * Absent for C LibPaxos3, and in runs made before the skeleton could batch (whose skeleton did
   * not, and was compared with both of our settings).
   */
  batching?: Batching;
  round?: number;
  load?: [number, number];
  valuesPerSec: { median: number; min: number; max: number };
  latencyUs: { p50: number; p99: number; max: number };
  processes: ProcStats[];
  error?: string;
}

export interface Run {
  date: string;
  machine: { cores: number; cpu: string; memoryGiB: number; node: string; platform: string };
  /** 1-minute load average when the run started and when it ended (the machine may be shared). */
  load?: { start: number; end: number };
  warmupSeconds: number;
  measuredSeconds: number;
  quick: boolean;
  /** Every server served /metrics (`--metrics`). */
  metrics?: boolean;
  /** paxos.conf lines added to every cluster (`--conf`). */
  conf?: readonly string[];
  results: Result[];
  /** Competing clients and leadership on/off (absent in runs made before it existed). */
  leadership?: LeadershipResult[];
  /** The skeleton of each mode, value size, -o and batching setting (absent in runs made before it existed). */
  skeleton?: PeerResult[];
  /** C LibPaxos3 run beside ours (`--libpaxos3`), per mode, value size, -o and storage. */
  libpaxos3?: PeerResult[];
}

/** CPU time all processes of a row spent per value delivered, in µs (CPU % is per process, 100 = one core). */
/** Latency cells; 0 means the client did not measure it (the skeleton's and C's clients give no p99). */
const latency = (l: { p50: number; p99: number; max: number }) => [l.p50, l.p99, l.max].map((v) => (v > 0 ? String(v) : '—')).join(' / ');

export function cpuUsPerValue(r: { valuesPerSec: { median: number }; processes: ProcStats[] }): number {
  const cpu = r.processes.reduce((n, p) => n + p.cpuPercent, 0) / 100;
  return r.valuesPerSec.median > 0 ? Math.round((cpu * 1e6) / r.valuesPerSec.median) : 0;
}

/** The peer row of the same configuration and round (the skeleton ignores storage, C LibPaxos3 batching). */
export function peerOf(r: Result, peers: readonly PeerResult[] | undefined): PeerResult | undefined {
  return peers?.find(
    (p) =>
      p.mode === r.mode &&
      p.size === r.size &&
      p.outstanding === r.outstanding &&
      (p.storage === undefined || p.storage === r.storage) &&
      (p.batching === undefined || p.batching === r.batching) &&
      (p.round ?? 1) === (r.round ?? 1),
  );
}

const ratio = (ours: number, theirs: PeerResult | undefined) =>
  theirs === undefined || theirs.error !== undefined || theirs.valuesPerSec.median === 0 ? '—' : `${(ours / theirs.valuesPerSec.median).toFixed(2)}×`;

/** The whole grid, TLS off: a run of all of it is a full run (the one RESULTS.md shows). */
export const FULL_GRID_SIZE = MODES.length * SIZES.length * OUTSTANDING.length * STORAGES.length * BATCHING.length;

/**
 * Configurations that a full run also measures with TLS on, each right after its TLS-off twin so
 * that both see the same machine: 64 B and 1 KiB, -o 100, batching on, memory storage.
 */
export function hasTlsTwin(s: Setup): boolean {
  return (s.size === 64 || s.size === 1024) && s.outstanding === 100 && s.storage === 'memory' && s.batching === 'on';
}

/** Rows of the standard grid (TLS off). */
export function standardRows<T extends Setup>(results: readonly T[]): T[] {
  return results.filter((r) => r.tls !== 'on');
}

/** Whether a run covers the whole standard grid (whatever TLS rows it has besides). */
export function isFullRun(run: Run): boolean {
  return !run.quick && standardRows(run.results).length === FULL_GRID_SIZE;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

export function table(results: readonly Result[], peers: { skeleton?: readonly PeerResult[]; libpaxos3?: readonly PeerResult[] } = {}): string {
  const c = peers.libpaxos3 !== undefined && peers.libpaxos3.length > 0;
  const head = `| mode | value | -o | storage | batching | TLS | values/s median (min–max) | of the skeleton |${c ? ' vs C LibPaxos3 |' : ''} Mbps | latency p50 / p99 / max µs | CPU µs per value (CPU % each process) | peak RSS MiB |\n|---|---|---|---|---|---|---|---|${c ? '---|' : ''}---|---|---|---|`;
  const rows = results.map(
    (r) =>
      `| ${r.mode} | ${r.size} B | ${r.outstanding} | ${r.storage} | ${r.batching} | ${r.tls ?? 'off'} | ${r.error ? `failed: ${r.error}` : `${fmt(r.valuesPerSec.median)} (${fmt(r.valuesPerSec.min)}–${fmt(r.valuesPerSec.max)})`} | ${ratio(r.valuesPerSec.median, peerOf(r, peers.skeleton))} |${c ? ` ${ratio(r.valuesPerSec.median, peerOf(r, peers.libpaxos3))} |` : ''} ${r.mbps} | ${latency(r.latencyUs)} | ${cpuUsPerValue(r)} (${r.processes.map((p) => p.cpuPercent).join(' ')}) | ${Math.max(0, ...r.processes.map((p) => p.peakRssMiB))} |`,
  );
  return `${head}\n${rows.join('\n')}`;
}

/**
 * With several rounds (`--rounds`): per configuration, ours against the skeleton and C LibPaxos3
 * over the rounds in which both ran. The machine's speed drifts within minutes, so one pair says
 * little; the ratio of the sums over interleaved rounds is the figure to quote, with each
 * round's own ratio beside it. Empty when no configuration has more than one round.
 */
export function roundsTable(results: readonly Result[], peers: { skeleton?: readonly PeerResult[]; libpaxos3?: readonly PeerResult[] } = {}): string {
  const groups = new Map<string, Result[]>();
  for (const r of results) {
    const key = `${r.mode} ${r.size} ${r.outstanding} ${r.storage} ${r.batching} ${r.tls ?? 'off'}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  if (![...groups.values()].some((g) => g.length > 1)) return '';
  const c = peers.libpaxos3 !== undefined && peers.libpaxos3.length > 0;
  const over = (rows: readonly Result[], of: readonly PeerResult[] | undefined) => {
    // Per round: the pair, or undefined when either side failed (shown as — in its place).
    const each = rows.map((r) => {
      const p = peerOf(r, of);
      return r.error === undefined && p !== undefined && p.error === undefined && p.valuesPerSec.median > 0 ? ([r.valuesPerSec.median, p.valuesPerSec.median] as const) : undefined;
    });
    const pairs = each.filter((p) => p !== undefined);
    if (pairs.length === 0) return '—';
    const sum = (i: 0 | 1) => pairs.reduce((n, pair) => n + pair[i], 0);
    return `${(sum(0) / sum(1)).toFixed(2)}× (${each.map((p) => (p === undefined ? '—' : (p[0] / p[1]).toFixed(2))).join(', ')})`;
  };
  const head = `| mode | value | -o | storage | batching | TLS | rounds | values/s each round | of the skeleton: sums (each round) |${c ? ' vs C LibPaxos3: sums (each round) |' : ''}\n|---|---|---|---|---|---|---|---|---|${c ? '---|' : ''}`;
  const body = [...groups.values()].map((rows) => {
    const r = rows[0] as Result;
    return `| ${r.mode} | ${r.size} B | ${r.outstanding} | ${r.storage} | ${r.batching} | ${r.tls ?? 'off'} | ${rows.length} | ${rows.map((x) => (x.error !== undefined ? 'failed' : fmt(x.valuesPerSec.median))).join(', ')} | ${over(rows, peers.skeleton)} |${c ? ` ${over(rows, peers.libpaxos3)} |` : ''}`;
  });
  return `${head}\n${body.join('\n')}`;
}

/** The skeleton's and C LibPaxos3's own rows. */
export function peerTable(what: string, rows: readonly PeerResult[]): string {
  // Batching is the skeleton's (C LibPaxos3 has none, and older runs' skeletons never batched).
  const b = rows.some((p) => p.batching !== undefined);
  const head = `| ${what} | mode | value | -o | storage |${b ? ' batching |' : ''} values/s median (min–max) | latency p50 / p99 / max µs | CPU µs per value (CPU % each process) |\n|---|---|---|---|---|${b ? '---|' : ''}---|---|---|`;
  const body = rows.map(
    (p) =>
      `| ${what} | ${p.mode} | ${p.size} B | ${p.outstanding} | ${p.storage ?? '—'} |${b ? ` ${p.batching ?? '—'} |` : ''} ${p.error ? `failed: ${p.error}` : `${fmt(p.valuesPerSec.median)} (${fmt(p.valuesPerSec.min)}–${fmt(p.valuesPerSec.max)})`} | ${latency(p.latencyUs)} | ${cpuUsPerValue(p)} (${p.processes.map((x) => x.cpuPercent).join(' ')}) |`,
  );
  return `${head}\n${body.join('\n')}`;
}

/** What `pnpm bench:checkpoints` measured (bench/results/checkpoints/<timestamp>.json). */
export interface CheckpointBench {
  date: string;
  quick: boolean;
  machine: { cores: number; cpu: string; memoryGiB: number; node: string };
  /** The 1-minute load average seen over the run (the machine is shared: read the figures with it). */
  loadAverage: { min: number; max: number };
  restarts: {
    values: number;
    checkpoints: boolean;
    loadSeconds: number;
    markerIid: number;
    checkpointIid: number;
    restoreMs: number;
    caughtUpSeconds: number;
  }[];
  transfers: {
    bytes: number;
    transferSeconds: number;
    installSeconds: number;
    transferMBps: number;
    endToEndMBps: number;
    receiverPeakRssMiB: number;
    senderPeakRssMiB: number;
  }[];
}

/** The checkpoints section of RESULTS.md. */
export function checkpointsMarkdown(c: CheckpointBench, file: string): string {
  const restarts = c.restarts.map(
    (r) =>
      `| ${fmt(r.values)} | ${r.checkpoints ? 'yes' : 'no (LibPaxos3: learns the whole log again)'} | ${r.caughtUpSeconds} s | ${r.checkpoints ? `${fmt(r.checkpointIid)} (restored in ${r.restoreMs} ms)` : '—'} | ${fmt(r.markerIid - r.checkpointIid)} |`,
  );
  const transfers = c.transfers.map(
    (t) => `| ${Math.round(t.bytes / 1048576)} MiB | ${t.transferMBps} MB/s (${t.transferSeconds} s) | ${t.endToEndMBps} MB/s (${t.installSeconds} s) | ${t.senderPeakRssMiB} MiB | ${t.receiverPeakRssMiB} MiB |`,
  );
  return `## Checkpoints: restart and snapshot transfer

Generated by \`pnpm bench:checkpoints\` from \`bench/results/checkpoints/${file}\` (${c.date}; machine: ${c.machine.cores} cores, ${c.machine.cpu}, Node ${c.machine.node}; load average ${c.loadAverage.min}–${c.loadAverage.max} during the run, on a machine shared with other work).

**Restart to caught up.** 3 replicas of the counter sample (LMDB without sync, batching, checkpoints every 50,000 instances or 5 s, acceptors trimmed by the lowest checkpoint, hold 2,000), loaded by the client (\`-o 100 -v 64\`) until the number of values below was delivered; replica 2 is killed (SIGKILL), a marker value is decided without it, and replica 2 is started again. Time from its start until it delivers the marker: it restores its newest checkpoint and learns only the instances after it.

| values delivered before the restart | checkpoints | restart to caught up | checkpoint restored (instance) | instances learned from the log |
|---|---|---|---|---|
${restarts.join('\n')}

**Snapshot transfer.** 2 replicas whose state is the size below (a stream, never in memory whole) write checkpoints and trim the acceptors; a new replica starts behind the trim and fetches a checkpoint in 1 MiB chunks, 4 in flight, from one of them. Rate on the wire: from the transfer's start to its last byte written; installed: until its SHA-256 was checked and the state restored from it. Peak RSS of the sending process (it also wrote its own checkpoint of that size) and of the receiving one (the benchmark process, in which the new replica runs, after the restart runs above): neither grows with the size of the state.

| state | rate on the wire | rate installed | sender peak RSS | receiver peak RSS |
|---|---|---|---|---|
${transfers.join('\n')}
`;
}

const same = (a: Setup, b: Setup) => a.mode === b.mode && a.size === b.size && a.outstanding === b.outstanding && a.storage === b.storage && a.batching === b.batching;

/** A TLS-on row and the TLS-off row of the same configuration and round. */
export interface TlsPair {
  readonly off: Result;
  readonly on: Result;
}

/** Every TLS-on row with its TLS-off twin of the same round. */
export function tlsPairs(results: readonly Result[]): TlsPair[] {
  const pairs: TlsPair[] = [];
  for (const on of results) {
    if (on.tls !== 'on' || on.error !== undefined) continue;
    const off = results.find((r) => r.tls !== 'on' && r.error === undefined && (r.round ?? 1) === (on.round ?? 1) && same(r, on));
    if (off !== undefined) pairs.push({ off, on });
  }
  return pairs;
}

const pct = (on: number, off: number) => (off > 0 ? `${on >= off ? '+' : '−'}${Math.abs(((on - off) / off) * 100).toFixed(0)} %` : 'n/a');
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s.length % 2 === 1 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

/** The cost of TLS: each pair side by side, then per configuration the median change over its rounds. */
export function tlsTable(results: readonly Result[]): string {
  const pairs = tlsPairs(results);
  if (pairs.length === 0) return '';
  const load = (r: Result) => (r.load !== undefined ? `${r.load[0].toFixed(1)}→${r.load[1].toFixed(1)}` : '?');
  const rows = pairs.map(
    ({ off, on }) =>
      `| ${off.mode} | ${off.size} B | ${off.round ?? 1} | ${fmt(off.valuesPerSec.median)} | ${fmt(on.valuesPerSec.median)} | ${pct(on.valuesPerSec.median, off.valuesPerSec.median)} | ${off.latencyUs.p50} / ${on.latencyUs.p50} | ${off.latencyUs.p99} / ${on.latencyUs.p99} | ${off.processes.map((p) => p.cpuPercent).join(' ')} / ${on.processes.map((p) => p.cpuPercent).join(' ')} | ${load(off)} / ${load(on)} |`,
  );
  const keys = [...new Set(pairs.map((p) => `${p.off.mode} ${p.off.size}`))];
  const summary = keys.map((k) => {
    const ps = pairs.filter((p) => `${p.off.mode} ${p.off.size}` === k);
    const ratios = ps.map((p) => p.on.valuesPerSec.median / Math.max(1, p.off.valuesPerSec.median));
    const p50 = ps.map((p) => p.on.latencyUs.p50 / Math.max(1, p.off.latencyUs.p50));
    return `| ${k.replace(' ', ' | ')} B | ${ps.length} | ${pct(median(ratios), 1)} | ${pct(median(p50), 1)} |`;
  });
  return [
    '| mode | value | round | values/s TLS off | values/s TLS on | change | p50 µs off / on | p99 µs off / on | CPU % off / on | load avg off / on |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    '| mode | value | pairs | values/s with TLS (median change) | p50 latency with TLS (median change) |',
    '|---|---|---|---|---|',
    ...summary,
  ].join('\n');
}

/** A fraction as a whole percentage (a share, or a ratio to one client's figure). */
const share = (x: number) => `${Math.round(100 * x)} %`;

/**
 * The leadership rows, grouped by -o and batching, each next to one client's figure measured in
 * the same run: the competing clients' total as a fraction of one client at the leader's replica
 * with leadership on (the issue's target: ≥ 90 %, and each client's share ≥ 25 %), and the
 * single-client figure with leadership on against off. With rows of more than one round
 * (`--rounds`), a round column comes first and each row compares with one client of its round.
 */
export function leadershipTable(results: readonly LeadershipResult[]): string {
  const rounds = results.some((r) => (r.round ?? 1) > 1);
  const head =
    (rounds ? '| round ' : '') +
    '| -o | batching | leadership | clients | values/s (sum) | each client: values/s (share) | ÷ one client, leadership on | ÷ one client, leadership off | latency p50 / p99 µs (worst client) |\n' +
    (rounds ? '|---' : '') +
    '|---|---|---|---|---|---|---|---|---|';
  const one = (r: LeadershipResult, leader: 'off' | 'on') =>
    results.find(
      (x) => (x.round ?? 1) === (r.round ?? 1) && x.outstanding === r.outstanding && x.batching === r.batching && x.leader === leader && x.clients === 1 && x.error === undefined,
    );
  const ratio = (r: LeadershipResult, leader: 'off' | 'on') => {
    const base = one(r, leader);
    return base === undefined || base.valuesPerSec === 0 || r.error !== undefined ? '–' : share(r.valuesPerSec / base.valuesPerSec);
  };
  const rows = results.map((r) => {
    const each = r.perClient.map((c) => `${fmt(c.valuesPerSec)} (${r.valuesPerSec > 0 ? share(c.valuesPerSec / r.valuesPerSec) : '–'})`).join(', ');
    const p50 = Math.max(0, ...r.perClient.map((c) => c.latencyUs.p50));
    const p99 = Math.max(0, ...r.perClient.map((c) => c.latencyUs.p99));
    return `${rounds ? `| ${r.round ?? 1} ` : ''}| ${r.outstanding} | ${r.batching} | ${r.leader} | ${r.clients === 1 ? '1 (at replica 0)' : `${r.clients} (one per replica)`} | ${r.error ? `failed: ${r.error}` : fmt(r.valuesPerSec)} | ${r.clients > 1 && each !== '' ? each : '–'} | ${ratio(r, 'on')} | ${ratio(r, 'off')} | ${p50} / ${p99} |`;
  });
  return `${head}\n${rows.join('\n')}`;
}

export function resultsMarkdown(run: Run, file: string, checkpoints?: { readonly bench: CheckpointBench; readonly file: string }): string {
  return `# Benchmark results

Generated by \`pnpm bench\` from \`bench/results/${file}\` (the full run of ${run.date}; \`pnpm bench --report\` draws it again). Setup: real processes on 127.0.0.1 — 3 replicas, or 3 acceptors + 1 proposer (split) — driven by the sample client; ${run.warmupSeconds} s warm-up, then ${run.measuredSeconds} s measured. Counting is LibPaxos3's: the client's own values delivered to its learner, each once, per second; value size is the client's \`-v\` (each value carries a 32-byte header more). Batching on: \`proposer-batch-max-values 1024\`, \`proposer-batch-max-bytes 1mb\`. lmdb: \`lmdb-sync no\`; lmdb-sync: \`lmdb-sync yes\`. Latency is per client value, from its submission to its delivery to the client's learner. CPU % is per process over the measured window (replicas or acceptors, proposer, then the client); a 2-core machine has 200 % in all.

Machine: ${run.machine.cores} cores (${run.machine.cpu}), ${run.machine.memoryGiB} GiB, Node ${run.machine.node}, ${run.machine.platform}.

![values/s and latency per configuration](chart.svg)

${table(run.results, { ...(run.skeleton ? { skeleton: run.skeleton } : {}), ...(run.libpaxos3 ? { libpaxos3: run.libpaxos3 } : {}) })}
${
  run.skeleton !== undefined && run.skeleton.length > 0
    ? `
## The skeleton: the ceiling of this pattern in Node

${
        run.skeleton.some((p) => p.batching === undefined)
          ? `"of the skeleton" above divides each row by the skeleton of its mode, value size and -o, measured in
the same run (\`pnpm bench:skeleton\`, \`samples/src/skeleton.ts\`): the same processes, connections,
messages, sizes and fan-out — client → proposer → 3 acceptors (a prepare ahead and an accept per
value) → accepted to every learner — with no Paxos at all; each process only decodes, forwards and
counts, with our codec and our one-write-per-peer-per-turn batching. What a row spends beyond it
is the cost of Paxos (state, ballots, votes, storage, the pump). This run was made before the
skeleton could batch: both of our batching settings are divided by a skeleton that sent one
instance per value.`
          : `"of the skeleton" above divides each row by the skeleton of its mode, value size, -o and batching
setting, measured in the same run (\`pnpm bench:skeleton\`, \`samples/src/skeleton.ts\`): the same
processes, connections, messages, sizes and fan-out — client → proposer → 3 acceptors (a prepare
ahead and an accept per instance) → accepted to every learner — with no Paxos at all; each process
only decodes, forwards and counts, with our codec and our one-write-per-peer-per-turn batching.
With batching, its proposer binds client values into batches in one instance each, and its client
unpacks them (the policy is in \`samples/src/skeleton.ts\`). What a row spends beyond it is the
cost of Paxos (state, ballots, votes, storage, the pump).`
      }

${peerTable('skeleton', run.skeleton)}
`
    : ''
}${
  run.libpaxos3 !== undefined && run.libpaxos3.length > 0
    ? `
## C LibPaxos3, side by side

C LibPaxos3's sample programs (\`--libpaxos3 <dir>\`; commit d255f8b, built outside this repository)
ran each configuration right after ours, with the same harness and counting (its own \`client\`,
per-second lines, median after the warm-up). It has no batching: "vs C LibPaxos3" compares both
of our batching settings with it.

${peerTable('C LibPaxos3', run.libpaxos3)}
`
    : ''
}${
  tlsPairs(run.results).length > 0
    ? `
## The cost of TLS

Each configuration below ran with mutual TLS (\`tls-ca\`, \`tls-cert\`, \`tls-key\`) right after the same configuration without it, so both saw the same machine.

${tlsTable(run.results)}
`
    : ''
}${
  run.leadership !== undefined && run.leadership.length > 0
    ? `
## Leadership and competing clients

3 replicas, 64 B values, memory storage, no TLS; a client at replica 0 alone, or a client at each of the 3
replicas at once (competing clients), with leadership off (every replica proposes, as in
LibPaxos3) and on (\`leader yes\`, default lease: followers forward to the leader). Values/s are
each client's own values delivered per second over the measured window, summed over the clients;
the ratios compare with one client at replica 0 in the same run.${run.load !== undefined ? ` Load average (1 min) ${run.load.start.toFixed(1)} at the start of the run, ${run.load.end.toFixed(1)} at the end.` : ''}

${leadershipTable(run.leadership)}
`
    : ''
}${checkpoints !== undefined ? `\n${checkpointsMarkdown(checkpoints.bench, checkpoints.file)}` : ''}`;
}

// ---- the chart ----

const COLORS: Record<Storage, string> = { memory: '#1f77b4', lmdb: '#e6820e', 'lmdb-sync': '#c0392b' };
const PANEL_W = 230;
const PANEL_H = 160;
const GUTTER_L = 52;
const GUTTER_B = 34;
const ROW_LABEL_W = 64;
const TOP = 92;

/** Round ticks on a log axis: 1, 2 and 5 times each power of ten within [lo, hi]. */
export function logTicks(lo: number, hi: number): { value: number; major: boolean }[] {
  const out: { value: number; major: boolean }[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const value = m * 10 ** e;
      if (value >= lo * 0.999 && value <= hi * 1.001) out.push({ value, major: m === 1 });
    }
  }
  return out;
}

/** The decades around every value: [10^floor(log10 min), 10^ceil(log10 max)]. */
function decades(values: number[]): [number, number] {
  const pos = values.filter((v) => v > 0);
  if (pos.length === 0) return [1, 10];
  const lo = 10 ** Math.floor(Math.log10(Math.min(...pos)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...pos)));
  return [lo, hi > lo ? hi : lo * 10];
}

const count = (v: number) => (v >= 1e6 ? `${v / 1e6}M` : v >= 1e3 ? `${v / 1e3}k` : String(v));
const micros = (v: number) => (v >= 1e6 ? `${v / 1e6} s` : v >= 1e3 ? `${v / 1e3} ms` : `${v} µs`);
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/**
 * Small multiples: a row per value size; per row, values/s against -o for replica and split mode,
 * then latency (p50 dot, bar to p99) for both modes. Every panel of a kind shares one log axis
 * with round ticks, so panels compare at a glance; colour is the storage mode, solid lines and
 * filled dots are batching on, dashed lines and open dots batching off.
 */
export function chartSvg(run: Run): string {
  // TLS rows are in their own table (RESULTS.md), not in the grid drawn here.
  const ok = standardRows(run.results).filter((r) => r.error === undefined && r.valuesPerSec.median > 0);
  const [tLo, tHi] = decades(ok.map((r) => r.valuesPerSec.median));
  const [lLo, lHi] = decades(ok.flatMap((r) => [r.latencyUs.p50, r.latencyUs.p99]));
  const panelX = (col: number) => ROW_LABEL_W + col * (GUTTER_L + PANEL_W + 16) + GUTTER_L;
  const panelY = (row: number) => TOP + row * (PANEL_H + GUTTER_B + 14);
  const W = panelX(4) + 10;
  const legendY = panelY(SIZES.length) + 6;
  const H = legendY + 44;
  const yLog = (lo: number, hi: number, v: number) => PANEL_H - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * PANEL_H;
  const xCat = (o: number) => ((OUTSTANDING.indexOf(o as (typeof OUTSTANDING)[number]) + 0.5) / OUTSTANDING.length) * PANEL_W;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Verdana, sans-serif" font-size="11">`);
  parts.push(`<rect width="100%" height="100%" fill="white"/>`);
  parts.push(
    `<text x="${ROW_LABEL_W}" y="22" font-size="15" font-weight="bold">pnpm bench: values/s and latency per configuration</text>`,
    `<text x="${ROW_LABEL_W}" y="40" fill="#444">${esc(`Run of ${run.date.slice(0, 16).replace('T', ' ')} UTC on ${run.machine.cores} cores (${run.machine.cpu}), Node ${run.machine.node}; ${run.measuredSeconds} s measured per configuration. Log scales.`)}</text>`,
    `<text x="${ROW_LABEL_W}" y="56" fill="#444">values/s: median of the per-second counts of the client's own delivered values. Latency: submit to delivery, p50 (dot) to p99 (end of bar).</text>`,
  );
  const heads = ['replica mode: values/s', 'split mode: values/s', 'replica mode: latency', 'split mode: latency'];
  heads.forEach((h, col) => parts.push(`<text x="${panelX(col) + PANEL_W / 2}" y="${TOP - 10}" text-anchor="middle" font-weight="bold">${h}</text>`));
  SIZES.forEach((size, row) => {
    const y0 = panelY(row);
    parts.push(`<text x="8" y="${y0 + PANEL_H / 2 - 7}" fill="#444">value size</text>`);
    parts.push(`<text x="8" y="${y0 + PANEL_H / 2 + 9}" font-weight="bold">${size >= 1024 ? `${size / 1024} KiB` : `${size} B`}</text>`);
    for (let col = 0; col < 4; col++) {
      const x0 = panelX(col);
      const mode = MODES[col % 2] as Mode;
      const latency = col >= 2;
      const [lo, hi] = latency ? [lLo, lHi] : [tLo, tHi];
      const g: string[] = [`<g transform="translate(${x0},${y0})">`];
      g.push(`<rect width="${PANEL_W}" height="${PANEL_H}" fill="#fafafa" stroke="#999"/>`);
      const ticks = logTicks(lo, hi);
      const pxPerDecade = PANEL_H / (Math.log10(hi) - Math.log10(lo));
      for (const t of ticks) {
        const y = yLog(lo, hi, t.value);
        g.push(`<line x1="0" x2="${PANEL_W}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="${t.major ? '#ccc' : '#eee'}"/>`);
        if (t.major || pxPerDecade >= 60) g.push(`<text x="-5" y="${(y + 4).toFixed(1)}" text-anchor="end" fill="${t.major ? '#000' : '#666'}">${latency ? micros(t.value) : count(t.value)}</text>`);
      }
      for (const o of OUTSTANDING) g.push(`<text x="${xCat(o)}" y="${PANEL_H + 15}" text-anchor="middle">-o ${o}</text>`);
      const rs = ok.filter((r) => r.mode === mode && r.size === size);
      STORAGES.forEach((storage, si) => {
        for (const batching of BATCHING) {
          const series = rs.filter((r) => r.storage === storage && r.batching === batching).sort((a, b) => a.outstanding - b.outstanding);
          const color = COLORS[storage];
          const fill = batching === 'on' ? color : 'white';
          if (!latency) {
            const pts = series.map((r) => `${xCat(r.outstanding).toFixed(1)},${yLog(lo, hi, r.valuesPerSec.median).toFixed(1)}`);
            if (pts.length > 1) g.push(`<polyline fill="none" stroke="${color}" stroke-width="1.8" ${batching === 'off' ? 'stroke-dasharray="5,3"' : ''} points="${pts.join(' ')}"/>`);
            for (const p of pts) {
              const [cx, cy] = p.split(',');
              g.push(`<circle cx="${cx}" cy="${cy}" r="3.2" fill="${fill}" stroke="${color}" stroke-width="1.5"/>`);
            }
          } else {
            // Six bars per -o: storage by storage, batching off then on.
            const slot = si * 2 + (batching === 'off' ? 0 : 1);
            const width = PANEL_W / OUTSTANDING.length;
            for (const r of series) {
              const x = xCat(r.outstanding) - width / 2 + ((slot + 0.5) / 6) * width * 0.9 + width * 0.05;
              const y50 = yLog(lo, hi, Math.max(lo, r.latencyUs.p50));
              const y99 = yLog(lo, hi, Math.max(lo, r.latencyUs.p99));
              g.push(`<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${y50.toFixed(1)}" y2="${y99.toFixed(1)}" stroke="${color}" stroke-width="2" ${batching === 'off' ? 'stroke-dasharray="3,2"' : ''}/>`);
              g.push(`<line x1="${(x - 3).toFixed(1)}" x2="${(x + 3).toFixed(1)}" y1="${y99.toFixed(1)}" y2="${y99.toFixed(1)}" stroke="${color}" stroke-width="1.5"/>`);
              g.push(`<circle cx="${x.toFixed(1)}" cy="${y50.toFixed(1)}" r="3" fill="${fill}" stroke="${color}" stroke-width="1.5"/>`);
            }
          }
        }
      });
      g.push('</g>');
      parts.push(g.join('\n'));
    }
  });
  // Legend.
  let lx = ROW_LABEL_W + GUTTER_L;
  for (const storage of STORAGES) {
    parts.push(`<rect x="${lx}" y="${legendY + 4}" width="12" height="12" fill="${COLORS[storage]}"/><text x="${lx + 17}" y="${legendY + 14}">${storage}</text>`);
    lx += 100;
  }
  lx += 20;
  parts.push(
    `<line x1="${lx}" x2="${lx + 28}" y1="${legendY + 10}" y2="${legendY + 10}" stroke="#333" stroke-width="1.8"/><circle cx="${lx + 14}" cy="${legendY + 10}" r="3.2" fill="#333"/><text x="${lx + 34}" y="${legendY + 14}">batching on</text>`,
  );
  lx += 120;
  parts.push(
    `<line x1="${lx}" x2="${lx + 28}" y1="${legendY + 10}" y2="${legendY + 10}" stroke="#333" stroke-width="1.8" stroke-dasharray="5,3"/><circle cx="${lx + 14}" cy="${legendY + 10}" r="3.2" fill="white" stroke="#333" stroke-width="1.5"/><text x="${lx + 34}" y="${legendY + 14}">batching off</text>`,
  );
  const failed = standardRows(run.results).length - ok.length;
  if (failed > 0) parts.push(`<text x="${ROW_LABEL_W + GUTTER_L}" y="${legendY + 34}" fill="#c0392b">${failed} configuration(s) failed and are not drawn; see the table.</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
