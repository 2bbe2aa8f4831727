import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { readConfig } from '@libpaxos/evpaxos';
import { Proc, cleanUp, ports, startListening, tempDir, waitFor, writeConfig } from './procs.js';

afterEach(cleanUp);

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const conf = (lines: string[]) => `${lines.join('\n')}\n`;
const listening = (p: Proc) => /listening on/.test(p.stderr);
/** The non-empty lines a process wrote to stderr. */
const errLines = (p: Proc) => p.stderr.split('\n').filter((l) => l.trim() !== '');

describe('exit codes', () => {
  it('every role exits 0 on SIGINT and on SIGTERM (LibPaxos3’s acceptor exits 1)', async () => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const dir = tempDir();
      const procs = await startListening(
        4,
        (p) => {
          const path = writeConfig(dir, conf([`acceptor 0 127.0.0.1 ${p[0]}`, `proposer 0 127.0.0.1 ${p[1]}`]));
          const replicaPath = writeConfig(dir, conf([`replica 0 127.0.0.1 ${p[2]}`]), 'replica.conf');
          const roles = [new Proc('acceptor', ['0', path]), new Proc('proposer', ['0', path]), new Proc('replica', ['0', replicaPath])];
          return { procs: roles, value: roles };
        },
        listening,
      );
      const learner = new Proc('learner', [join(dir, 'paxos.conf')]);
      await waitFor(() => /Connected to acceptor 0/.test(learner.stderr), 10_000, 'the learner to connect');
      for (const p of [...procs, learner]) {
        expect(await p.kill(signal), `${p.name} on ${signal}: ${p.stderr}`).toBe(0);
        expect(p.stderr).toMatch(new RegExp(`Caught signal ${signal === 'SIGINT' ? 2 : 15}`));
      }
    }
  }, 60_000);

  it('a signal caught while a server starts closes it once started: Caught signal 15, the close, exit 0', () => {
    // The samples catch signals before they start (cli.ts): their listening line is printed before
    // the start returns, and a signal sent on seeing it found no handler and killed the process.
    const script = [
      `const { catchSignals, onSignals } = await import(${JSON.stringify(join(ROOT, 'samples', 'dist', 'cli.js'))});`,
      'catchSignals();',
      "process.kill(process.pid, 'SIGTERM');",
      // The start finishes after the signal was handled: only then is there something to close.
      "setTimeout(() => onSignals(async () => { process.stdout.write('closed\\n'); }), 200);",
      'setTimeout(() => {}, 10_000);',
    ].join('\n');
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(out.signal, out.stderr).toBeNull();
    expect(out.status, out.stderr).toBe(0);
    expect(out.stderr).toMatch(/Caught signal 15/);
    expect(out.stdout).toBe('closed\n');
  });

  it('every program of the package that closes on a signal catches signals before it starts (the test above shows why)', () => {
    // A signal on the listening line must find the handler, which only catchSignals() installs
    // before the start returns: a server that calls onSignals() alone would be killed instead.
    const src = join(ROOT, 'samples', 'src');
    const closing = readdirSync(src).filter((f) => f.endsWith('.ts') && f !== 'cli.ts' && readFileSync(join(src, f), 'utf8').includes('onSignals('));
    // The binaries (package.json's bin) and the chaos and bench replicas among them.
    const bins = JSON.parse(readFileSync(join(ROOT, 'samples', 'package.json'), 'utf8')) as { bin: Record<string, string> };
    const binSources = Object.values(bins.bin).map((path) => path.replace(/^\.\/dist\/(.*)\.js$/, '$1.ts'));
    expect(closing).toEqual(expect.arrayContaining([...binSources.filter((f) => f !== 'client.ts'), 'chaos-replica.ts', 'bench-blob-replica.ts']));
    for (const file of closing) {
      const lines = readFileSync(join(src, file), 'utf8').split('\n');
      const caught = lines.findIndex((l) => /^catchSignals\(\);/.test(l));
      const started = lines.findIndex((l) => /await start[A-Z]\w*\(/.test(l));
      expect(caught, `${file} calls catchSignals() at its top level`).toBeGreaterThanOrEqual(0);
      expect(started, `${file} starts its role with await start…()`).toBeGreaterThan(caught);
    }
  });

  it('a client whose values are never delivered exits 1 and says why', async () => {
    const dir = tempDir();
    const path = await startListening(
      4,
      (p) => {
        // Three acceptors that never start: the proposer takes values but nothing is decided.
        const path = writeConfig(dir, conf([...p.slice(0, 3).map((port, i) => `acceptor ${i} 127.0.0.1 ${port}`), `proposer 0 127.0.0.1 ${p[3]}`]));
        return { procs: [new Proc('proposer', ['0', path])], value: path };
      },
      listening,
    );
    const c = new Proc('client', [path, '--duration', '3']);
    expect(await c.exit).toBe(1);
    expect(c.stdout).toMatch(/^Summary: 0 values/m);
    expect(c.stderr).toMatch(/No value of this client was delivered: proposer 0 \(127\.0\.0\.1:\d+\) took the connection, but this client's learner saw none of its values decided/);
    // The learner inside the client says why, once per acceptor, instead of nothing.
    expect(c.stderr).toMatch(/Cannot connect to acceptor 0 \(127\.0\.0\.1:\d+\): connection refused/);
  }, 30_000);
});

