import { DEFAULT_TRIM_REPORTERS, Prng } from '@libpaxos/paxos-core';

/** Which broken core to run instead of the real one (to prove the oracle is not vacuous; see mutants.ts). */
export const MUTANTS = [
  'acceptor-skips-promise-persist',
  'libpaxos3-learner-b1',
  'proposer-forgets-round-floor',
  'learner-ignores-value-ballot',
  'proposer-takes-last-promise',
  'acceptor-ignores-promise',
  'acceptor-keeps-earlier-ballots',
  'acceptor-invents-earlier-vote',
  'learner-delivers-wrong-element',
  'proposer-drops-value',
  'proposer-corrupts-value',
  'checkpoint-claims-extra-instance',
  'trim-ignores-lagging-replica',
  'transfer-skips-chunk',
  'leader-lease-from-learn',
  'follower-proposes',
  'leader-skips-recovery',
  'kv-stale-local-read',
  'kv-retry-applied-twice',
  'kv-cas-skips-version',
  'learner-trusts-digest',
  'learner-keeps-record-bytes',
  'acceptor-forgets-unsynced',
] as const;
export type Mutant = (typeof MUTANTS)[number];

/** Knobs a mutant needs to be able to do harm at all (the CLI and the mutant test both apply them). */
export const MUTANT_OVERRIDES: Readonly<Partial<Record<Mutant, SimOverrides>>> = {
  // Without batching every delivery is position 0, where this learner is right.
  'learner-delivers-wrong-element': { batchMaxValues: 4 },
  // The checkpoint mutants need checkpoints; the transfer one needs nodes that fall behind the trim
  // (wiped disks) and snapshots of several chunks.
  // Without planned handovers: they add master operations, and one at the instance a checkpoint
  // claims beyond then shows first (in its leadership state), not the application state this
  // mutant is here to prove the rule for.
  'checkpoint-claims-extra-instance': { checkpointEvery: 5, resignEveryMs: 0 },
  'trim-ignores-lagging-replica': { checkpointEvery: 5, trimHold: 0 },
  'transfer-skips-chunk': { checkpointEvery: 5, wipePerMille: 400, chunkBytes: 16 },
  // LibPaxos3's learner has no leadership (its 11-instance repeat can fall behind a leader's pace).
  // ...nor digest votes (a C learner never announces them: it gets full accepted messages), nor
  // snapshot transfer: with disks wiped, its learners stalled for good (seed 1: every one stuck
  // below instance 72 of 413) before B1 showed.
  'libpaxos3-learner-b1': { leadership: false, acceptedDigests: false, wipePerMille: 0 },
  // Leadership mutants need leadership on; clocks that drift within the bound make a lease
  // counted without the margin overlap the next one.
  'leader-lease-from-learn': { leadership: true, driftPpm: 20_000, leaseMs: 200 },
  'follower-proposes': { leadership: true },
  'leader-skips-recovery': { leadership: true, leaseMs: 200 },
  // KV mutants break the KV state machine or its read path, so they need the KV workload; the
  // stale read is a follower's (or a lapsed leader's) state served as if under the lease.
  'kv-stale-local-read': { workload: 'kv', leadership: true },
  'kv-retry-applied-twice': { workload: 'kv' },
  'kv-cas-skips-version': { workload: 'kv' },
  // Digest votes travel between replicas only; competing proposers (leadership off) put different
  // values under different ballots of one instance, which is where trusting another ballot's value
  // goes wrong.
  'learner-trusts-digest': { mode: 'replica', acceptedDigests: true, leadership: false },
  // A replica's learner holds its acceptor's record only for digest votes.
  'learner-keeps-record-bytes': { mode: 'replica', acceptedDigests: true },
  // Forgetting happens below the memory window only, and the smallest one moves past a record
  // within a few instances, while its write may still wait for the sync.
  'acceptor-forgets-unsynced': { memoryWindow: 4 },
};

