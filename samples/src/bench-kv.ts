#!/usr/bin/env node
/**
 * `pnpm bench:kv`: kv-server against the systems users would pick instead, side by side in one run
 * on this machine: a 3-replica kv-server cluster (memory storage, and LMDB with `lmdb-sync yes`,
 * leadership on), one plain memcached 1.6 (the unreplicated ceiling) and a 3-member etcd 3.4
 * cluster (the replicated peer), all on 127.0.0.1, driven by one load generator of ours
 * (bench-kv-load.js, a process of its own): memcached's text protocol to kv-server and memcached,
 * etcd's v3 HTTP/JSON gateway to etcd.
 *
 * Per value size and concurrency every selected system is started fresh (data in a temp folder on
 * the same disk), its keys are set, and then each workload runs on every system back to back
 * (interleaved, so that the systems of a configuration share the machine's load of that moment).
 * A full run writes bench/results-kv/<timestamp>.json and rewrites the generated part of
 * bench/KV.md; a quick or partial run writes bench/local/<timestamp>.json (ignored by git), or
 * into --out. Exits 1 when a row could not be measured.
 */
import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadSpec, LoadSummary, LoadTarget } from './bench-kv-load.js';
import {
  CONCURRENCIES,
  READ_SHARE,
  SIZES,
  SYSTEMS,
  VARIANTS,
  WORKLOADS,
  isFullKvRun,
  kvMarkdown,
  kvTable,
  ratioTable,
  ratios,
  rowLabel,
  spliceKvMarkdown,
  type KvRow,
  type KvRun,
  type Reads,
  type SystemName,
  type Variant,
  type Workload,
} from './bench-kv-report.js';
import { stopAll } from './children.js';
import { numberFlag, sampleArgs } from './cli.js';
import { FreePortCursor } from './local-ports.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const benchDir = join(root, 'bench');
const MEMCACHED = '/usr/bin/memcached';
const ETCD = '/usr/bin/etcd';

const csv =
  <T extends string | number>(flag: string, all: readonly T[]) =>
  (v: unknown) => {
    const items = String(v)
      .split(',')
      .map((x) => x.trim());
    for (const x of items) if (!all.map(String).includes(x)) throw new Error(`--${flag}: '${x}' is not one of ${all.join(', ')}`);
    return all.filter((a) => items.includes(String(a)));
  };

const argv = sampleArgs('pnpm bench:kv')
  .usage(
    'Usage: $0 [--quick] [--size …] [--concurrency …] [--workload …] [--system …] [--reads …] [--entry all|leader] [--seconds S] [--warmup S] [--keys N] [--port-base P] [--data-dir D] [--out D] [--cpu-prof D]\n\n' +
      'kv-server (3 replicas: memory, and lmdb-sync) against one memcached and a 3-member etcd, all on 127.0.0.1, with one load generator.\n' +
      'A full run (no --quick, no subset) writes bench/results-kv/<timestamp>.json and the generated part of bench/KV.md;\n' +
      'a quick or partial run writes bench/local/<timestamp>.json (ignored by git), or into --out.',
  )
  .option('quick', { type: 'boolean', default: false, describe: 'the rows of the three targets only (set only, get only), 64 B, concurrency 16, 2 s each: about a minute' })
  .option('size', { type: 'string', coerce: csv('size', SIZES), describe: `value sizes in bytes: ${SIZES.join(', ')}` })
  .option('concurrency', { type: 'string', coerce: csv('concurrency', CONCURRENCIES), describe: `connections, each with one request outstanding: ${CONCURRENCIES.join(', ')}` })
  .option('workload', { type: 'string', coerce: csv('workload', WORKLOADS), describe: `get/set mixes: ${WORKLOADS.join(', ')} (set and get: only sets, only gets)` })
  .option('system', { type: 'string', coerce: csv('system', SYSTEMS), describe: `${SYSTEMS.join(', ')} (memory and lmdb-sync: kv-server's storage)` })
  .option('reads', { type: 'string', coerce: csv('reads', ['linearizable', 'stale', 'local'] as const), describe: "only rows with these reads: linearizable (kv-server's main port, etcd serializable=false), stale (kv-server's stale port, etcd serializable=true), local (memcached)" })
  .option('entry', { type: 'string', choices: ['all', 'leader'] as const, default: 'all', describe: 'where the connections of kv-server and etcd go: spread over the three members, leader first (all), or every one to the leader (leader; a partial run, to see what the followers cost)' })
  .option('seconds', { coerce: numberFlag('seconds', { integer: true, min: 1, max: 600, unit: 'seconds' }), describe: 'measured seconds per row (default 3, quick 2)' })
  .option('warmup', { coerce: numberFlag('warmup', { integer: true, min: 0, max: 60, unit: 'seconds' }), describe: 'warm-up seconds per row (default 1)' })
  .option('keys', { coerce: numberFlag('keys', { integer: true, min: 1, max: 1_000_000 }), describe: 'keys per value size, set before the rows run (default 1000)' })
  .option('port-base', { coerce: numberFlag('port-base', { integer: true, min: 1024, max: 64_000 }), describe: 'first port on 127.0.0.1 to try (default: 3000–7900, from the process id); ports in use are skipped' })
  .option('data-dir', { type: 'string', describe: "where LMDB's and etcd's data go, in a fresh folder per configuration (default: the temp folder)" })
  .option('out', { type: 'string', describe: 'write the JSON there (and not KV.md) instead of bench/results-kv or bench/local' })
  .option('cpu-prof', { type: 'string', describe: "kv-server replicas run with node --cpu-prof and write their profiles into this folder when they stop" })
  .strictOptions()
  .parseSync();

