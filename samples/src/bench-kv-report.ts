/**
 * What `pnpm bench:kv` measures and how it shows it: the grid (value sizes, concurrencies,
 * workloads, and per workload the systems in the order they run), the rows it records, the table,
 * the three target ratios of issue 13, and the generated part of bench/KV.md. Pure: no I/O.
 */
import type { Latency } from './bench-kv-load.js';

export const SIZES = [64, 1024] as const;
export const CONCURRENCIES = [1, 16, 128] as const;
export const WORKLOADS = ['90/10', '50/50', 'set', 'get'] as const;
export const SYSTEMS = ['memcached', 'memory', 'lmdb-sync', 'etcd'] as const;
export type Workload = (typeof WORKLOADS)[number];
export type SystemName = (typeof SYSTEMS)[number];
/** linearizable: kv-server's main port, etcd serializable=false; stale: the stale port, etcd serializable=true; local: memcached. */
export type Reads = 'linearizable' | 'stale' | 'local';

/** Share of gets per workload. */
export const READ_SHARE: Record<Workload, number> = { '90/10': 0.9, '50/50': 0.5, set: 0, get: 1 };

export interface Variant {
  readonly system: SystemName;
  readonly reads: Reads;
}

/**
 * The systems of each workload, in the order they run: each configuration runs them back to back
 * (interleaved), so that they share the machine's load of that moment. Stale kv-server reads
 * appear where reads dominate; the read rows of kv-server use memory storage (a get never touches
 * the acceptor's storage), and etcd's serializable reads are shown beside its linearizable ones.
 */
export const VARIANTS: Record<Workload, readonly Variant[]> = {
  '90/10': [
    { system: 'memcached', reads: 'local' },
    { system: 'memory', reads: 'linearizable' },
    { system: 'memory', reads: 'stale' },
    { system: 'lmdb-sync', reads: 'linearizable' },
    { system: 'etcd', reads: 'linearizable' },
  ],
  '50/50': [
    { system: 'memcached', reads: 'local' },
    { system: 'memory', reads: 'linearizable' },
    { system: 'lmdb-sync', reads: 'linearizable' },
    { system: 'etcd', reads: 'linearizable' },
  ],
  set: [
    { system: 'memcached', reads: 'local' },
    { system: 'memory', reads: 'linearizable' },
    { system: 'lmdb-sync', reads: 'linearizable' },
    { system: 'etcd', reads: 'linearizable' },
  ],
  get: [
    { system: 'memcached', reads: 'local' },
    { system: 'memory', reads: 'linearizable' },
    { system: 'memory', reads: 'stale' },
    { system: 'etcd', reads: 'linearizable' },
    { system: 'etcd', reads: 'stale' },
  ],
};

export interface KvRow extends Variant {
  readonly size: number;
  readonly concurrency: number;
  readonly workload: Workload;
  readonly opsPerSec: number;
  readonly latencyUs: Latency;
  readonly getLatencyUs?: Latency;
  readonly setLatencyUs?: Latency;
  readonly gets: number;
  readonly sets: number;
  readonly hits: number;
  readonly misses: number;
  readonly errors: number;
  readonly firstError?: string;
  /** The servers' CPU over the measured window, percent of one core, all processes of the system added. */
  readonly serverCpuPercent: number;
  /** The load generator's own CPU over the window, percent of one core. */
  readonly generatorCpuPercent: number;
  /** 1-minute load average before and after the row. */
  readonly load: readonly [number, number];
  /** Set when the row could not be measured. */
  readonly error?: string;
}

export interface KvRun {
  readonly date: string;
  readonly machine: { cores: number; cpu: string; memoryGiB: number; node: string; platform: string };
  readonly versions: Record<string, string>;
  readonly warmupSeconds: number;
  readonly measuredSeconds: number;
  readonly keys: number;
  readonly quick: boolean;
  readonly load: { start: number; end: number };
  readonly rows: readonly KvRow[];
}

