import { readFileSync, statSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { dirname, resolve } from 'node:path';
import { lookup } from 'node:dns/promises';
import { DEFAULT_TRIM_REPORTERS } from '@libpaxos/paxos-core';
import { LMDB_PAGE_SIZE } from './storage/record-format.js';
import { MAX_SEGMENT_INSTANCES, SEGMENT_INSTANCES } from './storage/segments.js';

/** A process address from a role line. */
export interface Address {
  /**
   * The IP address to dial and listen on (an IPv6 address without its brackets). For a line that
   * gives a host name, the name until `resolveConfig` replaces it with the address it resolves to.
   */
  readonly host: string;
  readonly port: number;
  /** `path:line` of the line that declared it, for messages. */
  readonly where: string;
  /**
   * The process of this line, as log lines and TLS certificates name it: `acceptor-<k>`,
   * `proposer-<k>` or `replica-<k>`, k being its id (its position among the acceptors, or the
   * proposers, in the file).
   */
  readonly name: string;
  /** The host name the line gave (`localhost`, `db1.example.org`), if it gave one. */
  readonly hostname?: string;
}

/** A file named by a config key (`tls-cert` …): its path, relative ones taken from the config's folder. */
export interface ConfigPath {
  readonly path: string;
  /** `path:line` of the key, for messages. */
  readonly where: string;
}

/**
 * Ours: mutual TLS on every connection (`tls-ca`, `tls-cert`, `tls-key`, all three or none).
 * `<id>` in a path stands for the process's name (`replica-0`, `learner`, `client`…).
 */
export interface TlsConfig {
  readonly ca: ConfigPath;
  readonly cert: ConfigPath;
  readonly key: ConfigPath;
}

export type LogFormat = 'text' | 'json';

export type Verbosity = 'quiet' | 'error' | 'info' | 'debug';

/**
 * The default of `accepted-digests-min-value-size`: smaller values go whole even to peers that
 * take digest votes. On loopback, where bytes cost next to nothing, digest votes never paid at any
 * size measured: they cost 10–13 % at 1 KiB and nothing measurable from 2.6 KB up, so 2 KiB
 * is a compromise, not a measured crossover (this project's 2-core machine, interleaved
 * pairs, digests against whole values in one build, values/s: 1 KiB values at -o 10 0.87x and
 * 0.90x, 64 B values in batches of ten, about 700 bytes, 0.98x, 8 KiB values 0.99x; 2.6 KB batches
 * 1.00x with an earlier codec of the digest vote; bench/LIBPAXOS3.md). Over a real network a whole
 * value also costs wire time and bandwidth: lower it there.
 */
export const DIGEST_MIN_VALUE_BYTES = 2048;

/**
 * A parsed paxos.conf. Every LibPaxos3 key keeps its meaning and default (reference §5); keys of
 * our own are marked as such.
 */
export interface PaxosConfig {
  /** Where the config came from (for messages). */
  readonly path: string;
  /** Acceptors in config order: the index is the acceptor id (LibPaxos3 ignores the id field). */
  readonly acceptors: readonly Address[];
  /** Proposers in config order: the index is the proposer id. */
  readonly proposers: readonly Address[];
  /** Whether the cluster was declared with `replica` lines (every acceptor is also a proposer). */
  readonly replicas: boolean;
  readonly verbosity: Verbosity;
  readonly tcpNodelay: boolean;
  readonly learnerCatchUp: boolean;
  /**
   * `proposer-timeout`, in seconds as LibPaxos3 has it (a fraction with ours: `250ms` is 0.25);
   * use `proposerTimeoutMs` for arithmetic.
   */
  readonly proposerTimeout: number;
  /** `proposer-timeout` in whole ms: a bare number is seconds (LibPaxos3), or `250ms`, `2s`. */
  readonly proposerTimeoutMs: number;
  readonly proposerPreexecWindow: number;
  readonly storageBackend: 'memory' | 'lmdb';
  readonly acceptorTrashFiles: boolean;
  readonly lmdbSync: boolean;
  readonly lmdbEnvPath: string;
  /** Bytes. */
  readonly lmdbMapsize: number;
  /**
   * Ours: the page size of an LMDB store this process creates (an existing one keeps its own),
   * 4 KiB (LMDB's default on most hosts, whose OS page it is) or 8 KiB. Larger pages are refused: lmdb-js's LMDB can fail
   * to split their leaves (LMDB ITS#9806; see `minStoredBytes`).
   */
  readonly lmdbPageSize: number;
  /**
   * Ours: instances per segment of an LMDB store this process creates (an existing one keeps its
   * own): each segment is an LMDB environment of its own, which a trim deletes whole (segments.ts).
   */
  readonly lmdbSegmentInstances: number;
  /** Ours: the file that keeps a split-mode proposer's round floor (`<path>_<id>`), for B2. */
  readonly proposerRoundFile: string | undefined;
  /** Ours: the largest value accepted from the network, in bytes. */
  readonly maxValueSize: number;
  /**
   * Ours: batching, cluster-wide. 0 (default): one client value per Paxos value, as LibPaxos3.
   * N > 0: proposers pack up to N queued values into one Paxos value and learners unpack them;
   * C LibPaxos3 learners would see the batch as one opaque value.
   */
  readonly proposerBatchMaxValues: number;
  /** Ours: a batch stops growing before this many bytes. */
  readonly proposerBatchMaxBytes: number;
  /**
   * Ours: leader election with a lease (`leader yes`): only the leader proposes, the others
   * forward client values to it. Off (default), every proposer proposes, as in LibPaxos3.
   */
  readonly leader: boolean;
  /** Ours: the leader's lease, in ms (`leader-lease`, default 2 s). */
  readonly leaderLeaseMs: number;
  /** Ours: how much earlier the holder gives its lease up, in ms (`leader-drift-margin`, default a tenth of the lease). */
  readonly leaderDriftMarginMs: number;
  /**
   * Ours: where a replica (or a learner with a state machine) keeps its checkpoints, `<path>_<id>`
   * (learners: `<path>_learner`). Unset: no checkpoints.
   */
  readonly checkpointDir: string | undefined;
  /** Ours: a checkpoint every this many applied instances (0: not by count). */
  readonly checkpointInstances: number;
  /** Ours: a checkpoint every this long, in ms, if anything was applied (0: not by time). */
  readonly checkpointIntervalMs: number;
  /** Ours: checkpoints kept. */
  readonly checkpointKeep: number;
  /** Ours: trim the acceptors by the lowest checkpoint the replicas report in the log. */
  readonly checkpointTrim: boolean;
  /** Ours: instances kept below the lowest reported checkpoint (PhxPaxos's SetHoldPaxosLogCount). */
  readonly checkpointTrimHold: number;
  /**
   * Ours: replicas whose checkpoint reports the first trim waits for (paxos-core's
   * `CheckpointTrim`): a report outlives the disk behind it, so trimming on one replica's report
   * alone could leave no checkpoint at the trim point once that disk is lost. Default 2, or 1 with
   * a single replica.
   */
  readonly checkpointTrimReporters: number;
  /**
   * Ours: between libpaxos-ts replicas that say so at connection start, an acceptor's accepted
   * goes without its value (a digest: paxos-core's accepted-digest.ts), since the replica's own
   * acceptor received the value in the accept. Default yes; `no` sends LibPaxos3's full messages.
   */
  readonly acceptedDigests: boolean;
  /** Ours: values smaller than this go whole even with `accepted-digests yes` (bytes; default DIGEST_MIN_VALUE_BYTES). */
  readonly acceptedDigestsMinValueSize: number;
  /** Ours: bytes per chunk of a snapshot transfer. */
  readonly snapshotChunkSize: number;
  /** Ours: chunks of a snapshot transfer in flight at once. */
  readonly snapshotWindow: number;
  /** Ours: mutual TLS on every connection; undefined (default): plain TCP, as LibPaxos3. */
  readonly tls: TlsConfig | undefined;
  /**
   * Ours: the first port of the processes' metrics and health endpoints (`metrics-port`):
   * acceptor or replica k serves on this port + k, proposer k on this port + 10 + k; learners
   * and clients only with `--metrics-port`. Undefined (default): no endpoint.
   */
  readonly metricsPort: number | undefined;
  /** Ours: `log-format` — LibPaxos3's lines (`text`, default) or one JSON object a line. */
  readonly logFormat: LogFormat;
  /**
   * Whether every address is an IP address. A config with host names is resolved by
   * `resolveConfig`, which the start functions call.
   */
  readonly resolved: boolean;
  /** Warnings about lines that LibPaxos3 accepts but that probably do not mean what they say. */
  readonly warnings: readonly string[];
}

/** A config file that cannot be used. The message names the file and line. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** LibPaxos3's limits: ballots keep the proposer id in one decimal digit; acceptor sets are small. */
export const MAX_ACCEPTORS = 10;
export const MAX_PROPOSERS = 10;

const DEFAULTS = {
  verbosity: 'info' as Verbosity,
  tcpNodelay: true,
  learnerCatchUp: true,
  proposerTimeoutMs: 1000,
  proposerPreexecWindow: 128,
  storageBackend: 'memory' as 'memory' | 'lmdb',
  acceptorTrashFiles: false,
  lmdbSync: false,
  lmdbEnvPath: '/tmp/acceptor',
  lmdbMapsize: 10 * 1024 * 1024,
  lmdbPageSize: LMDB_PAGE_SIZE,
  lmdbSegmentInstances: SEGMENT_INSTANCES,
  proposerRoundFile: undefined as string | undefined,
  maxValueSize: 16 * 1024 * 1024,
  proposerBatchMaxValues: 0,
  proposerBatchMaxBytes: 256 * 1024,
  leader: false,
  leaderLeaseMs: 2000,
  leaderDriftMarginMs: undefined as number | undefined,
  checkpointDir: undefined as string | undefined,
  checkpointInstances: 10_000,
  checkpointIntervalMs: 60_000,
  checkpointKeep: 2,
  checkpointTrim: false,
  checkpointTrimHold: 1000,
  checkpointTrimReporters: undefined as number | undefined,
  acceptedDigests: true,
  acceptedDigestsMinValueSize: DIGEST_MIN_VALUE_BYTES,
  snapshotChunkSize: 1024 * 1024,
  snapshotWindow: 4,
  tlsCa: undefined as ConfigPath | undefined,
  tlsCert: undefined as ConfigPath | undefined,
  tlsKey: undefined as ConfigPath | undefined,
  metricsPort: undefined as number | undefined,
  logFormat: 'text' as LogFormat,
};

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Settings = Mutable<typeof DEFAULTS>;

/** Where a key's line is and the folder its relative paths start from. */
interface KeyContext {
  readonly where: string;
  readonly dir: string;
}

type KeyHandler = (value: string, s: Settings, at: KeyContext) => void;

const KEYS: Record<string, KeyHandler> = {
  verbosity: (v, s) => {
    const level = v.toLowerCase();
    if (level !== 'quiet' && level !== 'error' && level !== 'info' && level !== 'debug') {
      throw new Error(`expected quiet, error, info or debug, got '${v}'`);
    }
    s.verbosity = level;
  },
  'tcp-nodelay': (v, s) => (s.tcpNodelay = yesNo(v)),
  'learner-catch-up': (v, s) => (s.learnerCatchUp = yesNo(v)),
  // LibPaxos3 reads whole seconds; `250ms` and `2s` are ours.
  'proposer-timeout': (v, s) => (s.proposerTimeoutMs = durationMs(v, 10, 86_400_000)),
  'proposer-preexec-window': (v, s) => {
    if (v.trim() === '0') throw new Error('must be at least 1; with 0 the proposer never opens an instance and nothing is ever proposed (LibPaxos3 stalls silently)');
    s.proposerPreexecWindow = positiveInt(v, 'instances', 1 << 20);
  },
  'storage-backend': (v, s) => {
    const b = v.toLowerCase();
    if (b !== 'memory' && b !== 'lmdb') throw new Error(`expected memory or lmdb, got '${v}'`);
    s.storageBackend = b;
  },
  'acceptor-trash-files': (v, s) => (s.acceptorTrashFiles = yesNo(v)),
  'lmdb-sync': (v, s) => (s.lmdbSync = yesNo(v)),
  'lmdb-env-path': (v, s) => (s.lmdbEnvPath = v),
  'lmdb-mapsize': (v, s) => (s.lmdbMapsize = bytes(v)),
  'lmdb-page-size': (v, s) => {
    const n = bytes(v);
    if (n !== 4096 && n !== 8192) {
      throw new Error(`expected 4kb or 8kb, got '${v}'${n > 8192 ? ' (larger pages meet a page-split failure in the LMDB that lmdb-js ships, LMDB ITS#9806)' : ''}`);
    }
    s.lmdbPageSize = n;
  },
  'lmdb-segment-instances': (v, s) => (s.lmdbSegmentInstances = positiveInt(v, 'instances', MAX_SEGMENT_INSTANCES)),
  'proposer-round-file': (v, s) => (s.proposerRoundFile = v),
  'max-value-size': (v, s) => (s.maxValueSize = bytes(v)),
  'proposer-batch-max-values': (v, s) => {
    if (!/^\d+$/.test(v) || Number(v) > 1 << 20) throw new Error(`expected 0 (off) to ${1 << 20} values, got '${v}'`);
    s.proposerBatchMaxValues = Number(v);
  },
  'proposer-batch-max-bytes': (v, s) => (s.proposerBatchMaxBytes = bytes(v)),
  leader: (v, s) => (s.leader = yesNo(v)),
  'leader-lease': (v, s) => (s.leaderLeaseMs = durationMs(v, 50, 3_600_000)),
  'leader-drift-margin': (v, s) => (s.leaderDriftMarginMs = durationMs(v, 1, 3_600_000)),
  'checkpoint-dir': (v, s) => (s.checkpointDir = v),
  'checkpoint-instances': (v, s) => (s.checkpointInstances = wholeNumber(v, 'instances', 0, 0xffff_ffff)),
  'checkpoint-interval': (v, s) => (s.checkpointIntervalMs = v.trim() === '0' ? 0 : durationMs(v, 100, 86_400_000)),
  'checkpoint-keep': (v, s) => (s.checkpointKeep = positiveInt(v, 'checkpoints', 1000)),
  'checkpoint-trim': (v, s) => (s.checkpointTrim = yesNo(v)),
  'accepted-digests': (v, s) => (s.acceptedDigests = yesNo(v)),
  'accepted-digests-min-value-size': (v, s) => (s.acceptedDigestsMinValueSize = bytes(v)),
  'checkpoint-trim-hold': (v, s) => (s.checkpointTrimHold = wholeNumber(v, 'instances', 0, 0xffff_ffff)),
  'checkpoint-trim-reporters': (v, s) => (s.checkpointTrimReporters = positiveInt(v, 'replicas', MAX_ACCEPTORS)),
  'snapshot-chunk-size': (v, s) => (s.snapshotChunkSize = bytes(v)),
  'snapshot-window': (v, s) => (s.snapshotWindow = positiveInt(v, 'chunks', 1024)),
  'tls-ca': (v, s, at) => (s.tlsCa = { path: resolve(at.dir, v), where: at.where }),
  'tls-cert': (v, s, at) => (s.tlsCert = { path: resolve(at.dir, v), where: at.where }),
  'tls-key': (v, s, at) => (s.tlsKey = { path: resolve(at.dir, v), where: at.where }),
  'metrics-port': (v, s) => {
    if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 65535) throw new Error(`expected a port number from 1 to 65535, got '${v}'`);
    s.metricsPort = Number(v);
  },
  'log-format': (v, s) => {
    const f = v.toLowerCase();
    if (f !== 'text' && f !== 'json') throw new Error(`expected text (LibPaxos3's lines) or json (one object a line), got '${v}'`);
    s.logFormat = f;
  },
};

