/**
 * `pnpm chaos --workload kv`: three kv-server replicas (LMDB, lmdb-sync yes, checkpoints of the
 * store, acceptors trimmed by the lowest checkpoint) on 127.0.0.1, every link between them and
 * every client connection through a fault-injecting proxy, memcached clients speaking the text
 * protocol on raw sockets doing gets/set/cas/delete/incr (and some add, append, decr) on a few
 * keys, and the nemesis of `pnpm chaos`: SIGKILL and restart (from the newest checkpoint),
 * SIGSTOP/SIGCONT, link cuts, delays, resets and one-way stalls, the leader killed or paused, and a
 * replica whose data directory is wiped while it is down (it restarts with --rejoin and comes back
 * through a peer's checkpoint). Each client records what it saw — call time, reply and
 * reply time, or no reply (a timeout, a dropped connection, SERVER_ERROR: the request may or may not
 * have taken effect) — and at the end, after healing and a final read of every key at every replica,
 * paxos-kv's linearizability checker judges the whole history (Jepsen's approach: record, inject
 * faults, check). Clients never resend a request: the memcached text protocol has no request ids,
 * so a resent `incr` is a second increment; an unanswered request stays of unknown outcome.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Prng } from '@libpaxos/paxos-core';
import { checkOperations, memcachedModel, UNKNOWN, type McHit, type McInput, type McOutput, type Operation } from '@libpaxos/paxos-kv';
import { chaosPortBase, freePorts } from './local-ports.js';
import { LinkProxy } from './chaos-proxy.js';

export interface KvChaosOptions {
  readonly duration: number;
  readonly seed: number;
  readonly leader: boolean;
  readonly portBase: number | undefined;
  readonly verbose: boolean;
  readonly keep: boolean;
}

const R = 3;
const CLIENTS = 4;
const KEYS = ['chaos-k0', 'chaos-k1', 'chaos-k2'];
/** A client gives up on a reply after this long: the request's outcome is then unknown. */
const REPLY_TIMEOUT_MS = 2500;
const READY_TIMEOUT_MS = 30_000;

type Op = Operation<McInput, McOutput>;
type MutableOp = { -readonly [K in keyof Op]: Op[K] };

/**
 * Ports the run needs: Paxos and memcached ports per replica, a proxy per replica link (indexed
 * source·R + target, so R unused) and per client link, and a metrics port per replica.
 */
const PORTS_NEEDED = 2 * R + R * R + CLIENTS * R + R;
/** How far above --port-base ports are looked for. */
const PORT_SPAN = 300;

/**
 * Runs the KV chaos test; resolves to the exit status (0: linearizable and something was checked).
 * Ports on 127.0.0.1 can be held by other processes (servers, and with a --port-base in the
 * ephemeral range any connection's local port, taken in TIME-WAIT for a minute after it closes),
 * so each port is one found free just before the run, from --port-base up (by default from
 * `chaosPortBase`, below the ephemeral range); a port taken between that test and its use starts
 * the run again, 5 times at most.
 */
export async function runKvChaos(o: KvChaosOptions): Promise<number> {
  const first = o.portBase ?? chaosPortBase(o.seed);
  for (let attempt = 0; ; attempt++) {
    const free = await freePorts(first, PORT_SPAN, PORTS_NEEDED);
    if (free === undefined) {
      process.stdout.write(`chaos --workload kv: fewer than ${PORTS_NEEDED} of the ports ${first} to ${first + PORT_SPAN - 1} on 127.0.0.1 are free; give another --port-base\n`);
      return 1;
    }
    const r = await runOnce(o, free);
    if (r !== 'port-in-use') return r;
    if (attempt >= 4) {
      process.stdout.write(`chaos --workload kv: a port another process took between its test and its use, five times; give another --port-base\n`);
      return 1;
    }
    process.stderr.write('[chaos kv] a port was taken between its test and its use; starting again\n');
  }
}