const SYSTEM_LABEL: Record<SystemName, string> = { memcached: 'memcached', memory: 'kv-server memory', 'lmdb-sync': 'kv-server lmdb-sync', etcd: 'etcd' };
const WORKLOAD_LABEL: Record<Workload, string> = { '90/10': 'get/set 90/10', '50/50': 'get/set 50/50', set: 'set only', get: 'get only' };
const READS_LABEL: Record<Reads, string> = { linearizable: 'linearizable', stale: 'stale', local: '—' };

export const systemLabel = (v: Variant): string => `${SYSTEM_LABEL[v.system]}${v.reads === 'stale' ? (v.system === 'etcd' ? ' (serializable)' : ' (stale port)') : ''}`;
export const rowLabel = (r: Pick<KvRow, 'size' | 'concurrency' | 'workload'> & Variant): string =>
  `${r.size} B, c=${r.concurrency}, ${WORKLOAD_LABEL[r.workload]}, ${systemLabel(r)}`;

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** The rows as a Markdown table (also what stdout shows). */
export function kvTable(rows: readonly KvRow[]): string {
  const out = [
    '| value | conc. | workload | system | reads | ops/s | p50 µs | p99 µs | max µs | server CPU % | generator CPU % | load avg |',
    '| ---: | ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const cells = r.error !== undefined ? [`failed: ${r.error}`, '', '', '', '', '', ''] : [fmt(r.opsPerSec), fmt(r.latencyUs.p50), fmt(r.latencyUs.p99), fmt(r.latencyUs.max), String(r.serverCpuPercent), String(r.generatorCpuPercent), r.load[0].toFixed(2)];
    const flagged = r.error === undefined && r.errors > 0 ? ` (${r.errors} errors)` : '';
    out.push(`| ${r.size} B | ${r.concurrency} | ${WORKLOAD_LABEL[r.workload]} | ${systemLabel(r)}${flagged} | ${READS_LABEL[r.reads]} | ${cells.join(' | ')} |`);
  }
  return out.join('\n');
}

export interface Ratio {
  readonly name: string;
  readonly target: number;
  readonly size: number;
  readonly concurrency: number;
  readonly ours: number;
  readonly theirs: number;
  /** ours / theirs, or undefined when a side is missing or failed. */
  readonly ratio: number | undefined;
}

/** The three targets of issue 13: which row of ours is divided by which row of the other system. */
export const TARGETS: readonly { name: string; target: number; ours: Variant & { workload: Workload }; theirs: Variant & { workload: Workload }; says: string }[] = [
  {
    name: 'durable writes',
    target: 3,
    ours: { workload: 'set', system: 'lmdb-sync', reads: 'linearizable' },
    theirs: { workload: 'set', system: 'etcd', reads: 'linearizable' },
    says: "set-only ops/s of kv-server with lmdb-sync (each write fsynced by a majority before it is answered) ÷ etcd's put ops/s (etcd fsyncs its WAL on every commit)",
  },
  {
    name: 'linearizable reads',
    target: 3,
    ours: { workload: 'get', system: 'memory', reads: 'linearizable' },
    theirs: { workload: 'get', system: 'etcd', reads: 'linearizable' },
    says: "get-only ops/s on kv-server's main ports (lease reads at the leader, reads through the log at followers) ÷ etcd's range ops/s with serializable=false",
  },
  {
    name: 'stale local reads',
    target: 0.5,
    ours: { workload: 'get', system: 'memory', reads: 'stale' },
    theirs: { workload: 'get', system: 'memcached', reads: 'local' },
    says: "get-only ops/s on kv-server's stale ports (each replica's own state) ÷ one plain memcached's get ops/s",
  },
];

const find = (rows: readonly KvRow[], size: number, concurrency: number, v: Variant & { workload: Workload }) =>
  rows.find((r) => r.size === size && r.concurrency === concurrency && r.workload === v.workload && r.system === v.system && r.reads === v.reads && r.error === undefined && r.opsPerSec > 0);