const ROLE_KEYS: Record<string, 'acceptor' | 'proposer' | 'replica'> = {
  acceptor: 'acceptor',
  a: 'acceptor',
  proposer: 'proposer',
  p: 'proposer',
  replica: 'replica',
  r: 'replica',
};

/** Whether a paxos.conf line starting with `key` names a process (`acceptor`, `a`, `proposer`, `p`, `replica`, `r`). */
export function isProcessKey(key: string): boolean {
  return Object.hasOwn(ROLE_KEYS, key.toLowerCase());
}

/** Reads and parses a paxos.conf; throws `ConfigError` naming the file (and line) on any problem. */
export function readConfig(path: string): PaxosConfig {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(`${path}: cannot read the config file (${code === 'ENOENT' ? 'no such file' : String(code)})`);
  }
  if (!st.isFile()) throw new ConfigError(`${path}: not a regular file; give the path of a paxos.conf`);
  return parseConfig(readFileSync(path, 'utf8'), path);
}

/** Parses paxos.conf text. `path` is used in messages only. */
export function parseConfig(text: string, path = 'paxos.conf'): PaxosConfig {
  const s: Settings = { ...DEFAULTS };
  const acceptors: Address[] = [];
  const proposers: Address[] = [];
  const warnings: string[] = [];
  let replicas = false;
  let replicaLines = 0;
  const seen = new Map<string, string>();
  const keysSeen = new Set<string>();
  /** Lines with a host name or an IPv6 address: C LibPaxos3 reads neither. */
  const notLibpaxos3: number[] = [];
  const dir = dirname(path);
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const where = `${path}:${i + 1}`;
    const line = raw.trim();
    // LibPaxos3 skips only lines starting with '#' or empty ones, and crashes on a line of spaces;
    // an indented comment or a blank line means the same here.
    if (line === '' || line.startsWith('#')) return;
    const m = /^(\S+)(?:[ \t]+(.*))?$/.exec(line);
    const key = (m?.[1] ?? '').toLowerCase();
    const value = (m?.[2] ?? '').trim();
    try {
      // Own keys only: a line such as `constructor 0 …` is an unknown key, not a role line.
      const role = Object.hasOwn(ROLE_KEYS, key) ? ROLE_KEYS[key] : undefined;
      if (role !== undefined) {
        if (value === '') throw new Error(`'${key}' needs '<id> <host> <port>'`);
        const index = role === 'proposer' ? proposers.length : acceptors.length;
        const addr = address(value, where, index, `${role}-${index}`, warnings);
        if (addr.hostname !== undefined || isIPv6(addr.host)) notLibpaxos3.push(i + 1);
        const id = formatHostPort(addr.host, addr.port).toLowerCase();
        const other = seen.get(id);
        if (other !== undefined) throw new Error(`${formatHostPort(addr.host, addr.port)} is already used by ${other}; every process needs its own address`);
        seen.set(id, where);
        if (role === 'acceptor' || role === 'replica') acceptors.push(addr);
        if (role === 'proposer' || role === 'replica') proposers.push(addr);
        if (role === 'replica') {
          replicas = true;
          replicaLines++;
        }
        return;
      }
      const handler = Object.hasOwn(KEYS, key) ? KEYS[key] : undefined;
      if (handler === undefined) throw new Error(`unknown key '${m?.[1] ?? line}'${didYouMean(key)}`);
      if (value === '') throw new Error(`'${key}' needs a value`);
      keysSeen.add(key);
      try {
        handler(value, s, { where, dir });
      } catch (e) {
        throw new Error(`${key}: ${(e as Error).message}`);
      }
    } catch (e) {
      throw new ConfigError(`${where}: ${(e as Error).message}`);
    }
  });
  if (acceptors.length > MAX_ACCEPTORS) {
    throw new ConfigError(`${path}: ${acceptors.length} acceptors; LibPaxos3 allows at most ${MAX_ACCEPTORS} (a replica line counts as an acceptor and a proposer)`);
  }
  if (proposers.length > MAX_PROPOSERS) {
    throw new ConfigError(`${path}: ${proposers.length} proposers; at most ${MAX_PROPOSERS}, since a ballot keeps the proposer id in its last decimal digit`);
  }
  const leaderDriftMarginMs = s.leaderDriftMarginMs ?? Math.max(10, Math.floor(s.leaderLeaseMs / 10));
  if (leaderDriftMarginMs * 2 > s.leaderLeaseMs) {
    throw new ConfigError(
      `${path}: leader-drift-margin ${leaderDriftMarginMs} ms is more than half of leader-lease ${s.leaderLeaseMs} ms; a leader would hold its lease for less than half of it. Use a margin of about a tenth of the lease`,
    );
  }
  if (s.checkpointTrim && s.checkpointDir === undefined) {
    throw new ConfigError(`${path}: checkpoint-trim yes needs checkpoint-dir: a replica that keeps no checkpoints could not catch up once the others trimmed the log`);
  }
  // Only replicas report checkpoints (a learner does not propose): the default is 2, or 1 when the
  // file names a single replica.
  const checkpointTrimReporters = s.checkpointTrimReporters ?? Math.max(1, Math.min(DEFAULT_TRIM_REPORTERS, replicaLines));
  if (s.checkpointTrim && replicas && checkpointTrimReporters > replicaLines) {
    throw new ConfigError(
      `${path}: checkpoint-trim-reporters ${checkpointTrimReporters} is more than the ${replicaLines} replica${replicaLines === 1 ? '' : 's'} this file names: the acceptors would never be trimmed. Use at most ${replicaLines}`,
    );
  }
  if (keysSeen.has('checkpoint-trim-reporters') && !(s.checkpointTrim && replicas)) {
    warnings.push(`${path}: checkpoint-trim-reporters has no effect without checkpoint-trim yes and replica lines (only replicas report checkpoints)`);
  }
  if (s.checkpointDir !== undefined && s.checkpointInstances === 0 && s.checkpointIntervalMs === 0) {
    throw new ConfigError(`${path}: checkpoint-instances 0 and checkpoint-interval 0 together would never write a checkpoint; set one of them`);
  }
  // A chunk travels in one message, which max-value-size bounds (with room for its other fields).
  const chunkRoom = Math.max(1, s.maxValueSize - 4096);
  if (!keysSeen.has('snapshot-chunk-size')) s.snapshotChunkSize = Math.min(s.snapshotChunkSize, chunkRoom);
  else if (s.checkpointDir !== undefined && s.snapshotChunkSize > chunkRoom) {
    throw new ConfigError(`${path}: snapshot-chunk-size ${s.snapshotChunkSize} must be at least 4 kb below max-value-size (${s.maxValueSize}), since a chunk travels in one message`);
  }
  const { tlsCa, tlsCert, tlsKey, proposerTimeoutMs, checkpointTrimReporters: _reporters, ...rest } = s;
  const tlsKeys = { 'tls-ca': tlsCa, 'tls-cert': tlsCert, 'tls-key': tlsKey };
  const given = Object.entries(tlsKeys).filter(([, v]) => v !== undefined);
  if (given.length > 0 && given.length < 3) {
    const missing = Object.entries(tlsKeys).filter(([, v]) => v === undefined).map(([k]) => k);
    throw new ConfigError(`${given[0]?.[1]?.where ?? path}: TLS needs tls-ca, tls-cert and tls-key together; ${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} missing`);
  }
  const tls = tlsCa !== undefined && tlsCert !== undefined && tlsKey !== undefined ? { ca: tlsCa, cert: tlsCert, key: tlsKey } : undefined;
  if (notLibpaxos3.length > 0) {
    warnings.push(
      `${path}: line${notLibpaxos3.length === 1 ? '' : 's'} ${notLibpaxos3.join(', ')} ${notLibpaxos3.length === 1 ? 'gives a host name or an IPv6 address' : 'give host names or IPv6 addresses'}, which C LibPaxos3 cannot read (it takes dotted IPv4 only and would use 255.255.255.255): keep C LibPaxos3 processes out of this cluster`,
    );
  }
  const resolved = [...acceptors, ...proposers].every((a) => a.hostname === undefined);
  return {
    path,
    acceptors,
    proposers,
    replicas,
    ...rest,
    proposerTimeoutMs,
    proposerTimeout: proposerTimeoutMs / 1000,
    leaderDriftMarginMs,
    checkpointTrimReporters,
    tls,
    resolved,
    warnings,
  };
}