const quick = argv.quick;
const seconds = argv.seconds ?? (quick ? 2 : 3);
const warmup = argv.warmup ?? 1;
const keys = argv.keys ?? 1000;
const sizes = argv.size ?? (quick ? [64] : [...SIZES]);
const concurrencies = argv.concurrency ?? (quick ? [16] : [...CONCURRENCIES]);
const workloads: Workload[] = argv.workload ?? (quick ? ['set', 'get'] : [...WORKLOADS]);
const systems: SystemName[] = argv.system ?? [...SYSTEMS];
const dataRoot = argv['data-dir'] ?? tmpdir();

for (const [bin, pkg, sys] of [
  [MEMCACHED, 'memcached', 'memcached'],
  [ETCD, 'etcd-server', 'etcd'],
] as const) {
  if (systems.includes(sys) && !existsSync(bin)) {
    process.stderr.write(`pnpm bench:kv: ${bin} is missing: install Debian's ${pkg} package (bash scripts/install-system-deps.sh does), or leave ${sys} out with --system\n`);
    process.exit(1);
  }
}

// ---- processes ----

const live = new Set<ChildProcess>();
const tails = new WeakMap<ChildProcess, string>();
let currentDir: string | undefined;

function start(owner: ChildProcess[], cmd: string, args: string[], env?: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(env !== undefined ? { env } : {}) });
  // Read both pipes, so that a chatty process never blocks; the end of stderr is kept for errors.
  child.stdout?.on('data', (d: Buffer) => tails.set(child, `${tails.get(child) ?? ''}${d.toString()}`.slice(-4000)));
  child.stderr?.on('data', (d: Buffer) => tails.set(child, `${tails.get(child) ?? ''}${d.toString()}`.slice(-4000)));
  live.add(child);
  owner.push(child);
  child.once('exit', () => live.delete(child));
  return child;
}

const lastLines = (c: ChildProcess) =>
  (tails.get(c) ?? '')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-2)
    .join(' / ')
    .trim();

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    void stopAll([...live]).then(() => {
      if (currentDir !== undefined) rmSync(currentDir, { recursive: true, force: true });
      process.stderr.write(`pnpm bench:kv: stopped by ${signal}; nothing was written\n`);
      process.exit(1);
    });
  });
}