/** Every target ratio the rows allow, per value size and concurrency. */
export function ratios(rows: readonly KvRow[]): Ratio[] {
  const out: Ratio[] = [];
  const groups = [...new Set(rows.map((r) => `${r.size}/${r.concurrency}`))].map((k) => k.split('/').map(Number) as [number, number]);
  for (const t of TARGETS)
    for (const [size, concurrency] of groups) {
      const a = find(rows, size, concurrency, t.ours);
      const b = find(rows, size, concurrency, t.theirs);
      if (a === undefined && b === undefined) continue;
      out.push({ name: t.name, target: t.target, size, concurrency, ours: a?.opsPerSec ?? 0, theirs: b?.opsPerSec ?? 0, ratio: a !== undefined && b !== undefined ? a.opsPerSec / b.opsPerSec : undefined });
    }
  return out;
}

export function ratioTable(list: readonly Ratio[]): string {
  const out = ['| target | value | conc. | ours ops/s | theirs ops/s | ratio | goal | |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |'];
  for (const r of list) {
    const verdict = r.ratio === undefined ? 'not measured' : r.ratio >= r.target ? 'met' : 'missed';
    out.push(`| ${r.name} | ${r.size} B | ${r.concurrency} | ${fmt(r.ours)} | ${fmt(r.theirs)} | ${r.ratio === undefined ? '—' : `${r.ratio.toFixed(2)}×`} | ≥ ${r.target}× | ${verdict} |`);
  }
  return out.join('\n');
}

/** A run of the whole grid (every size, concurrency, workload and system), the kind KV.md shows. */
export function isFullKvRun(run: Pick<KvRun, 'quick' | 'rows'>): boolean {
  if (run.quick) return false;
  for (const size of SIZES)
    for (const concurrency of CONCURRENCIES)
      for (const workload of WORKLOADS)
        for (const v of VARIANTS[workload]) if (!run.rows.some((r) => r.size === size && r.concurrency === concurrency && r.workload === workload && r.system === v.system && r.reads === v.reads)) return false;
  return true;
}

export const KV_BEGIN = '<!-- bench:kv generated: begin (pnpm bench:kv rewrites what is between these lines after a full run) -->';
export const KV_END = '<!-- bench:kv generated: end -->';

/** The generated part of bench/KV.md: the run, the ratios and the table. */
export function kvMarkdown(run: KvRun, file: string): string {
  const gen = run.rows.filter((r) => r.error === undefined);
  const genCpu = gen.map((r) => r.generatorCpuPercent).sort((a, b) => a - b);
  const loads = run.rows.map((r) => r.load[0]).sort((a, b) => a - b);
  const lines = [
    KV_BEGIN,
    '',
    `Run of ${run.date} (bench/results-kv/${file}): ${run.machine.cores} cores (${run.machine.cpu}), ${run.machine.memoryGiB} GiB, ${run.machine.platform}, Node ${run.machine.node}; ` +
      `${Object.entries(run.versions)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}. ` +
      `${run.warmupSeconds} s warm-up + ${run.measuredSeconds} s measured per row, ${fmt(run.keys)} keys per value size, set before the rows. ` +
      `Load average (1 min) ${run.load.start.toFixed(1)} at the start, ${run.load.end.toFixed(1)} at the end, ${loads[0]?.toFixed(1) ?? '?'} to ${loads[loads.length - 1]?.toFixed(1) ?? '?'} across rows; ` +
      `the generator used ${genCpu[0] ?? 0}% to ${genCpu[genCpu.length - 1] ?? 0}% of a core (median ${genCpu[Math.floor(genCpu.length / 2)] ?? 0}%).`,
    '',
    '### The targets (issue 13), on this run',
    '',
    ...TARGETS.map((t) => `- **${t.name}** (≥ ${t.target}×): ${t.says}.`),
    '',
    ratioTable(ratios(run.rows)),
    '',
    '### Every row',
    '',
    kvTable(run.rows),
    '',
    KV_END,
  ];
  return lines.join('\n');
}

/** KV.md with its generated part replaced (or appended, when the markers are missing). */
export function spliceKvMarkdown(existing: string, generated: string): string {
  const a = existing.indexOf(KV_BEGIN);
  const b = existing.indexOf(KV_END);
  if (a < 0 || b < a) return `${existing.trimEnd()}\n\n${generated}\n`;
  return `${existing.slice(0, a)}${generated}${existing.slice(b + KV_END.length)}`;
}
