#!/usr/bin/env node
/**
 * `kv-server <id> [config] [--port P]` (PhxPaxos's phxkv behind kvproxy's memcached front): replica
 * `<id>` of the config, applying the log to the paxos-kv state machine, and a memcached server
 * (text and binary protocols) that any memcached client can use unchanged. Writes go through the
 * log (forwarded to the leader), exactly once; gets are linearizable (a lease read on the leader,
 * else a read through the log); `--stale-port` adds a port whose gets read this replica's state as
 * it is. Prints one line on stdout when it serves:
 *
 *   kv-server <id> ready: memcached on <host>:<port> (linearizable reads)[, stale reads on <host>:<port>]
 *
 * and shuts down cleanly on SIGINT/SIGTERM (answers what is due, then closes).
 */
import { startReplica, type ReplicaHandle } from '@libpaxos/evpaxos';
import { DEFAULT_ITEM_SIZE_MAX, DEFAULT_MEMORY_LIMIT, KvStateMachine } from '@libpaxos/paxos-kv';
import { catchSignals, defaultConfigPath, fail, loadConfig, numberFlag, onSignals, operating, operatingOptions, parseId, sampleArgs, sampleLogger, say, setLogSource, tuneGc } from './cli.js';
import { Gateway } from './kv/gateway.js';
import { ReplicatedKv, replicaLog } from './kv/replica-log.js';
import { KvServer } from './kv/server.js';

catchSignals(); // before the start prints its listening line (cli.ts)

tuneGc('kv-server');

const USAGE = 'Usage: kv-server <id> [config] [--port P] [--stale-port P] [--host H] [-I SIZE] [-c N] [--request-deadline S] [--rejoin]';
const argv = operatingOptions(
  sampleArgs('kv-server').usage(
    `Usage: $0 <id> [config] [options]\n\n` +
      'Runs replica <id> of the cluster in the config (default ../paxos.conf, or ./paxos.conf) with a replicated\n' +
      'key-value store that speaks memcached (text and binary protocols). Writes go through the Paxos log and are\n' +
      'applied once; gets are linearizable unless they come to --stale-port. Every replica must be a kv-server with\n' +
      'the same -I, -m and -M. Prints "kv-server <id> ready: …" on stdout once it serves.',
  ),
)
  .option('port', { alias: 'p', coerce: numberFlag('port', { integer: true, min: 1, max: 65535 }), describe: "memcached port (linearizable reads) [default: 11311 + <id>, off memcached's 11211, where Debian's memcached package starts one]" })
  .option('stale-port', {
    coerce: numberFlag('stale-port', { integer: true, min: 1, max: 65535 }),
    describe: "a second memcached port whose gets read this replica's state as it is, which may lag the log (kvproxy's read/write split); writes there still go through the log [default: none]",
  })
  .option('host', { type: 'string', describe: "address to listen on [default: the replica's address in the config]" })
  .option('item-size-max', { alias: 'I', coerce: sizeFlag, describe: "largest item, as memcached's -I (1k to 64m; k and m suffixes) [default: 1m]" })
  .option('memory-limit', {
    alias: 'm',
    coerce: numberFlag('memory-limit', { integer: true, min: 1, max: 1024 * 1024, unit: 'megabytes' }),
    describe:
      "item memory in megabytes, as memcached's -m: when a store would take the items' bytes (memcached's `bytes` stat) past it, the least recently stored items are evicted, the same ones on every replica; at least twice -I. The process takes more than this (JavaScript objects per item, the log, sessions) [default: 64]",
  })
  .option('disable-evictions', {
    alias: 'M',
    type: 'boolean',
    default: false,
    describe: "answer SERVER_ERROR out of memory when an item does not fit, instead of evicting, as memcached's -M",
  })
  .option('max-connections', { alias: 'c', coerce: numberFlag('max-connections', { integer: true, min: 1, max: 1_000_000 }), describe: "memcached's -c [default: 1024]" })
  .option('request-deadline', {
    coerce: numberFlag('request-deadline', { above: 0, max: 3600, unit: 'seconds' }),
    describe: 'answer SERVER_ERROR when the cluster has not decided a request within this many seconds (it still takes effect at most once) [default: 30]',
  })
  .option('rejoin', { type: 'boolean', default: false, describe: 'this replica lost its data directory (its acceptor storage): rejoin safely before starting, as the replica sample does' })
  .option('clock-offset', {
    coerce: numberFlag('clock-offset', { integer: true, min: -86_400_000, max: 86_400_000, unit: 'milliseconds' }),
    describe: "add this much to this replica's wall clock (to test clock skew: only the leader's wall clock stamps requests, and expiry follows the log) [default: 0]",
  })
  .strictOptions()
  .parseSync();