/** CPU seconds a process has used so far, from /proc (Linux; 0 elsewhere). */
function cpuSeconds(pid: number | undefined): number {
  try {
    if (pid === undefined) return 0;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(stat[11]) + Number(stat[12])) / 100;
  } catch {
    return 0;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A failure that waiting longer cannot mend (a process exited): `until` passes it on at once. */
class Fatal extends Error {}

async function until<T>(what: string, ms: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last = '';
  for (let i = 0; ; i++) {
    const v = await check().catch((e: unknown) => {
      if (e instanceof Fatal) throw e;
      last = e instanceof Error ? e.message : String(e);
      return undefined;
    });
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}${last !== '' ? ` (last: ${last})` : ''}`);
    await sleep(Math.min(200, 25 * (i + 1)));
  }
}

// ---- ports ----

// Below the kernel's ephemeral range (32768 and up on Linux), where no outgoing connection takes
// a port before its server binds it, and below the test suites' 10000–32599: from 3000–7900, the
// window `pnpm bench` uses (benchmarks run one at a time); other runs of this bench start elsewhere
// (process id), and ports in use are skipped. The cursor counts on from there without wrapping (a
// full run takes a few hundred ports, so it stays below chaos's 8000).
const portCursor = new FreePortCursor(argv['port-base'] ?? 3000 + (process.pid % 50) * 100, String(argv['port-base'] ?? 'the default base'));
/** `n` ports nobody listens on now, from the next ones in order. */
const freePorts = (n: number): Promise<number[]> => portCursor.take(n);

// ---- the systems ----

interface Running {
  readonly system: SystemName;
  readonly protocol: LoadSpec['protocol'];
  readonly procs: ChildProcess[];
  /** Where the generator's connections go for these reads: the leader first, so that one connection talks to the leader. */
  targets(reads: Reads): LoadTarget[];
}

const at = (port: number): LoadTarget => ({ host: '127.0.0.1', port });

/** A memcached text request on a fresh connection, the reply up to `END\r\n`. */
function memcachedAsk(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const s = connect({ host: '127.0.0.1', port }, () => s.write(line));
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no reply to '${line.trim()}' from 127.0.0.1:${port} in 5 s`));
    }, 5000);
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.endsWith('END\r\n')) {
        clearTimeout(timer);
        s.destroy();
        resolve(got);
      }
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

async function startMemcached(owner: ChildProcess[]): Promise<Running> {
  const [port] = (await freePorts(1)) as [number];
  // -U 0: no UDP; 2 GiB, far more than the keys need, so nothing is ever evicted. memcached refuses to run as root without -u.
  const args = ['-l', '127.0.0.1', '-p', String(port), '-U', '0', '-m', '2048', '-c', '4096', ...(process.getuid?.() === 0 ? ['-u', 'root'] : [])];
  const proc = start(owner, MEMCACHED, args);
  await until(`memcached on 127.0.0.1:${port}${lastLines(proc) !== '' ? ` (${lastLines(proc)})` : ''}`, 10_000, async () => {
    if (proc.exitCode !== null) throw new Fatal(`memcached exited with ${proc.exitCode}: ${lastLines(proc)}`);
    return (await memcachedAsk(port, 'stats\r\n')).includes('STAT pid') ? true : undefined;
  }).catch((e: Error) => {
    throw new Error(`${e.message}${proc.exitCode !== null ? ` (memcached exited: ${lastLines(proc)})` : ''}`);
  });
  return { system: 'memcached', protocol: 'memcached', procs: [proc], targets: () => [at(port)] };
}