/** `host:port`, with an IPv6 address in brackets (`[::1]:8800`). */
export function formatHostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** An address for messages: `127.0.0.1:8800`, `[::1]:8800`, or `db1:8800 (10.0.0.5)` for a resolved host name. */
export function formatAddress(a: Address): string {
  const hostPort = formatHostPort(a.hostname ?? a.host, a.port);
  return a.hostname !== undefined && a.hostname !== a.host ? `${hostPort} (${a.host})` : hostPort;
}

function address(value: string, where: string, index: number, name: string, warnings: string[]): Address {
  const parts = value.split(/[ \t]+/);
  if (parts.length < 3) throw new Error(`expected '<id> <host> <port>', got '${value}'`);
  if (parts.length > 3) throw new Error(`unexpected '${parts.slice(3).join(' ')}' after the port`);
  const [idText, host, portText] = parts as [string, string, string];
  if (!/^\d+$/.test(idText)) throw new Error(`id '${idText}' is not a whole number`);
  if (Number(idText) !== index) {
    // LibPaxos3 ignores the id field and numbers processes by their order in the file.
    warnings.push(`${where}: id ${idText} is ignored; as in LibPaxos3 this process is number ${index}, its position in the file`);
  }
  if (!/^\d+$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    throw new Error(`port '${portText}' is not a number from 1 to 65535`);
  }
  const port = Number(portText);
  if (isIpv4(host)) return { host, port, where, name };
  if (host.startsWith('[')) {
    const inner = host.endsWith(']') ? host.slice(1, -1) : '';
    if (!isIPv6(inner)) throw new Error(`'${host}' is not an IPv6 address in brackets, like [::1] or [fe80::1%eth0]`);
    return { host: inner, port, where, name };
  }
  if (/^[\d.]+$/.test(host)) throw new Error(`'${host}' is not a dotted IPv4 address: four numbers from 0 to 255, like 127.0.0.1`);
  if (isIPv6(host)) throw new Error(`write the IPv6 address '${host}' in brackets: [${host}]`);
  if (!isHostName(host)) {
    throw new Error(`'${host}' is neither a dotted IPv4 address (127.0.0.1), an IPv6 address in brackets ([::1]) nor a host name (letters, digits, '-' and '.')`);
  }
  return { host, port, where, name, hostname: host };
}

/** RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens; the last one is not all digits. */
function isHostName(host: string): boolean {
  if (host.length > 253) return false;
  const labels = host.replace(/\.$/, '').split('.');
  return labels.every((l) => /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(l)) && !/^\d+$/.test(labels[labels.length - 1] ?? '');
}

/** Looks a host name up (the system resolver, as `getaddrinfo` does): resolves to one IP address. */
export type HostLookup = (hostname: string) => Promise<string>;

const systemLookup: HostLookup = async (hostname) => (await lookup(hostname)).address;

const LOOKUP_ERRORS: Record<string, string> = {
  ENOTFOUND: 'no such host',
  EAI_NONAME: 'no such host',
  EAI_AGAIN: 'the name server did not answer in time; try again',
  ENODATA: 'the name has no address',
};

/**
 * Replaces the host names of a config with the addresses they resolve to now (the first the
 * system resolver gives), once at start: a name that does not resolve is a `path:line` error, and
 * two lines that resolve to one address and port are refused as a duplicate. A config without
 * names comes back as it is.
 */
export async function resolveConfig(config: PaxosConfig, lookupHost: HostLookup = systemLookup): Promise<PaxosConfig> {
  if (config.resolved) return config;
  // A replica line's address is in both lists: resolve each address once, keep that sharing.
  const done = new Map<Address, Address>();
  for (const a of [...config.acceptors, ...config.proposers]) {
    if (done.has(a)) continue;
    if (a.hostname === undefined) {
      done.set(a, a);
      continue;
    }
    let ip: string;
    try {
      ip = await lookupHost(a.hostname);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      throw new ConfigError(`${a.where}: host name '${a.hostname}' does not resolve (${LOOKUP_ERRORS[code] ?? (e as Error).message}${code !== '' ? `, ${code}` : ''}); check the name or write the IP address instead`);
    }
    done.set(a, { ...a, host: ip });
  }
  const seen = new Map<string, Address>();
  for (const a of done.values()) {
    const key = formatHostPort(a.host, a.port).toLowerCase();
    const other = seen.get(key);
    if (other !== undefined) throw new ConfigError(`${a.where}: ${formatAddress(a)} is the address of ${other.where} (${formatAddress(other)}); every process needs its own address`);
    seen.set(key, a);
  }
  const map = (list: readonly Address[]) => list.map((a) => done.get(a) as Address);
  return { ...config, acceptors: map(config.acceptors), proposers: map(config.proposers), resolved: true };
}