async function runOnce(o: KvChaosOptions, free: readonly number[]): Promise<number | 'port-in-use'> {
  const here = dirname(fileURLToPath(import.meta.url));
  const rng = new Prng(o.seed);
  const dir = mkdtempSync(join(tmpdir(), 'paxos-chaos-kv-'));
  const started = Date.now();
  const log = (text: string) => process.stderr.write(`[chaos kv ${((Date.now() - started) / 1000).toFixed(1)}s] ${text}\n`);
  const faults: Record<string, number> = { kill: 0, pause: 0, cut: 0, delay: 0, reset: 0, 'one-way': 0, wipe: 0, ...(o.leader ? { 'kill-leader': 0, 'pause-leader': 0 } : {}) };
  /** What the kv-servers' log lines said about checkpoints, transfers and rejoins. */
  const checkpoints = { written: 0, restored: 0, installed: 0, installedAfterWipe: 0, transfersStarted: 0, transfersResumed: 0, rejoined: 0 };
  /** The highest trim point the checkpoint reports in the log gave (any kv-server's `paxos_checkpoint_trim_instance`). */
  let maxTrim = 0;
  /** The fences of kv-servers that rejoined after a wipe: no other wipe until a checkpoint passed each (see below). */
  const fences: { readonly replica: number; readonly fence: number }[] = [];

  // Ports: Paxos ports, memcached ports, then one proxy per directed link.
  let portClash = false;
  /** kv-servers that died without being killed: a failure whatever the history says. */
  const unexpectedExits: string[] = [];
  const port = (k: number) => free[k] as number;
  const paxosPort = (i: number) => port(i);
  const mcPort = (i: number) => port(R + i);
  const replicaLink = (s: number, t: number) => port(2 * R + s * R + t);
  const clientLink = (c: number, t: number) => port(2 * R + R * R + c * R + t);
  const metricsPort = (i: number) => port(2 * R + R * R + CLIENTS * R + i);

  const configPaths = Array.from({ length: R }, (_, s) => {
    const lines = Array.from({ length: R }, (_, t) => `replica ${t} 127.0.0.1 ${s === t ? paxosPort(t) : replicaLink(s, t)}`);
    lines.push(
      // Info, as JSON lines: the harness reads checkpoint, transfer and rejoin events from them (they
      // go to a file only with --verbose). Not debug, where the trim point is: its line per dropped
      // message (hundreds a second) slows the kv-servers down; the metrics give the trim point.
      'verbosity info',
      'log-format json',
      'storage-backend lmdb',
      `lmdb-env-path ${join(dir, 'acceptor')}`,
      'lmdb-sync yes',
      'lmdb-mapsize 64mb',
      // Segments of 256 instances, so that trims delete segments all through the run, kills included.
      'lmdb-segment-instances 256',
      // Checkpoints every 500 instances or 2 s (a 20-s run decides several thousand instances), the
      // acceptors trimmed 20 below the lowest reported one: a killed kv-server restarts from its
      // newest checkpoint, and one behind the trim must fetch a peer's.
      `checkpoint-dir ${join(dir, 'ckpt')}`,
      'checkpoint-instances 500',
      'checkpoint-interval 2s',
      'checkpoint-trim yes',
      'checkpoint-trim-hold 20',
      ...(o.leader ? ['leader yes'] : []),
    );
    const p = join(dir, `paxos-${s}.conf`);
    writeFileSync(p, `${lines.join('\n')}\n`);
    return p;
  });

  const proxies: LinkProxy[] = [];
  const linkOf = new Map<LinkProxy, { source: string; target: number }>();
  /** The Paxos links each kv-server dials: a wiped one's are slowed until it installed a snapshot. */
  const linksFrom: LinkProxy[][] = Array.from({ length: R }, () => []);
  for (let s = 0; s < R; s++) {
    for (let t = 0; t < R; t++) {
      if (s === t) continue;
      const p = new LinkProxy(replicaLink(s, t), paxosPort(t));
      proxies.push(p);
      linksFrom[s]?.push(p);
      linkOf.set(p, { source: `replica ${s}`, target: t });
    }
  }
  for (let c = 0; c < CLIENTS; c++) {
    for (let t = 0; t < R; t++) {
      const p = new LinkProxy(clientLink(c, t), mcPort(t));
      proxies.push(p);
      linkOf.set(p, { source: `client ${c}`, target: t });
    }
  }

  // ---- replicas ----
  interface Server {
    child: ChildProcess | null;
    incarnation: number;
    state: 'up' | 'down' | 'paused';
    ready: boolean;
    /** Its data directory was wiped and it has not said it rejoined yet: its acceptor does not vote. */
    rejoining: boolean;
    /** A snapshot transfer is under way (it said so, and has not installed it). */
    fetching: boolean;
    /** Wiped, and no peer's checkpoint installed since. */
    awaitingInstall: boolean;
    /** Its data directory is being removed (after its process exited): restarts wait for it. */
    wiped: Promise<void> | undefined;
    /** The newest checkpoint it holds on disk (written, restored or installed); 0 after a wipe. */
    checkpoint: number;
    /** The newest checkpoint it held before its last wipe: until it holds one as high, its reports are unbacked. */
    mustReach: number;
    /** Its links were slowed when its disk was wiped, until its transfer ends. */
    slowed: boolean;
    /** Its state comes from a peer's checkpoint, installed after its last wipe. */
    fromSnapshot: boolean;
  }
  const servers: Server[] = Array.from({ length: R }, () => ({
    child: null,
    incarnation: 0,
    state: 'down' as const,
    ready: false,
    rejoining: false,
    fetching: false,
    awaitingInstall: false,
    wiped: undefined,
    checkpoint: 0,
    mustReach: 0,
    slowed: false,
    fromSnapshot: false,
  }));
  /** Answers (the final reads' too) from a kv-server whose state came from a peer's checkpoint after a wipe. */
  let answeredFromSnapshot = 0;
  const startServer = (i: number, rejoin = false): void => {
    const s = servers[i] as Server;
    s.incarnation++;
    s.ready = false;
    s.fetching = false;
    const args = [
      join(here, 'kv-server.js'),
      String(i),
      configPaths[i] as string,
      '--port',
      String(mcPort(i)),
      '--host',
      '127.0.0.1',
      '--metrics-port',
      `127.0.0.1:${metricsPort(i)}`,
      ...(rejoin ? ['--rejoin'] : []),
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    s.child = child;
    s.state = 'up';
    child.stdout?.on('data', (d: Buffer) => {
      if (/ready: memcached on/.test(d.toString()) && s.child === child) s.ready = true;
    });
    /** The end of its log, as text, for a kv-server that exits by itself. */
    const tail: string[] = [];
    let partial = '';
    const errLog = join(dir, `stderr-${i}-${s.incarnation}.log`);
    child.stderr?.on('data', (d: Buffer) => {
      if (o.verbose) appendFileSync(errLog, d);
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const entry = readLogLine(line);
        const text = entry?.message ?? line;
        if (entry === undefined || entry.level !== 'debug') tail.push(text);
        if (tail.length > 20) tail.shift();
        if (/EADDRINUSE|already in use|another process is using/.test(text) && !s.ready) portClash = true;
        if (entry !== undefined && s.child === child) serverEvent(i, entry);
      }
    });
    child.once('exit', (code, signal) => {
      if (signal === null && code !== 0 && s.child === child && s.state === 'up') {
        if (partial !== '') tail.push(partial);
        const why = `kv-server ${i} exited by itself with status ${code}: ${tail.slice(-2).join(' | ')}`;
        log(why);
        // One that could not take its port (another process's connection holds it) is the port
        // search's problem, not the kv-server's; any other exit, also before it served (in a
        // rejoin or a snapshot install), is a failure.
        if (s.ready || !tail.some((l) => /EADDRINUSE|already in use|another process is using/.test(l))) unexpectedExits.push(why);
      }
    });
  };
  /**
   * A kv-server's checkpoint, transfer and rejoin lines (the `event` fields of evpaxos's JSON log
   * lines; the rejoin's fence only in its text): counted, and kept for the nemesis's wipe rules.
   */
  const serverEvent = (i: number, e: LogLine): void => {
    const s = servers[i] as Server;
    // Lines a killed (or wiped) kv-server wrote before it died may still be in the pipe: they say
    // nothing about what its disk holds now.
    if (s.state === 'down') return;
    const iid = typeof e.fields.iid === 'number' ? e.fields.iid : undefined;
    switch (e.fields.event) {
      case 'checkpoint-written':
        checkpoints.written++;
        s.checkpoint = Math.max(s.checkpoint, iid ?? 0);
        return;
      case 'checkpoint-restored':
        checkpoints.restored++;
        s.checkpoint = Math.max(s.checkpoint, iid ?? 0);
        if (o.verbose) log(`kv-server ${i}: ${e.message}`);
        return;
      case 'snapshot':
        if (e.fields.step === 'started' || e.fields.step === 'resumed') {
          if (e.fields.step === 'started') checkpoints.transfersStarted++;
          else checkpoints.transfersResumed++;
          s.fetching = true;
          log(`kv-server ${i}: ${e.message}`);
        } else if (e.fields.step === 'installed') {
          checkpoints.installed++;
          if (s.awaitingInstall) {
            checkpoints.installedAfterWipe++;
            s.fromSnapshot = true;
          }
          s.awaitingInstall = false;
          s.fetching = false;
          s.checkpoint = Math.max(s.checkpoint, iid ?? 0);
          s.slowed = false;
          for (const p of linksFrom[i] ?? []) p.setDelay(0);
          log(`kv-server ${i}: ${e.message}`);
        } else if (e.fields.step === 'caught-up' || e.fields.step === 'none-ahead') {
          // The transfer ended without an install (the log caught up, or no peer had a checkpoint
          // far enough ahead): not fetching any more, or no fault would be drawn until a restart;
          // and its links are no longer slowed.
          s.fetching = false;
          if (s.slowed) for (const p of linksFrom[i] ?? []) p.setDelay(0);
          s.slowed = false;
        }
        return;
    }
    const rejoined = /rejoined: .* up to (\d+)/.exec(e.message);
    if (rejoined !== null) {
      fences.push({ replica: i, fence: Number(rejoined[1]) });
      s.rejoining = false;
      checkpoints.rejoined++;
      log(`kv-server ${i}: ${e.message}`);
    }
  };
  const killAll = () => {
    for (const s of servers) {
      s.child?.kill('SIGCONT');
      s.child?.kill('SIGKILL');
    }
  };
  // Never leave kv-servers behind, whatever ends this process.
  process.on('exit', killAll);
  const onSignal = (signal: NodeJS.Signals) => {
    killAll();
    process.stderr.write(`stopped by ${signal}; logs kept in ${dir}\n`);
    process.exit(1);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, f: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      f();
    }, ms);
    timers.add(t);
  };
  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
  const history: MutableOp[] = [];
  const clients: MemcachedTextClient[] = [];
  let status: number | 'port-in-use' = 1;
  /** Intervals of the fault phase, also cleared if it fails. */
  const intervals: NodeJS.Timeout[] = [];
  try {
    try {
      await Promise.all(proxies.map((p) => p.start()));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') return (status = 'port-in-use');
      throw e;
    }
    for (let i = 0; i < R; i++) startServer(i);
    for (const deadline = Date.now() + READY_TIMEOUT_MS; servers.some((s) => !s.ready) && !portClash && Date.now() < deadline; ) await sleep(100);
    if (portClash) return (status = 'port-in-use');
    if (servers.some((s) => !s.ready)) throw new Error(`the kv-servers did not all say they were ready within ${READY_TIMEOUT_MS / 1000} s`);
    log(`3 kv-servers ready (leadership ${o.leader ? 'on' : 'off'}); ${CLIENTS} clients on keys ${KEYS.join(', ')}; faults for ${o.duration} s`);

    // ---- clients ----
    let running = true;
    const now = () => performance.now();
    for (let c = 0; c < CLIENTS; c++) clients.push(new MemcachedTextClient(c, (t) => clientLink(c, t)));
    const clientLoop = async (client: MemcachedTextClient, draw: Prng): Promise<void> => {
      let n = 0;
      // Bounded by the fault phase; each request by REPLY_TIMEOUT_MS.
      while (running) {
        n++;
        const req = drawRequest(draw, client, n);
        const op: MutableOp = { client: client.id, input: req.input, call: now(), output: UNKNOWN, return: Infinity };
        history.push(op);
        const reply = await client.request(req.text, req.kind, REPLY_TIMEOUT_MS);
        const output = reply === undefined ? undefined : readReply(req, reply);
        if (output !== undefined) {
          op.output = output;
          op.return = now();
          if (servers[client.target]?.fromSnapshot === true) answeredFromSnapshot++;
          if (output.status === 'values') for (const h of output.hits) if (h.cas !== undefined) client.seen.set(h.key, h.cas);
        } else {
          // No answer, or one that does not say what happened: try another replica.
          client.moveOn();
          await sleep(50 + draw.below(100));
        }
      }
    };
    // A client that fails is a failed run, never an unhandled rejection that skips the cleanup.
    const loops = clients.map((c) =>
      clientLoop(c, new Prng(o.seed * 31 + c.id + 1)).catch((e: unknown) => {
        running = false;
        unexpectedExits.push(`client ${c.id} failed: ${(e as Error).message}`);
      }),
    );

    // ---- the nemesis: at most one replica down or paused at a time (a majority stays) ----
    const maxDown = Math.floor((R - 1) / 2);
    /** The replica whose `stats` says it holds the lease (asked directly, not through a proxy). */
    const findLeader = async (): Promise<number | undefined> => {
      for (let i = 0; i < R; i++) {
        if (servers[i]?.state !== 'up') continue;
        const asker = new MemcachedTextClient(CLIENTS + 1, () => mcPort(i));
        const reply = await asker.request('stats\r\n', 'get', 1000);
        asker.drop();
        if (reply !== undefined && /\r\nSTAT paxos_leader 1\r\n/.test(`\r\n${reply}`)) return i;
      }
      return undefined;
    };
    /**
     * kv-servers that do not count towards a quorum now: down, paused, restarted but not serving
     * yet, or wiped and not yet rejoined (its acceptor votes in nothing until then).
     */
    const unavailableNow = () => servers.filter((s) => s.state !== 'up' || !s.ready || s.rejoining).length;
    /**
     * While a wiped kv-server rejoins or any fetches a snapshot, no replica is killed or paused: the
     * transfer needs a peer that has the checkpoint, and the rejoin needs every other replica.
     */
    const settling = () => servers.some((s) => s.rejoining || s.fetching);
    /**
     * Whether kv-server `i` may be wiped now. A replica that rejoined cannot vote up to its fence
     * until another one holds a checkpoint past it (README, Checkpoints and trimming): until then
     * losing a second acceptor can leave those instances without a quorum, and wiping the same
     * one again could reuse ballots only its lost acceptor saw. So every fence must be passed by
     * the checkpoint of a replica other than `i`.
     */
    const mayWipe = (i: number) => servers[i]?.state === 'up' && fences.every((f) => servers.some((s, k) => k !== i && s.checkpoint > f.fence));
    let lastWipeAt = 0;
    const faultsStarted = Date.now();
    const nemesis = async (): Promise<void> => {
      if (!running) return;
      const elapsed = Date.now() - faultsStarted;
      // The first wipe comes a quarter into the run, once the log was first trimmed, so every run
      // sees a replica catch up through a peer's checkpoint; until it happened nothing else is
      // drawn (it waits only for every replica to be up). Likewise a first kill an eighth in,
      // unless one came already, of a replica that holds a checkpoint: every run restarts one
      // from its checkpoint.
      const wipeDue = faults.wipe === 0 && maxTrim > 0 && elapsed >= (o.duration * 1000) / 4;
      // Until a kv-server has restarted from a checkpoint (a kill before any checkpoint existed
      // restores nothing), the next fault an eighth into the run kills one that holds one.
      const killDue = !wipeDue && checkpoints.restored === 0 && elapsed >= (o.duration * 1000) / 8 && servers.some((s) => s.checkpoint > 0);
      const kind = wipeDue
        ? 'wipe'
        : killDue
          ? 'kill'
          : rng.pick(o.leader ? (['kill', 'pause', 'cut', 'delay', 'reset', 'one-way', 'wipe', 'kill-leader', 'pause-leader'] as const) : (['kill', 'pause', 'cut', 'delay', 'reset', 'one-way', 'wipe'] as const));
      const unavailable = unavailableNow();
      if (kind === 'kill-leader' || kind === 'pause-leader') {
        // The leader itself, for longer than its lease (the default 2 s): another must take over,
        // and the old one must not serve lease reads when it comes back.
        const leader = unavailable < maxDown && !settling() ? await findLeader() : undefined;
        const s = leader === undefined ? undefined : servers[leader];
        if (running && leader !== undefined && s !== undefined && s.state === 'up' && unavailableNow() < maxDown && !settling()) {
          const ms = rng.between(2500, 5000);
          if (kind === 'kill-leader') {
            s.state = 'down';
            s.child?.kill('SIGKILL');
            later(ms, () => startServer(leader));
          } else {
            s.state = 'paused';
            s.child?.kill('SIGSTOP');
            later(ms, () => {
              s.child?.kill('SIGCONT');
              s.state = 'up';
            });
          }
          faults[kind] = (faults[kind] ?? 0) + 1;
          log(`${kind}: kv-server ${leader} for ${ms} ms`);
        }
      } else if (kind === 'wipe') {
        const candidates = servers.map((_, k) => k).filter(mayWipe);
        // One wipe at a time, well apart, only while every other replica is up, and one lost disk
        // at a time (README, "Checkpoints and trimming"): not before the last one wiped holds a
        // checkpoint as high as the newest it held before.
        if (maxTrim > 0 && unavailable === 0 && !settling() && candidates.length > 0 && Date.now() - lastWipeAt > 8000 && servers.every((x) => x.checkpoint >= x.mustReach)) {
          const i = rng.pick(candidates);
          const s = servers[i] as Server;
          s.state = 'down';
          s.rejoining = true;
          s.awaitingInstall = true;
          s.fromSnapshot = false;
          s.mustReach = s.checkpoint;
          s.checkpoint = 0;
          const child = s.child;
          child?.kill('SIGKILL');
          lastWipeAt = Date.now();
          // Its links are slow until it installed a snapshot (a new disk on a busy network).
          for (const p of linksFrom[i] ?? []) p.setDelay(25);
          s.slowed = true;
          // Once it is gone: its whole data directory (acceptor storage, round floor, checkpoints,
          // a partial transfer). It restarts with --rejoin (or at the heal, which waits for this).
          s.wiped = new Promise<void>((resolve) => {
            const wipe = () => {
              rmSync(`${join(dir, 'acceptor')}_${i}`, { recursive: true, force: true });
              rmSync(`${join(dir, 'ckpt')}_${i}`, { recursive: true, force: true });
              log(`kv-server ${i} killed and its data directory wiped; it restarts with --rejoin`);
              s.wiped = undefined;
              resolve();
              if (running) later(rng.between(1000, 3000), () => startServer(i, true));
            };
            if (child === null || child.exitCode !== null || child.signalCode !== null) wipe();
            else child.once('exit', wipe);
          });
          faults.wipe = (faults.wipe ?? 0) + 1;
        }
      } else if (kind === 'kill' || kind === 'pause') {
        // The first kill takes a replica that holds a checkpoint to restart from.
        const candidates = servers.map((_, k) => k).filter((k) => servers[k]?.state === 'up' && (!killDue || (servers[k]?.checkpoint ?? 0) > 0));
        if (unavailable < maxDown && !settling() && candidates.length > 0) {
          const i = rng.pick(candidates);
          const s = servers[i] as Server;
          if (kind === 'kill') {
            s.state = 'down';
            s.child?.kill('SIGKILL');
            later(rng.between(1000, 4000), () => startServer(i));
          } else {
            s.state = 'paused';
            s.child?.kill('SIGSTOP');
            later(rng.between(500, 3000), () => {
              s.child?.kill('SIGCONT');
              s.state = 'up';
            });
          }
          faults[kind] = (faults[kind] ?? 0) + 1;
          log(`${kind} kv-server ${i}`);
        }
      } else {
        const p = rng.pick(proxies);
        const ms = rng.between(500, 3000);
        if (kind === 'cut') {
          p.setCut(true);
          later(ms, () => p.setCut(false));
        } else if (kind === 'delay') {
          p.setDelay(rng.between(20, 300));
          later(ms, () => p.setDelay(0));
        } else if (kind === 'reset') {
          p.reset();
        } else {
          p.setStalled(true);
          later(ms, () => p.setStalled(false));
        }
        faults[kind] = (faults[kind] ?? 0) + 1;
        if (o.verbose) log(`${kind} on the link from ${linkOf.get(p)?.source} to kv-server ${linkOf.get(p)?.target}`);
      }
      later(rng.between(300, 1500), () => void nemesis().catch((e: unknown) => unexpectedExits.push(`the nemesis failed: ${(e as Error).message}`)));
    };
    later(1000, () => void nemesis().catch((e: unknown) => unexpectedExits.push(`the nemesis failed: ${(e as Error).message}`)));
    // The trim point, from the kv-servers' metrics (a debug line only in their logs), asked
    // directly and one poll at a time; a paused one does not answer and is skipped.
    let polling = false;
    const trimPoller: NodeJS.Timeout = setInterval(() => {
      if (polling) return;
      polling = true;
      void Promise.all(servers.map(async (s, i) => (s.state === 'up' && s.ready ? trimPoint(metricsPort(i)) : undefined)))
        .then((trims) => {
          for (const t of trims) if (t !== undefined) maxTrim = Math.max(maxTrim, t);
        })
        .finally(() => (polling = false));
    }, 500);
    intervals.push(trimPoller);
    const progress = setInterval(() => {
      const answered = history.filter((h) => h.output !== UNKNOWN).length;
      log(`faults ${Object.values(faults).reduce((a, b) => a + b, 0)}, operations ${history.length} (${answered} answered)`);
    }, 5000);
    intervals.push(progress);
    await sleep(o.duration * 1000);

    // ---- heal, read every key everywhere, check ----
    running = false;
    await Promise.all(loops);
    clearInterval(progress);
    clearInterval(trimPoller);
    for (const t of timers) clearTimeout(t);
    timers.clear();
    for (const p of proxies) p.heal();
    await Promise.all(servers.map((s) => s.wiped));
    servers.forEach((s, i) => {
      if (s.state === 'paused') s.child?.kill('SIGCONT');
      // A wiped replica not yet restarted rejoins, as it would have.
      if (s.state === 'down') startServer(i, s.rejoining);
      s.state = 'up';
    });
    // A wiped replica must come back through a peer's checkpoint (the log it would need was
    // trimmed before it was wiped): its final reads below then read a state that came from one.
    const INSTALL_WAIT_S = 60;
    for (const deadline = Date.now() + INSTALL_WAIT_S * 1000; servers.some((s) => s.awaitingInstall) && Date.now() < deadline; ) await sleep(250);
    const notInstalled = servers.flatMap((s, i) => (s.awaitingInstall ? [i] : []));
    log('healed; reading every key at every replica');
    // Final reads, after every write: the cluster must answer again, and what it answers is checked
    // with the rest. Bounded: 90 s for all of them.
    const finalDeadline = Date.now() + 90_000;
    const final = new MemcachedTextClient(CLIENTS, (t) => mcPort(t));
    clients.push(final);
    const unanswered: string[] = [];
    for (let t = 0; t < R; t++) {
      for (const key of KEYS) {
        let answered = false;
        while (!answered && Date.now() < finalDeadline) {
          final.target = t;
          const req: Request = { kind: 'get', text: `gets ${key}\r\n`, input: { op: 'get', keys: [key] } };
          const op: MutableOp = { client: CLIENTS, input: req.input, call: now(), output: UNKNOWN, return: Infinity };
          history.push(op);
          const reply = await final.request(req.text, req.kind, 5000);
          const output = reply === undefined ? undefined : readReply(req, reply);
          if (output !== undefined) {
            op.output = output;
            op.return = now();
            answered = true;
            if (servers[t]?.fromSnapshot === true) answeredFromSnapshot++;
          } else {
            final.drop();
            await sleep(500);
          }
        }
        if (!answered) unanswered.push(`${key} at kv-server ${t}`);
      }
    }

    // Every replica in the same state once they applied the same instances: the wiped one's, built
    // on a peer's snapshot, too (`stats paxos`: last applied instance and the store's digest).
    // Leader renewals keep the log moving, so the three are asked at once, again until they agree.
    const AGREE_WAIT_S = 30;
    let states: string[] = [];
    for (const deadline = Date.now() + AGREE_WAIT_S * 1000; Date.now() < deadline; await sleep(200)) {
      states = await Promise.all(servers.map((_, i) => paxosState(mcPort(i))));
      if (new Set(states).size === 1 && !states.includes('')) break;
    }
    const agree = new Set(states).size === 1 && !states.includes('');

    const violations: string[] = [];
    violations.push(...unexpectedExits);
    if (unanswered.length > 0) violations.push(`no answer 90 s after healing to gets ${unanswered.join(', ')}`);
    if (notInstalled.length > 0) violations.push(`kv-server ${notInstalled.join(', ')} was wiped and had not installed a peer's checkpoint ${INSTALL_WAIT_S} s after healing`);
    if (!agree) violations.push(`the kv-servers' states (last applied instance and digest, from stats paxos) did not agree within ${AGREE_WAIT_S} s of the final reads: ${states.map((x, i) => `kv-server ${i}: ${x === '' ? 'no answer' : x}`).join('; ')}`);
    const checkStarted = Date.now();
    const result = checkOperations(memcachedModel, history, { budget: { deadline: Date.now() + 120_000, now: Date.now } });
    // The other search too: a checker bug shows up as the two disagreeing.
    const jit = checkOperations(memcachedModel, history, { budget: { deadline: Date.now() + 120_000, now: Date.now }, algorithm: 'jit' });
    const checkMs = Date.now() - checkStarted;
    if (result.result !== 'unknown' && jit.result !== 'unknown' && jit.result !== result.result) {
      violations.push(`the linearizability checker's two searches disagree: Wing & Gong's says ${result.result}, just-in-time linearization says ${jit.result}`);
    }
    if (result.result === 'illegal') violations.push(`the history is not linearizable:\n${result.counterexample.explanation}`);
    if (result.result === 'unknown') violations.push(`the checker could not decide within its budget (${result.reason}): nothing was shown`);
    const answered = history.filter((h) => h.output !== UNKNOWN).length;
    const injected = Object.values(faults).reduce((a, b) => a + b, 0);
    if (answered === 0) violations.push(`no operation was answered in ${o.duration} s, so the run checked nothing`);
    if (injected === 0) violations.push(`no fault was injected in ${o.duration} s, so the run tested nothing; run longer`);
    const byKind: Record<string, number> = {};
    for (const h of history) byKind[h.input.op] = (byKind[h.input.op] ?? 0) + 1;
    const report = {
      workload: 'kv',
      seed: o.seed,
      replicas: R,
      durationSeconds: o.duration,
      leader: o.leader ? 'on' : 'off',
      clients: CLIENTS,
      keys: KEYS.length,
      faults,
      faultsInjected: injected,
      operationsChecked: history.length,
      operationsAnswered: answered,
      outcomeUnknown: history.length - answered,
      operations: byKind,
      checker: { verdict: result.result, jit: jit.result, steps: result.steps + jit.steps, ms: checkMs },
      // Checkpoints written; restored by a kv-server at its start; installed from a peer (after a
      // wipe, or behind the trim), those that ended a wipe; snapshot transfers started and
      // resumed; rejoins after a wipe; the highest trim point.
      checkpoints: { ...checkpoints, trimPoint: maxTrim },
      answeredFromSnapshot,
      finalStatesAgree: agree,
      violations: violations.filter((v) => v.startsWith('the history is not linearizable')).length,
      problems: violations.length,
    };
    process.stdout.write(`${JSON.stringify(report)}\n`);
    if (violations.length > 0) {
      process.stdout.write(`${violations.join('\n')}\nlogs kept in ${dir}; replay with: pnpm chaos --workload kv --duration ${o.duration} --seed ${o.seed}${o.leader ? '' : ' --leader off'}\n`);
      status = 1;
    } else {
      status = 0;
      if (o.keep) process.stdout.write(`logs kept in ${dir}\n`);
    }
  } catch (e) {
    process.stdout.write(`chaos --workload kv failed: ${(e as Error).message}; logs kept in ${dir}\n`);
    status = 1;
  } finally {
    for (const t of intervals) clearInterval(t);
    for (const t of timers) clearTimeout(t);
    for (const c of clients) c.drop();
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            const child = s.child;
            if (child === null || child.exitCode !== null || child.signalCode !== null) return resolve();
            child.kill('SIGCONT');
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 5000).unref();
          }),
      ),
    );
    await Promise.all(proxies.map((p) => p.close().catch(() => undefined)));
    process.off('exit', killAll);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if ((status === 0 || status === 'port-in-use') && !o.keep) rmSync(dir, { recursive: true, force: true });
  }
  return status;
}