async function startKv(owner: ChildProcess[], system: 'memory' | 'lmdb-sync', dir: string): Promise<Running> {
  const p = await freePorts(9);
  const conf = join(dir, `kv-${system}.conf`);
  // The shipped paxos.conf's settings (batching, leadership), quiet logs, and for lmdb-sync the
  // acceptor log in LMDB with a sync per write, on the same disk as etcd's WAL.
  const lines = [...[0, 1, 2].map((i) => `replica ${i} 127.0.0.1 ${p[i]}`), 'leader yes', 'proposer-batch-max-values 1024', 'proposer-batch-max-bytes 256kb', 'verbosity error'];
  if (system === 'lmdb-sync') lines.push('storage-backend lmdb', `lmdb-env-path ${join(dir, 'kv-lmdb')}`, 'lmdb-sync yes', 'lmdb-mapsize 4gb', 'acceptor-trash-files yes');
  writeFileSync(conf, `${lines.join('\n')}\n`);
  const prof = argv['cpu-prof'] !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${argv['cpu-prof']}`] : [];
  // -m 2048 as memcached's above: with the default 64 MiB a large --keys would evict, and gets miss.
  const procs = [0, 1, 2].map((i) => start(owner, process.execPath, [...prof, join(here, 'kv-server.js'), String(i), conf, '--port', String(p[3 + i]), '--stale-port', String(p[6 + i]), '-m', '2048']));
  for (const [i, proc] of procs.entries()) {
    await until(`kv-server ${system} replica ${i} to say it is ready`, 20_000, async () => {
      if (proc.exitCode !== null) throw new Fatal(`kv-server ${system} replica ${i} exited with ${proc.exitCode}: ${lastLines(proc)}`);
      return /ready: memcached on/.test(tails.get(proc) ?? '') ? true : undefined;
    }).catch((e: Error) => {
      throw new Error(`${e.message}${proc.exitCode !== null ? '' : ` (${lastLines(proc)})`}`);
    });
  }
  // Every replica knows the same leader before a row starts (the first election takes a lease or so).
  const leader = await until(`kv-server ${system} to elect a leader`, 30_000, async () => {
    const ids = await Promise.all([0, 1, 2].map(async (i) => /STAT paxos_leader_id (-?\d+)/.exec(await memcachedAsk(p[3 + i] as number, 'stats paxos\r\n'))?.[1]));
    const id = Number(ids[0]);
    return ids.every((x) => x === ids[0]) && id >= 0 && id <= 2 ? id : undefined;
  });
  const order = [0, 1, 2].map((k) => (leader + k) % 3);
  return {
    system,
    protocol: 'memcached',
    procs,
    targets: (reads) => order.map((i) => at(p[(reads === 'stale' ? 6 : 3) + i] as number)),
  };
}

/** POST to etcd's HTTP/JSON gateway: the parsed reply. */
function etcdPost(port: number, path: string, body: unknown): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', timeout: 5000, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        try {
          if (res.statusCode !== 200) throw new Error(`${path} on 127.0.0.1:${port} answered HTTP ${res.statusCode}: ${text.slice(0, 200)}`);
          resolve(JSON.parse(text) as Record<string, unknown>);
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${path} on 127.0.0.1:${port}: no reply in 5 s`)));
    req.on('error', reject);
    req.end(data);
  });
}

let etcdClusters = 0;
async function startEtcd(owner: ChildProcess[], dir: string): Promise<Running> {
  const p = await freePorts(6);
  const client = p.slice(0, 3) as number[];
  const peer = p.slice(3, 6) as number[];
  const cluster = peer.map((port, i) => `m${i}=http://127.0.0.1:${port}`).join(',');
  // One token for the three members (a member with another token belongs to another cluster), new per cluster.
  const token = `kvbench-${process.pid}-${etcdClusters++}`;
  // etcd refuses to start on architectures it does not support unless told to.
  const env = process.arch === 'x64' || process.arch === 'arm64' ? undefined : { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch };
  const procs = [0, 1, 2].map((i) =>
    start(
      owner,
      ETCD,
      [
        '--name', `m${i}`,
        '--data-dir', join(dir, `etcd-${i}`),
        '--listen-client-urls', `http://127.0.0.1:${client[i]}`,
        '--advertise-client-urls', `http://127.0.0.1:${client[i]}`,
        '--listen-peer-urls', `http://127.0.0.1:${peer[i]}`,
        '--initial-advertise-peer-urls', `http://127.0.0.1:${peer[i]}`,
        '--initial-cluster', cluster,
        '--initial-cluster-token', token,
        '--initial-cluster-state', 'new',
        '--logger', 'zap',
        '--log-level', 'error',
        '--quota-backend-bytes', String(8 * 2 ** 30),
      ],
      env,
    ),
  );
  // Ready when every member answers its status and names the same leader.
  const leader = await until('etcd to elect a leader', 20_000, async () => {
    for (const [i, proc] of procs.entries()) if (proc.exitCode !== null) throw new Fatal(`etcd member ${i} exited with ${proc.exitCode}: ${lastLines(proc)}`);
    const st = await Promise.all(client.map((port) => etcdPost(port, '/v3/maintenance/status', {})));
    const ids = st.map((s) => String((s.header as { member_id?: string } | undefined)?.member_id));
    const leaders = st.map((s) => String(s.leader));
    const k = ids.indexOf(leaders[0] as string);
    return k >= 0 && leaders.every((l) => l === leaders[0]) ? k : undefined;
  }).catch((e: Error) => {
    const said = procs.find((x) => x.exitCode !== null) ?? procs.find((x) => lastLines(x) !== '');
    throw new Error(`${e.message}${said !== undefined ? ` (${lastLines(said)})` : ''}`);
  });
  const order = [0, 1, 2].map((k) => (leader + k) % 3);
  return { system: 'etcd', protocol: 'etcd', procs, targets: () => order.map((i) => at(client[i] as number)) };
}