function isIpv4(host: string): boolean {
  const octets = host.split('.');
  return octets.length === 4 && octets.every((o) => /^\d{1,3}$/.test(o) && Number(o) <= 255);
}

function yesNo(v: string): boolean {
  const b = v.toLowerCase();
  if (b === 'yes') return true;
  if (b === 'no') return false;
  throw new Error(`expected yes or no, got '${v}'`);
}

function positiveInt(v: string, unit: string, max: number): number {
  if (!/^\d+$/.test(v)) throw new Error(`expected a whole number of ${unit}, got '${v}'`);
  const n = Number(v);
  if (n < 1 || n > max) throw new Error(`expected 1 to ${max} ${unit}, got ${v}`);
  return n;
}

function wholeNumber(v: string, unit: string, min: number, max: number): number {
  if (!/^\d+$/.test(v)) throw new Error(`expected a whole number of ${unit}, got '${v}'`);
  const n = Number(v);
  if (n < min || n > max) throw new Error(`expected ${min} to ${max} ${unit}, got ${v}`);
  return n;
}

/**
 * A duration in ms: `250ms`, `2s`, or a bare number of seconds, as LibPaxos3's timeouts are
 * (`proposer-timeout 1`).
 */
export function durationMs(v: string, minMs: number, maxMs: number): number {
  const m = /^(\d+)\s*(ms|s)?$/i.exec(v);
  if (!m) throw new Error(`expected a duration such as 2 (seconds), 2s or 250ms, got '${v}'`);
  const n = Number(m[1]) * ((m[2] ?? 's').toLowerCase() === 'ms' ? 1 : 1000);
  if (n < minMs || n > maxMs) throw new Error(`expected ${minMs} ms to ${maxMs / 1000} s, got '${v}'`);
  return n;
}

function bytes(v: string): number {
  const m = /^(\d+)\s*(kb|mb|gb)?$/i.exec(v);
  if (!m) throw new Error(`expected a size such as 10485760, 512 kb, 64 mb or 2 gb, got '${v}'`);
  const unit = (m[2] ?? '').toLowerCase();
  const n = Number(m[1]) * (unit === 'kb' ? 1024 : unit === 'mb' ? 1024 ** 2 : unit === 'gb' ? 1024 ** 3 : 1);
  if (n < 1 || !Number.isSafeInteger(n)) throw new Error(`size ${v} is out of range`);
  return n;
}

function didYouMean(key: string): string {
  const candidates = [...Object.keys(KEYS), 'acceptor', 'proposer', 'replica'];
  let best = '';
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(key, c);
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(best.length / 3)) ? `; did you mean '${best}'?` : '';
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] as number;
}