/**
 * Every knob of one run. `drawOptions` draws them all from the seed (TigerBeetle's swarm
 * testing), so different seeds explore different mixes of faults; overrides pin some down.
 */
export interface SimOptions {
  readonly seed: number;
  /** split: acceptors + proposers + learners as separate nodes; replica: LibPaxos3's replicas. */
  readonly mode: 'split' | 'replica';
  readonly acceptors: number;
  readonly proposers: number;
  readonly learners: number;
  /** Client values to submit during the fault phase. */
  readonly values: number;
  /** Length of the fault phase (simulated ms); values are submitted during its first 90%. */
  readonly faultMs: number;
  /** After healing, everything owed must be delivered within this long (simulated ms). */
  readonly healMs: number;
  /** Per-message loss and duplication, in parts per thousand. */
  readonly dropPerMille: number;
  readonly dupPerMille: number;
  /** Per-message delay: base + uniform jitter (jitter reorders). */
  readonly delayMs: number;
  readonly jitterMs: number;
  /** Time from a write to its sync. */
  readonly diskMs: number;
  /** Mean time between crashes of one node (the cluster sees nodes× as many) during the fault phase. */
  readonly crashEveryMs: number;
  /** Mean time between partitions during the fault phase. */
  readonly partitionEveryMs: number;
  readonly tickMs: number;
  readonly proposerTimeoutMs: number;
  readonly preexecWindow: number;
  /** Trim acceptors up to what every learner has delivered, now and then. */
  readonly trimEveryMs: number;
  /** Client values per Paxos value (0: no batching, LibPaxos3's one value per instance). */
  readonly batchMaxValues: number;
  /**
   * Checkpoints (issue 12): every learner and replica runs an application (`SimApp`) and checkpoints
   * it every this many applied instances, restarts from its newest checkpoint, reports it in the
   * log; acceptors are trimmed by the lowest report, and nodes behind the trim fetch snapshots.
   * 0: off (applications keep an ideal checkpoint of what they decided, and acceptors are trimmed
   * by `trimEveryMs`).
   */
  readonly checkpointEvery: number;
  /** Checkpoints kept per node. */
  readonly checkpointKeep: number;
  /** Instances kept below the lowest reported checkpoint. */
  readonly trimHold: number;
  /**
   * Nodes whose reports the first trim waits for (the core's default, 2: one disk loss at a time
   * cannot leave the trim past every checkpoint), at most the checkpointing nodes (see
   * `trimReportersOf`). 1 is the old rule, for the regression test.
   */
  readonly trimReporters: number;
  /** Bytes per chunk of a snapshot transfer, and chunks in flight. */
  readonly chunkBytes: number;
  readonly fetchWindow: number;
  /** Per crash, the chance (‰) that the node's application data (checkpoints, staged transfer) is wiped. */
  readonly wipePerMille: number;
  /**
   * Replica mode: a wiped replica loses its acceptor storage too (its whole data directory) and
   * rejoins before it starts (paxos-core's rejoin.ts).
   */
  readonly wipeAcceptors: boolean;
  /** Per step of a checkpoint write or transfer, the chance (‰) that the node crashes right there. */
  readonly crashAtStepPerMille: number;
  /** Leader election with a lease (paxos-core's leadership.ts): only the leader proposes. */
  readonly leadership: boolean;
  /** The lease; the holder's drift margin is a tenth of it. */
  readonly leaseMs: number;
  /**
   * Leadership on: mean time between planned handovers during the fault phase (the leader's
   * `dropLeadership`, as a replica before a restart, or the election sample on a signal); 0: none.
   */
  readonly resignEveryMs: number;
  /**
   * The shell's `acceptor-connected` input: a process's connection to an acceptor comes up a hop
   * after both are up and linked (at start, after either restarts, when a partition between them
   * ends), as evpaxos tells its roles. Not drawn (on); off replays the simulator as it was before
   * it modelled connections (the seeds pinned in found-core-bugs.test.ts found their bugs so).
   */
  readonly connections: boolean;
  /** Each process's clock runs at a rate within 1 ± driftPpm/10^6 of simulated time. */
  readonly driftPpm: number;
  /**
   * Break the clock assumption leadership rests on: clocks run at rates from 0.5 to 1.5. Two
   * processes believing they hold the lease is then an assumption violation (counted and
   * reported), not a failure of the protocol.
   */
  readonly driftViolation: boolean;
  /**
   * values: clients submit opaque values (the delivery oracle's workload). kv: memcached clients
   * with sessions drive the paxos-kv state machine on every application, and the history they
   * see is checked for linearizability at the end (kv-workload.ts).
   */
  readonly workload: 'values' | 'kv';
  /**
   * Replica mode: replicas send each other digest votes instead of accepted messages with the
   * value (paxos-core's accepted-digest.ts), as evpaxos replicas do with `accepted-digests yes`;
   * `mixed`: replica 0 has them off (a C LibPaxos3 replica, or `accepted-digests no`), so it gets
   * and sends LibPaxos3's full accepted messages while the others send each other digests.
   */
  readonly acceptedDigests: boolean | 'mixed';
  /**
   * Acceptors (split ones and replicas') keep about this many of their newest records in memory
   * and read older ones back from their node's disk (paxos-core's AcceptorArchive, as evpaxos's
   * LMDB storage does), small so that the archive's paths run within a sim's hundreds of instances;
   * 0: no archive, every record stays in memory (as with evpaxos's memory storage).
   */
  readonly memoryWindow: number;
  /**
   * With a memory window, the bytes of values those records may take (paxos-core's memoryBytes),
   * small so that large values' shrinking window runs with a sim's short values; 0: the core's
   * default (64 MiB, never reached here).
   */
  readonly memoryBytes: number;
  readonly mutant: Mutant | undefined;
}