// ---- kv-servers' log lines and state ----

/** The trim point a kv-server's metrics give (`paxos_checkpoint_trim_instance`), undefined if none or no answer within 400 ms. */
async function trimPoint(port: number): Promise<number | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(400) });
    const m = /^paxos_checkpoint_trim_instance (\d+)$/m.exec(await res.text());
    return m === null ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** `<last applied instance> <digest>` from a kv-server's `stats paxos` (asked directly), or '' without an answer. */
async function paxosState(port: number): Promise<string> {
  const asker = new MemcachedTextClient(CLIENTS + 2, () => port);
  try {
    const reply = await asker.request('stats paxos\r\n', 'get', 2000);
    const applied = reply === undefined ? null : /(?:^|\r\n)STAT paxos_last_applied (\d+)\r\n/.exec(reply);
    const digest = reply === undefined ? null : /(?:^|\r\n)STAT paxos_digest (\S+)\r\n/.exec(reply);
    return applied === null || digest === null ? '' : `${applied[1]} ${digest[1]}`;
  } finally {
    asker.drop();
  }
}


/** One line of a kv-server's log (`log-format json`). */
interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** A JSON log line's level, message and fields; undefined for anything else (a crash's stack trace). */
function readLogLine(line: string): LogLine | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const j = JSON.parse(line) as { level?: unknown; message?: unknown; fields?: unknown };
    if (typeof j.message !== 'string') return undefined;
    const fields = typeof j.fields === 'object' && j.fields !== null ? (j.fields as Record<string, unknown>) : {};
    return { level: typeof j.level === 'string' ? j.level : '', message: j.message, fields };
  } catch {
    return undefined;
  }
}