describe('demo', () => {
  it('--help prints the demo’s own help and starts nothing; a missing config is one line', async () => {
    const help = new Proc('demo', ['--help']);
    expect(await help.exit).toBe(0);
    expect(help.stdout).toMatch(/^Usage: demo \[--tls\] \[config\] \[client options\]/);
    expect(help.stdout).toMatch(/--tls: every connection is mutual TLS/);
    expect(help.stderr).toBe('');
    const missing = new Proc('demo', ['nope.conf']);
    expect(await missing.exit).toBe(1);
    expect(errLines(missing)).toEqual(['demo: nope.conf: cannot read the config file (no such file)']);
    const badOption = new Proc('demo', ['nope.conf', '-o', 'abc']);
    expect(await badOption.exit).toBe(1);
  }, 30_000);

  it('the shipped paxos.conf is a 3-replica cluster with leadership on and the default lease', () => {
    const config = readConfig(join(ROOT, 'paxos.conf'));
    expect(config.replicas).toBe(true);
    expect(config.acceptors).toHaveLength(3);
    expect([config.leader, config.leaderLeaseMs, config.leaderDriftMarginMs]).toEqual([true, 2000, 200]);
  });

  it('exits 1 with one sentence when a port of the config is taken, and 0 after a run that delivered values (leadership on, as shipped)', async () => {
    const dir = tempDir();
    const [a, b, c] = ports(3) as [number, number, number];
    // A shorter lease than the shipped one only to elect the first leader sooner in a 2 s run.
    const path = writeConfig(dir, conf([...[a, b, c].map((port, i) => `replica ${i} 127.0.0.1 ${port}`), 'leader yes', 'leader-lease 1s']));
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(b, '127.0.0.1', resolve));
    try {
      const taken = new Proc('demo', [path]);
      expect(await taken.exit).toBe(1);
      expect(errLines(taken)).toEqual([`demo: 127.0.0.1:${b} (${path}:2) is already in use: is another demo or replica running? Stop it, or give the demo a config with other ports`]);
    } finally {
      await new Promise((r) => squatter.close(r));
    }
    const ok = new Proc('demo', [path, '-o', '5', '-v', '16'], { DEMO_SECONDS: '2' });
    expect(await ok.exit, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^Summary: [1-9]\d* values/m);
  }, 40_000);
});

describe('tools check their arguments and echo what was typed', () => {
  it.each([
    ['chaos', ['--duration', '-5'], "--duration must be a number of seconds from 2 to 86400, got '-5'"],
    ['chaos', ['--replicas', '4'], "--replicas must be 3 or 5, got '4'"],
    ['chaos', ['--leader', 'maybe'], "--leader must be on or off, got 'maybe'"],
    ['longrun', ['--duration', 'abc'], "--duration must be a whole number of seconds from 20 to 604800, got 'abc'"],
    ['bench', ['--seconds', '1.5'], "--seconds must be a whole number of seconds from 1 to 3600, got '1.5'"],
    ['bench', ['--size', '7'], "--size: '7' is not one of 64, 1024, 8192"],
    ['client', ['-o', 'abc'], "--outstanding must be a whole number from 1 to 1000000, got 'abc'"],
    ['client', ['--duration'], '--duration must be a number of seconds > 0, got nothing'],
    ['replica', ['0', '--trim-lag', '0'], "--trim-lag must be a whole number of instances ≥ 1, got '0'"],
    ['acceptor', ['0', '--metrics-port', 'http'], "--metrics-port must be a port from 0 to 65535, optionally after a host (127.0.0.1:9100, [::1]:9100), got 'http'"],
    ['learner', ['--metrics-port', '127.0.0.1:70000'], "--metrics-port must be a port from 0 to 65535, optionally after a host (127.0.0.1:9100, [::1]:9100), got '127.0.0.1:70000'"],
    ['proposer', ['0', '--log-format', 'xml'], 'Argument: log-format, Given: "xml", Choices: "text", "json"'],
    ['bench', ['--tls', 'maybe'], "--tls: 'maybe' is not one of off, on"],
    ['bench', ['--conf', 'accepted-digest no'], "pnpm bench --conf 'accepted-digest no': unknown key 'accepted-digest'"],
    ['bench', ['--conf', 'proposer-batch-max-values lots'], "pnpm bench --conf 'proposer-batch-max-values lots': proposer-batch-max-values:"],
    ['bench', ['--conf', 'replica 3 127.0.0.1 9000'], "pnpm bench --conf 'replica 3 127.0.0.1 9000': 'replica' lines are the bench's to write"],
    ['bench', ['--conf', 'r 3 127.0.0.1 9000'], "pnpm bench --conf 'r 3 127.0.0.1 9000': 'r' lines are the bench's to write"],
    ['bench', ['--conf', 'checkpoint-trim yes'], "pnpm bench --conf 'checkpoint-trim yes'"],
    // Lines that need each other pass together (the run then stops at the next check).
    ['bench', ['--conf', 'checkpoint-dir /nonexistent/ckpt', '--conf', 'checkpoint-trim yes', '--libpaxos3', '/nonexistent'], 'pnpm bench --libpaxos3 /nonexistent: no replica'],
  ])('%s %s', async (tool, args, message) => {
    const p = new Proc(tool, args);
    expect(await p.exit).toBe(1);
    expect(p.stderr).toContain(message);
  }, 20_000);
});