export type SimOverrides = Partial<Omit<SimOptions, 'seed'>>;

/**
 * Digest votes per seed, from a hash of the seed rather than the options' PRNG (whose draws, and
 * so every other knob, stay as they were): on in 6 seeds of 8, off in one (LibPaxos3's full
 * accepted messages, `accepted-digests no`), mixed in one (a cluster with a replica that does not
 * take them), so that every path keeps being simulated.
 */
function digestsOf(seed: number): boolean | 'mixed' {
  const h = Math.imul((seed ^ 0xd16e57) >>> 0, 0x9e3779b1) >>> 29;
  return h === 0 ? false : h === 1 ? 'mixed' : true;
}

/**
 * Planned handovers per seed, from a hash of the seed as `digestsOf` (every other knob stays as it
 * was drawn): none in half of the seeds, else one every 1 or 3 s on average.
 */
function resignsOf(seed: number): number {
  const h = Math.imul((seed ^ 0x7e5197) >>> 0, 0x85ebca6b) >>> 30;
  return h < 2 ? 0 : h === 2 ? 1000 : 3000;
}

/**
 * The acceptors' memory window per seed, from a hash of the seed as `resignsOf` (with a constant
 * of its own, so it does not follow the handovers' draw; every other knob stays as it was drawn):
 * no archive in a quarter of the seeds, else 4, 16 or 64 records. A window of 4 forgets records
 * while proposers still use them (their pre-execution windows are up to 128 instances), 64 mostly
 * only what repeats ask for; none keeps the all-in-memory acceptor simulated too.
 */
function memoryWindowOf(seed: number): number {
  const h = Math.imul((seed ^ 0x3a7c1e) >>> 0, 0xc2b2ae35) >>> 30;
  return h === 0 ? 0 : h === 1 ? 4 : h === 2 ? 16 : 64;
}

/**
 * The bytes the records in an acceptor's memory window may take, per seed, from a hash of its own
 * (so no trace changes: an acceptor answers the same whatever it keeps in memory): the default in
 * half the seeds, else 48 or 256 bytes, a few of the simulation's values.
 */