// ---- requests and replies ----

interface Request {
  /** How the reply ends: a get's with END, anything else's after one line. */
  readonly kind: 'get' | 'line';
  readonly text: string;
  readonly input: McInput;
}

function drawRequest(r: Prng, c: MemcachedTextClient, n: number): Request {
  const key = r.pick(KEYS);
  // Unique values, so a read says which write it saw; small numbers now and then, for incr/decr.
  const value = r.chance(1, 3) ? String(r.below(100)) : `c${c.id}v${n}`;
  const store = (op: 'set' | 'add' | 'append', v: string): Request => ({ kind: 'line', text: `${op} ${key} 0 0 ${v.length}\r\n${v}\r\n`, input: { op, key, value: v } });
  const roll = r.below(100);
  if (roll < 35) return { kind: 'get', text: `gets ${key}\r\n`, input: { op: 'get', keys: [key] } };
  if (roll < 55) return store('set', value);
  if (roll < 70) {
    // The unique this client last saw (maybe stale by now), or one made up.
    const cas = c.seen.get(key) ?? 1 + r.below(20);
    return { kind: 'line', text: `cas ${key} 0 0 ${value.length} ${cas}\r\n${value}\r\n`, input: { op: 'cas', key, value, cas } };
  }
  if (roll < 77) return { kind: 'line', text: `delete ${key}\r\n`, input: { op: 'delete', key } };
  if (roll < 89) {
    const delta = 1 + r.below(5);
    return { kind: 'line', text: `incr ${key} ${delta}\r\n`, input: { op: 'incr', key, delta: BigInt(delta) } };
  }
  if (roll < 92) return { kind: 'line', text: `decr ${key} 1\r\n`, input: { op: 'decr', key, delta: 1n } };
  if (roll < 96) return store('add', value);
  return store('append', String(r.below(10)));
}