describe('help', () => {
  it('every role takes -h; the usage lines name every option', async () => {
    for (const role of ['acceptor', 'proposer', 'learner', 'replica', 'client', 'election']) {
      const p = new Proc(role, ['-h']);
      expect(await p.exit, role).toBe(0);
      expect(p.stdout).toMatch(/Usage:/);
      // The operating flags, on every sample.
      expect(p.stdout, role).toMatch(/--metrics-port P\] \[--log-format text\|json\]/);
      expect(p.stdout, role).toMatch(/--metrics-port +serve \/metrics \(Prometheus\) and \/healthz/);
      expect(p.stdout, role).toMatch(/--log-format +log lines in LibPaxos3's format/);
    }
    const replica = new Proc('replica', ['--help']);
    await replica.exit;
    expect(replica.stdout).toMatch(/^Usage: replica <id> \[config\] \[-v\] \[--trim-lag N\]/);
    const client = new Proc('client', ['--help']);
    await client.exit;
    expect(client.stdout).toMatch(/^Usage: client \[config\] \[-o N\] \[-v V\] \[-p P\] \[--duration S\] \[--warmup S\] \[--drain S\] \[--json\]/);
  }, 30_000);
});

describe('garbage collector tuning', () => {
  it('every sample that moves values applies it first: a wrong LIBPAXOS_GC_TUNING is one sentence and exit 1, before arguments are read', async () => {
    for (const role of ['acceptor', 'proposer', 'learner', 'replica', 'client', 'kv-server', 'counter', 'election']) {
      const p = new Proc(role, ['-h'], { LIBPAXOS_GC_TUNING: 'maybe' });
      expect(await p.exit, role).toBe(1);
      expect(p.stdout, role).toBe('');
      expect(errLines(p), role).toEqual([expect.stringMatching(/^The environment variable LIBPAXOS_GC_TUNING is "maybe", but it takes only "on" or "off"/), `Could not start the ${role}!`]);
    }
    // Off is a valid choice: the sample goes on (here, to its help).
    const off = new Proc('replica', ['-h'], { LIBPAXOS_GC_TUNING: 'off' });
    expect(await off.exit).toBe(0);
    expect(off.stdout).toMatch(/^Usage: replica/);
  }, 30_000);
});