function startOnce(owner: ChildProcess[], s: SystemName, dir: string): Promise<Running> {
  switch (s) {
    case 'memcached':
      return startMemcached(owner);
    case 'memory':
    case 'lmdb-sync':
      return startKv(owner, s, dir);
    case 'etcd':
      return startEtcd(owner, dir);
  }
}

/**
 * Starts a system on fresh ports and data, up to 3 times: a port found free can be taken before
 * the server binds it (by another engineer's test, or by a TCP self-connect of a peer that dials a
 * port in the kernel's ephemeral range before its owner listens), and a member that cannot bind
 * exits or never serves. Each failed attempt's processes are stopped and its data removed.
 */
async function startSystem(s: SystemName, dir: string): Promise<Running> {
  for (let attempt = 1; ; attempt++) {
    const owner: ChildProcess[] = [];
    const sub = mkdtempSync(join(dir, `${s}-`));
    try {
      return await startOnce(owner, s, sub);
    } catch (e) {
      await stopAll(owner);
      rmSync(sub, { recursive: true, force: true });
      if (attempt >= 3) throw e;
      process.stderr.write(`    ${s} did not start (${(e as Error).message}); trying again on other ports\n`);
    }
  }
}

// ---- the generator ----

interface GeneratorRun {
  readonly summary?: LoadSummary;
  readonly populated?: { keys: number; errors: number; firstError?: string };
  readonly serverCpuPercent: number;
  readonly error?: string;
}

/** Runs the generator with `spec` and waits for it (bounded); samples the servers' CPU over its measured window. */
function generate(spec: LoadSpec, servers: readonly ChildProcess[]): Promise<GeneratorRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(here, 'bench-kv-load.js'), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    let out = '';
    let err = '';
    let cpu0 = 0;
    let t0 = 0;
    let serverCpuPercent = 0;
    const serverCpu = () => servers.reduce((n, s) => n + cpuSeconds(s.pid), 0);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (t0 === 0 && out.includes('"type":"start"')) {
        t0 = performance.now();
        cpu0 = serverCpu();
      }
      if (t0 !== 0 && serverCpuPercent === 0 && out.includes('"type":"summary"')) {
        serverCpuPercent = Math.round(((serverCpu() - cpu0) / ((performance.now() - t0) / 1000)) * 100);
      }
    });
    child.stderr.on('data', (d: Buffer) => (err = `${err}${d.toString()}`.slice(-2000)));
    const limitMs = spec.populate === true ? 300_000 : (spec.warmupMs / 1000 + spec.seconds + 30) * 1000;
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      const lines = out.split('\n').filter((l) => l.startsWith('{'));
      const summary = lines.map((l) => JSON.parse(l) as { type: string }).find((l) => l.type === 'summary') as LoadSummary | undefined;
      const populated = lines.map((l) => JSON.parse(l) as { type: string }).find((l) => l.type === 'populated') as GeneratorRun['populated'];
      const error =
        signal === 'SIGKILL'
          ? `the load generator did not finish within ${limitMs / 1000} s`
          : code !== 0
            ? `the load generator exited with ${code}: ${err.trim().split('\n').pop() ?? ''}`
            : summary === undefined && populated === undefined
              ? 'the load generator printed no result'
              : undefined;
      resolve({ ...(summary !== undefined ? { summary } : {}), ...(populated !== undefined ? { populated } : {}), serverCpuPercent, ...(error !== undefined ? { error } : {}) });
    });
  });
}