/**
 * The model's output for a reply, or undefined when the reply does not say what happened
 * (SERVER_ERROR: no quorum in time, shutting down — the request may still take effect) or is not
 * one the request can get (then it is not an answer either, and the checker must not guess).
 */
function readReply(req: Request, reply: string): McOutput | undefined {
  if (reply.startsWith('SERVER_ERROR')) return undefined;
  if (req.kind === 'get') {
    const hits: McHit[] = [];
    let at = 0;
    for (;;) {
      const eol = reply.indexOf('\r\n', at);
      if (eol < 0) return undefined;
      const line = reply.slice(at, eol);
      if (line === 'END') return eol + 2 === reply.length ? { status: 'values', hits } : undefined;
      const m = /^VALUE (\S+) (\d+) (\d+) (\d+)$/.exec(line);
      if (m === null) return undefined;
      const length = Number(m[3]);
      const value = reply.slice(eol + 2, eol + 2 + length);
      if (reply.slice(eol + 2 + length, eol + 4 + length) !== '\r\n') return undefined;
      hits.push({ key: m[1] as string, value, flags: Number(m[2]), cas: Number(m[4]) });
      at = eol + 4 + length;
    }
  }
  const line = reply.replace(/\r\n$/, '');
  switch (line) {
    case 'STORED':
      return { status: 'stored' };
    case 'NOT_STORED':
      return { status: 'not_stored' };
    case 'EXISTS':
      return { status: 'exists' };
    case 'NOT_FOUND':
      return { status: 'not_found' };
    case 'DELETED':
      return { status: 'deleted' };
  }
  if (/^\d+$/.test(line) && (req.input.op === 'incr' || req.input.op === 'decr')) return { status: 'number', value: BigInt(line) };
  if (/^CLIENT_ERROR cannot increment or decrement non-numeric value$/.test(line)) return { status: 'non_numeric' };
  return undefined;
}