function memoryBytesOf(seed: number): number {
  const h = Math.imul((seed ^ 0x6d2b79) >>> 0, 0x27d4eb2f) >>> 30;
  return h < 2 ? 0 : h === 2 ? 48 : 256;
}

/**
 * Half the seeds' acceptors hand their writes to storage only once they are synced (disk-archive.ts),
 * from a hash of the seed of its own: drawn apart from everything else, so no trace changes (an
 * acceptor with an archive answers as one without).
 */
export function archiveHandsAt(seed: number): 'write' | 'sync' {
  return Math.imul((seed ^ 0x51c3a9) >>> 0, 0x9e3779b1) >>> 31 === 1 ? 'sync' : 'write';
}

/** How many of the newest records a restarted acceptor is given (LMDB's load window): its window, or in half the seeds half of it. */
export function loadWindowOf(seed: number, memoryWindow: number): number {
  return Math.imul((seed ^ 0x2b7e15) >>> 0, 0x85ebca6b) >>> 31 === 1 ? Math.ceil(memoryWindow / 2) : memoryWindow;
}

/** Whether replica `id` takes (and sends) digest votes in a run with these options. */
export function digestsAt(o: Pick<SimOptions, 'acceptedDigests'>, id: number): boolean {
  return o.acceptedDigests === true || (o.acceptedDigests === 'mixed' && id !== 0);
}

export function drawOptions(seed: number, overrides: SimOverrides = {}): SimOptions {
  const r = new Prng(seed ^ 0x5eed);
  const mode = r.chance(1, 3) ? 'replica' : 'split';
  const acceptors = r.chance(1, 4) ? 5 : 3;
  const drawn: SimOptions = {
    seed,
    mode,
    acceptors,
    proposers: mode === 'replica' ? acceptors : r.between(1, 3),
    learners: mode === 'replica' ? acceptors : r.between(1, 3),
    values: 1000,
    faultMs: 8000,
    healMs: 60_000,
    dropPerMille: r.pick([5, 20, 50, 100]),
    dupPerMille: r.pick([5, 20, 50]),
    delayMs: r.between(1, 5),
    jitterMs: r.pick([0, 2, 10, 40]),
    diskMs: r.between(0, 3),
    crashEveryMs: r.pick([2000, 4000, 8000]),
    partitionEveryMs: r.pick([500, 1000, 2000]),
    tickMs: 10,
    proposerTimeoutMs: r.pick([100, 250, 500]),
    preexecWindow: r.pick([1, 8, 32, 128]),
    trimEveryMs: r.pick([0, 1000, 3000]),
    batchMaxValues: r.pick([0, 0, 4, 16]),
    checkpointEvery: r.pick([0, 0, 20, 50, 100]),
    checkpointKeep: r.pick([1, 2, 3]),
    trimHold: r.pick([0, 3, 20]),
    trimReporters: DEFAULT_TRIM_REPORTERS, // not drawn: seeds keep their courses
    chunkBytes: r.pick([16, 40, 100]),
    fetchWindow: r.pick([1, 2, 4]),
    wipePerMille: r.pick([0, 150, 400]),
    crashAtStepPerMille: r.pick([0, 5, 20]),
    wipeAcceptors: r.chance(1, 2),
    leadership: r.chance(1, 2),
    leaseMs: r.pick([200, 400, 800]),
    resignEveryMs: resignsOf(seed),
    connections: true,
    // Within what a tenth of the lease covers (leadership.ts): 2ρ/(1+ρ)·lease plus a 10 ms tick.
    driftPpm: r.pick([0, 1000, 10_000, 20_000]),
    driftViolation: false,
    // Not drawn: the default runs' draws (and so their trace hashes) stay as they were.
    workload: 'values',
    acceptedDigests: digestsOf(seed),
    memoryWindow: memoryWindowOf(seed),
    memoryBytes: memoryBytesOf(seed),
    mutant: undefined,
  };
  // A lease must outlast a few round trips: its holder has to get a renewal decided (two round
  // trips) well within it, or no leader ever keeps one (a deployment chooses its lease so).
  const drawnLease = drawn.leaseMs;
  const options = { ...drawn, leaseMs: Math.max(drawnLease, 8 * (drawn.delayMs + drawn.jitterMs)), ...overrides };
  // The KV workload's applications do not take part in checkpoints yet (their state is not in
  // the checkpoint a replica restores or a snapshot transfer installs, so a restored replica could
  // not answer its clients): KV runs draw no checkpoints unless asked for explicitly.
  const kv = options.workload === 'kv' && overrides.checkpointEvery === undefined ? { checkpointEvery: 0 } : {};
  if (options.mode === 'replica') return { ...options, ...kv, proposers: options.acceptors, learners: options.acceptors };
  return { ...options, ...kv };
}