const spec = (r: Running, v: Variant, size: number, concurrency: number, readShare: number, extra: Partial<LoadSpec> = {}): LoadSpec => ({
  protocol: r.protocol,
  targets: argv.entry === 'leader' ? r.targets(v.reads).slice(0, 1) : r.targets(v.reads),
  ...(r.protocol === 'etcd' ? { serializable: v.reads === 'stale' } : {}),
  concurrency,
  valueSize: size,
  readShare,
  keys,
  keyPrefix: `kvbench-${size}-`,
  warmupMs: warmup * 1000,
  seconds,
  ...extra,
});

// ---- the run ----

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const load1 = () => Number((loadavg()[0] ?? 0).toFixed(2));
const clock = (ms: number) => `${Math.floor(ms / 60000)}m${String(Math.round((ms % 60000) / 1000)).padStart(2, '0')}s`;

function version(cmd: string, args: string[], pattern: RegExp): string {
  try {
    return pattern.exec(execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000 }))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
const versions: Record<string, string> = {
  'kv-server': (JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8')) as { version: string }).version,
};
if (systems.includes('memcached')) versions.memcached = version(MEMCACHED, ['-V'], /memcached (\S+)/);
if (systems.includes('etcd')) versions.etcd = version(ETCD, ['--version'], /etcd Version: (\S+)/);

const chosen = (v: Variant) => systems.includes(v.system) && (argv.reads === undefined || argv.reads.includes(v.reads));
const groups = sizes.flatMap((size) => concurrencies.map((concurrency) => ({ size, concurrency })));
const plannedRows = groups.length * workloads.reduce((n, w) => n + VARIANTS[w].filter(chosen).length, 0);
if (plannedRows === 0) {
  process.stderr.write('pnpm bench:kv: the options leave no row to run\n');
  process.exit(1);
}
const machine = { cores: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: `${process.platform} ${process.arch}` };
const loadStart = load1();
process.stderr.write(
  `pnpm bench:kv: ${plannedRows} rows in ${groups.length} configurations, ${warmup} s warm-up + ${seconds} s each, ${fmt(keys)} keys; ${machine.cores} cores, Node ${machine.node}, load average ${loadStart}\n`,
);
const started = Date.now();
const rows: KvRow[] = [];
let done = 0;

for (const { size, concurrency } of groups) {
  const dir = mkdtempSync(join(dataRoot, 'paxos-bench-kv-'));
  currentDir = dir;
  const running: Running[] = [];
  const failedRow = (workload: Workload, v: Variant, error: string): KvRow => ({
    size, concurrency, workload, ...v, opsPerSec: 0, latencyUs: { p50: 0, p99: 0, max: 0 }, gets: 0, sets: 0, hits: 0, misses: 0, errors: 0, serverCpuPercent: 0, generatorCpuPercent: 0, load: [load1(), load1()], error,
  });
  try {
    process.stderr.write(`${size} B, concurrency ${concurrency}: starting ${systems.join(', ')}\n`);
    const startFailures = new Map<SystemName, string>();
    const results = await Promise.allSettled(systems.map((s) => startSystem(s, dir)));
    for (const [i, r] of results.entries()) {
      if (r.status === 'fulfilled') running.push(r.value);
      else startFailures.set(systems[i] as SystemName, (r.reason as Error).message);
    }
    // The keys every get will find, on each system.
    for (const r of running) {
      const pop = await generate(spec(r, { system: r.system, reads: 'linearizable' }, size, Math.min(16, keys), 0, { populate: true }), r.procs);
      const why = pop.error ?? (pop.populated !== undefined && pop.populated.errors > 0 ? `${pop.populated.errors} sets failed (${pop.populated.firstError ?? ''})` : undefined);
      if (why !== undefined) startFailures.set(r.system, `setting the keys failed: ${why}`);
    }
    for (const workload of workloads)
      for (const v of VARIANTS[workload].filter(chosen)) {
        const id = { size, concurrency, workload, ...v };
        done++;
        const elapsed = Date.now() - started;
        process.stderr.write(`[${done}/${plannedRows}] ${rowLabel(id)} — elapsed ${clock(elapsed)}, ETA ${clock(done === 1 ? (warmup + seconds + 1) * 1000 * plannedRows : (elapsed / (done - 1)) * (plannedRows - done + 1))}\n`);
        const r = running.find((x) => x.system === v.system);
        const failed = startFailures.get(v.system);
        if (r === undefined || failed !== undefined) {
          const row = failedRow(workload, v, failed ?? `${v.system} did not start`);
          rows.push(row);
          process.stderr.write(`    failed: ${row.error}\n`);
          continue;
        }
        const before = load1();
        const g = await generate(spec(r, v, size, concurrency, READ_SHARE[workload]), r.procs);
        const after = load1();
        const s = g.summary;
        if (s === undefined || g.error !== undefined || s.ops === 0) {
          const row = failedRow(workload, v, g.error ?? `no request completed${s?.firstError !== undefined ? ` (${s.firstError})` : ''}`);
          rows.push(row);
          process.stderr.write(`    failed: ${row.error}\n`);
          continue;
        }
        const row: KvRow = {
          ...id,
          opsPerSec: s.opsPerSec,
          latencyUs: s.latencyUs,
          ...(s.gets > 0 ? { getLatencyUs: s.getLatencyUs } : {}),
          ...(s.sets > 0 ? { setLatencyUs: s.setLatencyUs } : {}),
          gets: s.gets,
          sets: s.sets,
          hits: s.hits,
          misses: s.misses,
          errors: s.errors,
          ...(s.firstError !== undefined ? { firstError: s.firstError } : {}),
          serverCpuPercent: g.serverCpuPercent,
          generatorCpuPercent: s.cpuPercent,
          load: [before, after],
        };
        rows.push(row);
        process.stderr.write(
          `    ${fmt(row.opsPerSec)} ops/s, p50 ${fmt(row.latencyUs.p50)} µs, p99 ${fmt(row.latencyUs.p99)} µs; servers ${row.serverCpuPercent}% CPU, generator ${row.generatorCpuPercent}%; load ${before} → ${after}${row.errors > 0 ? `; ${row.errors} errors (${row.firstError ?? ''})` : ''}${row.misses > 0 ? `; ${row.misses} misses` : ''}\n`,
        );
      }
  } finally {
    await stopAll([...live]);
    rmSync(dir, { recursive: true, force: true });
    currentDir = undefined;
  }
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const run: KvRun = { date: new Date().toISOString(), machine, versions, warmupSeconds: warmup, measuredSeconds: seconds, keys, quick, load: { start: loadStart, end: load1() }, rows };
const full = argv.out === undefined && argv.entry === 'all' && isFullKvRun(run) && seconds >= 3;
const folder = argv.out ?? join(benchDir, full ? 'results-kv' : 'local');
mkdirSync(folder, { recursive: true });
const file = `kv-${stamp}.json`;
writeFileSync(join(folder, file), `${JSON.stringify(run, null, 2)}\n`);
process.stdout.write(`\n${kvTable(rows)}\n\nTargets (issue 13), this run:\n\n${ratioTable(ratios(rows))}\n\n`);
if (full) {
  const md = join(benchDir, 'KV.md');
  writeFileSync(md, spliceKvMarkdown(existsSync(md) ? readFileSync(md, 'utf8') : '# kv-server against memcached and etcd (`pnpm bench:kv`)\n', kvMarkdown(run, file)));
  process.stdout.write(`Wrote bench/results-kv/${file} and the generated part of bench/KV.md.\n`);
} else {
  process.stdout.write(`Wrote ${join(folder, file)}${argv.out === undefined ? ' (ignored by git)' : ''}. A ${quick ? 'quick' : 'partial'} run leaves bench/KV.md as it is.\n`);
}
const failed = rows.filter((r) => r.error !== undefined);
if (failed.length > 0) {
  process.stderr.write(`pnpm bench:kv: ${failed.length} of ${rows.length} rows failed (${failed.map((r) => `${rowLabel(r)}: ${r.error}`).join('; ')}).\n`);
  process.exit(1);
}