/**
 * One memcached client: one connection at a time (through its proxy to replica `target`), one
 * request at a time, each reply awaited for a bounded time.
 */
class MemcachedTextClient {
  target: number;
  readonly seen = new Map<string, number>();
  private socket: Socket | null = null;
  private buf = '';
  private wake: (() => void) | null = null;
  private closed = false;

  constructor(
    readonly id: number,
    private readonly port: (target: number) => number,
  ) {
    this.target = id % R;
  }

  /** Sends one request; its complete reply, or undefined on a timeout or a lost connection. */
  async request(text: string, kind: 'get' | 'line', timeoutMs: number): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    if (this.socket === null || this.closed) this.connect();
    this.buf = '';
    (this.socket as Socket).write(text);
    const complete = (): boolean => {
      if (kind === 'line' || /^(SERVER_ERROR|CLIENT_ERROR|ERROR)/.test(this.buf)) return this.buf.includes('\r\n');
      return this.buf === 'END\r\n' || this.buf.endsWith('\r\nEND\r\n');
    };
    while (!complete()) {
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) {
        this.drop();
        return undefined;
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 250));
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
      this.wake = null;
    }
    const reply = this.buf;
    this.buf = '';
    return reply;
  }

  /** The next replica, on a new connection. */
  moveOn(): void {
    this.drop();
    this.target = (this.target + 1) % R;
  }

  drop(): void {
    this.socket?.destroy();
    this.socket = null;
  }

  private connect(): void {
    const socket = createConnection({ host: '127.0.0.1', port: this.port(this.target) });
    this.socket = socket;
    this.closed = false;
    this.buf = '';
    socket.setEncoding('latin1');
    socket.setNoDelay(true);
    socket.on('data', (d: string) => {
      if (this.socket !== socket) return;
      this.buf += d;
      this.wake?.();
    });
    const gone = () => {
      if (this.socket !== socket) return;
      this.closed = true;
      this.wake?.();
    };
    socket.on('error', gone);
    socket.on('close', gone);
  }
}