/**
 * The reporters the trim waits for in this run: `trimReporters`, but no more than the nodes that
 * checkpoint (learners in split mode, replicas), as evpaxos's default is min(2, replicas): with one
 * learner it trims on that learner's reports, and its disk is never wiped once it reported.
 */
export function trimReportersOf(o: Pick<SimOptions, 'trimReporters' | 'learners'>): number {
  return Math.max(1, Math.min(o.trimReporters, o.learners));
}

/** The knobs as one line, printed before each run. */
export function describeOptions(o: SimOptions): string {
  const topology = o.mode === 'replica' ? `${o.acceptors} replicas` : `${o.acceptors}a/${o.proposers}p/${o.learners}l`;
  return [
    `seed=${o.seed}`,
    topology,
    `values=${o.values}`,
    `drop=${o.dropPerMille}‰`,
    `dup=${o.dupPerMille}‰`,
    `delay=${o.delayMs}+${o.jitterMs}ms`,
    `disk=${o.diskMs}ms`,
    `crash/node/${o.crashEveryMs}ms`,
    `partition/${o.partitionEveryMs}ms`,
    `timeout=${o.proposerTimeoutMs}ms`,
    `window=${o.preexecWindow}`,
    `trim=${o.trimEveryMs ? `/${o.trimEveryMs}ms` : 'off'}`,
    `batch=${o.batchMaxValues || 'off'}`,
    o.checkpointEvery > 0
      ? `ckpt=/${o.checkpointEvery} keep=${o.checkpointKeep} hold=${o.trimHold}${o.trimReporters === DEFAULT_TRIM_REPORTERS ? '' : ` reporters=${trimReportersOf(o)}`} chunk=${o.chunkBytes}x${o.fetchWindow} wipe=${o.wipePerMille}‰${o.mode === 'replica' && o.wipeAcceptors && o.wipePerMille > 0 ? '+acceptor' : ''} crash-at-step=${o.crashAtStepPerMille}‰`
      : 'ckpt=off',
    ...(o.workload === 'kv' ? ['workload=kv'] : []),
    ...(o.memoryWindow > 0 ? [`memory=${o.memoryWindow}${o.memoryBytes > 0 ? `,bytes=${o.memoryBytes}` : ''}${archiveHandsAt(o.seed) === 'sync' ? ',at-sync' : ''}`] : []),
    ...(o.mode === 'replica' && o.acceptedDigests !== true ? [`digests=${o.acceptedDigests === 'mixed' ? 'mixed' : 'off'}`] : []),
    o.leadership ? `leader=lease ${o.leaseMs}ms drift ${o.driftPpm}ppm${o.driftViolation ? ' VIOLATED' : ''}${o.resignEveryMs > 0 ? ` resign/${o.resignEveryMs}ms` : ''}` : 'leader=off',
    ...(o.connections ? [] : ['connections=off']),
    ...(o.mutant ? [`mutant=${o.mutant}`] : []),
  ].join(' ');
}