const [idArg, configArg, ...extra] = argv._.map(String);
const id = parseId(idArg);
if (id === undefined || extra.length > 0) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(1);
}
const ops = operating(argv);
setLogSource(ops.logFormat ?? 'text', 'replica', id);
const config = await loadConfig(configArg ?? defaultConfigPath(), 'kv-server');
if (!config.replicas) {
  say('error', `${config.path}: declares acceptors and proposers; a kv-server is a replica, so give it a config of 'replica <id> <host> <port>' lines`);
  say('error', 'Could not start the kv-server!');
  process.exit(1);
}
if (id >= config.acceptors.length) {
  say('error', `${config.path}: there is no replica ${id}; the config has ${config.acceptors.length} (ids 0 to ${config.acceptors.length - 1})`);
  say('error', 'Could not start the kv-server!');
  process.exit(1);
}
const itemSizeMax = argv['item-size-max'] ?? DEFAULT_ITEM_SIZE_MAX;
if (itemSizeMax + 4096 > config.maxValueSize) {
  say('error', `${config.path}: max-value-size ${config.maxValueSize} bytes cannot carry items of -I ${itemSizeMax} bytes through the log; raise max-value-size above ${itemSizeMax + 4096} or lower -I`);
  say('error', 'Could not start the kv-server!');
  process.exit(1);
}
const memoryLimit = (argv['memory-limit'] ?? DEFAULT_MEMORY_LIMIT / (1024 * 1024)) * 1024 * 1024;
if (memoryLimit < 2 * itemSizeMax) {
  // memcached refuses the same: "Cannot set item size limit higher than 1/2 of memory max".
  say('error', `-m ${memoryLimit / (1024 * 1024)} (megabytes) is less than twice -I ${itemSizeMax} bytes; memcached refuses that too: raise -m or lower -I`);
  say('error', 'Could not start the kv-server!');
  process.exit(1);
}
const log = sampleLogger(config, ops, 'replica', id);
const host = argv.host ?? config.acceptors[id]?.host ?? '127.0.0.1';
// Not memcached's 11211: Debian's memcached package (the install script brings it, for memccapable
// and the benchmarks) starts a memcached there on machines with an init system.
const port = argv.port ?? 11311 + id;
const offset = argv['clock-offset'] ?? 0;

try {
  const machine = new KvStateMachine({ itemSizeMax, memoryLimit, evictions: !argv['disable-evictions'] });
  // The store is the replica's state machine: with checkpoint-dir in the config the replica
  // checkpoints it, restarts from its newest checkpoint and fetches one from a peer when it fell
  // behind the trim (issue 12), instead of replaying the log from instance 1.
  const kv = new ReplicatedKv(machine);
  let gateway: Gateway | undefined;
  const replica: ReplicaHandle<Uint8Array> = await startReplica({
    id,
    config,
    log,
    ...(ops.metrics !== undefined ? { metrics: ops.metrics } : {}),
    stateMachine: kv,
    rejoin: argv.rejoin,
    onLeaderChange: () => gateway?.leaderChanged(),
  });
  gateway = new Gateway({
    log: replicaLog(replica),
    machine,
    now: offset === 0 ? Date.now : () => Date.now() + offset,
    leadership: config.leader,
    ...(argv['request-deadline'] !== undefined ? { deadlineMs: argv['request-deadline'] * 1000 } : {}),
  });
  const g0 = gateway;
  kv.onApplied = (request) => g0.applied(request);
  if (!config.leader) log.info(`leader no in ${config.path}: no replica holds a lease, so every linearizable get goes through the log (put 'leader yes' in the config for lease reads)`);
  if (offset !== 0) log.info(`--clock-offset ${offset}: this replica's wall clock runs ${offset} ms off (it stamps requests with it while it leads)`);
  let server: KvServer;
  try {
    server = await KvServer.start({
      backend: gateway,
      host,
      port,
      ...(argv['stale-port'] !== undefined ? { stalePort: argv['stale-port'] } : {}),
      ...(argv['max-connections'] !== undefined ? { maxConnections: argv['max-connections'] } : {}),
      codec: { itemSizeMax },
      replicaId: id,
      log: (level, line) => log[level](line),
    });
  } catch (e) {
    gateway.close();
    await replica.close();
    throw e;
  }
  const at = (p: number) => (host.includes(':') ? `[${host}]:${p}` : `${host}:${p}`);
  const stale = server.ports.stalePort !== undefined ? `, stale reads on ${at(server.ports.stalePort)}` : '';
  process.stdout.write(`kv-server ${id} ready: memcached on ${at(server.ports.port)} (linearizable reads)${stale}\n`);
  const g = gateway;
  onSignals(async () => {
    await server.close();
    g.close();
    await replica.close();
  });
} catch (e) {
  fail(e, 'kv-server');
}

/** `-I 2m`, `512k`, `1048576`, as memcached reads its item size limit. */
function sizeFlag(v: unknown): number {
  const last: unknown = Array.isArray(v) ? v[v.length - 1] : v;
  const text = last === true ? '' : String(last).trim();
  const m = /^(\d+)([kKmM]?)$/.exec(text);
  const n = m === null ? NaN : Number(m[1]) * (m[2] === '' ? 1 : m[2]?.toLowerCase() === 'k' ? 1024 : 1024 * 1024);
  if (!(n >= 1024 && n <= 64 * 1024 * 1024)) throw new Error(`--item-size-max must be a size from 1k to 64m (a number of bytes, or with k or m), got ${text === '' ? 'nothing' : `'${text}'`}`);
  return n;
}