describe('bench', () => {
  it('a partial run writes to the ignored bench/local and leaves RESULTS.md, the chart and bench/results alone', async () => {
    const bench = join(ROOT, 'bench');
    const before = { results: readdirSync(join(bench, 'results')), md: readFileSync(join(bench, 'RESULTS.md'), 'utf8'), svg: readFileSync(join(bench, 'chart.svg'), 'utf8') };
    const hadLocal = existsSync(join(bench, 'local'));
    const localBefore = hadLocal ? readdirSync(join(bench, 'local')) : [];
    const run = new Proc('bench', ['--mode', 'replica', '--size', '64', '--outstanding', '1', '--storage', 'memory', '--batching', 'off', '--no-skeleton', '--seconds', '1', '--warmup', '1', '--port-base', String(ports(8)[0])]);
    try {
      expect(await run.exit, run.stderr).toBe(0);
      const wrote = /Wrote bench\/local\/(\S+\.json) \(ignored by git\)\. A partial run leaves bench\/RESULTS\.md and bench\/chart\.svg as they are/.exec(run.stdout);
      expect(wrote, run.stdout).not.toBeNull();
      // The measured second was recorded (the client's last per-second line was lost when its stop
      // timer fired first, and a row of --seconds 1 read 0 values/s); the half-second tail may
      // add a line, so at least one.
      const saved = JSON.parse(readFileSync(join(bench, 'local', wrote?.[1] ?? ''), 'utf8')) as { results: { perSecond: number[]; valuesPerSec: { median: number } }[] };
      expect(saved.results).toHaveLength(1);
      expect(saved.results[0]?.perSecond.length).toBeGreaterThanOrEqual(1);
      expect(saved.results[0]?.valuesPerSec.median).toBeGreaterThan(0);
      expect(readdirSync(join(bench, 'results'))).toEqual(before.results);
      expect(readFileSync(join(bench, 'RESULTS.md'), 'utf8')).toBe(before.md);
      expect(readFileSync(join(bench, 'chart.svg'), 'utf8')).toBe(before.svg);
      // git would not list it as untracked.
      execFileSync('git', ['check-ignore', '-q', join('bench', 'local', wrote?.[1] ?? '')], { cwd: ROOT });
    } finally {
      for (const f of existsSync(join(bench, 'local')) ? readdirSync(join(bench, 'local')) : []) if (!localBefore.includes(f)) rmSync(join(bench, 'local', f));
      if (!hadLocal) rmSync(join(bench, 'local'), { recursive: true, force: true });
    }
  }, 60_000);

  it('the skeleton of a batching row batches: in both modes its client is delivered values unpacked from batches, and its rows say batching on', async () => {
    const bench = join(ROOT, 'bench');
    const hadLocal = existsSync(join(bench, 'local'));
    const localBefore = hadLocal ? readdirSync(join(bench, 'local')) : [];
    const run = new Proc('bench', ['--skeleton-only', '--mode', 'replica,split', '--size', '64', '--outstanding', '10', '--batching', 'on', '--seconds', '2', '--warmup', '1', '--port-base', String(ports(8)[0])]);
    try {
      expect(await run.exit, run.stderr).toBe(0);
      const wrote = /Wrote bench\/local\/(\S+\.json)/.exec(run.stdout);
      const saved = JSON.parse(readFileSync(join(bench, 'local', wrote?.[1] ?? ''), 'utf8')) as { skeleton: { mode: string; batching?: string; valuesPerSec: { median: number } }[] };
      expect(saved.skeleton.map((r) => [r.mode, r.batching])).toEqual([
        ['replica', 'on'],
        ['split', 'on'],
      ]);
      // A client that could not unpack a batch would find none of its payloads and count nothing.
      for (const r of saved.skeleton) expect(r.valuesPerSec.median, r.mode).toBeGreaterThan(0);
      expect(run.stdout).toMatch(/\| skeleton \| split \| 64 B \| 10 \| — \| on \| /);
    } finally {
      for (const f of existsSync(join(bench, 'local')) ? readdirSync(join(bench, 'local')) : []) if (!localBefore.includes(f)) rmSync(join(bench, 'local', f));
      if (!hadLocal) rmSync(join(bench, 'local'), { recursive: true, force: true });
    }
  }, 60_000);

  it('the batching skeleton binds several client values into one instance, as our proposer does, and its client unpacks them', async () => {
    // startListening picks other ports when one is taken (the skeleton says so, as our servers do).
    const { replicas, p } = await startListening(
      3,
      (ps) => {
        const p = ps.map(String);
        const procs = [0, 1, 2].map((i) => new Proc('skeleton', ['replica', String(i), ...p, '--batch']));
        return { procs, value: { replicas: procs, p } };
      },
      (proc) => proc.stderr.includes('skeleton: listening on'),
    );
    const client = new Proc('skeleton', ['client', ...p, '-o', '10', '-v', '64', '--warmup', '1', '--duration', '3', '--batch']);
    try {
      expect(await client.exit, `${client.stderr}${replicas.map((r) => r.stderr).join('')}`).toBe(0);
      const summary = JSON.parse(client.lines.find((l) => l.includes('"summary"')) ?? '{}') as { values: number; instances: number };
      expect(summary.values).toBeGreaterThan(0);
      // Ten values outstanding arrive together at the proposer: far more than one per instance.
      expect(summary.values / summary.instances).toBeGreaterThan(2);
    } finally {
      await Promise.all([client, ...replicas].map((r) => r.kill()));
    }
  }, 30_000);
});
