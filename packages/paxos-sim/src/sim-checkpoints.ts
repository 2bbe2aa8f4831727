import { Prng, encodeCheckpointReport, sameRef, type Effects, type MasterState, type SnapshotEffect, type SnapshotIoResult, type SnapshotMessage, type SnapshotRef } from '@libpaxos/paxos-core';
import { CheckpointOracle } from './checkpoint-oracle.js';
import type { MasterReference } from './master-reference.js';
import { trimReportersOf, type SimOptions } from './options.js';
import type { CheckpointScheduleRole, LearnerRole, ReplicaRole } from './roles.js';
import { SimApp, simChecksum } from './sim-app.js';

/** Events of the checkpoint machinery, scheduled on the simulation's queue. */
export type CheckpointEvent =
  /** A stage of a checkpoint write finished. */
  | { readonly k: 'ckpt'; readonly node: number; readonly inc: number; readonly stage: WriteStage }
  /** The file step at the head of a node's queue finished. */
  | { readonly k: 'fio'; readonly node: number; readonly inc: number }
  /** A snapshot message arrives. */
  | { readonly k: 'snap'; readonly to: number; readonly from: number; readonly msg: SnapshotMessage };

/**
 * A checkpoint write, modelled on evpaxos's: the snapshot goes to a temporary file which is synced
 * (`written`), renamed (`renamed`), and the directory synced (`durable`). A crash before the rename
 * leaves no trace; after the rename and before the directory sync the new file may or may not
 * survive (whole either way, since it was synced).
 */
type WriteStage = 'written' | 'renamed' | 'durable';
const STAGES: readonly WriteStage[] = ['written', 'renamed', 'durable'];

/** A node as the checkpoint machinery sees it. */
export interface CheckpointNode {
  readonly index: number;
  readonly kind: 'learner' | 'replica';
  readonly name: string;
  readonly up: boolean;
  readonly incarnation: number;
  readonly role: LearnerRole | ReplicaRole | null;
  /** The next instance its learner decides. */
  readonly expectedNext: number;
}

/** What the checkpoint machinery needs from the simulation. */
export interface CheckpointHost {
  readonly now: number;
  /** Faults may be injected (the fault phase; after healing, none are). */
  readonly faulty: boolean;
  push(at: number, ev: CheckpointEvent): void;
  node(index: number): CheckpointNode;
  /** Runs an input on a node's role and carries out its effects, as any other input. */
  step(node: number, input: (role: LearnerRole | ReplicaRole, out: Effects) => void): void;
  /** Crashes `node` now (a crash at a checkpoint or transfer step). */
  crash(node: number): void;
  /** Sends a snapshot message over the simulated network (loss, delay and partitions apply). */
  transmit(from: number, to: number, msg: SnapshotMessage): void;
  /** Puts `value`, node `node`'s checkpoint report, into the log through a proposer. */
  report(node: number, value: Uint8Array): void;
  fail(what: string): void;
  checkpointSchedule(from: number, now: number): CheckpointScheduleRole;
  /** The highest trim point any acceptor made durable. */
  highestTrim(): number;
  /** The highest fence of a replica that rejoined (0: none). */
  highestFence(): number;
}

interface Checkpoint {
  readonly iid: number;
  readonly bytes: Uint8Array;
  readonly sum: Uint8Array;
  /** The checkpoint reports known as of `iid`, stored with it. */
  readonly reports: readonly (readonly [number, number])[];
  /** Leadership's state as of `iid` (leadership on, when the node knew it), stored with it. */
  readonly master: MasterState | undefined;
}

interface Staging {
  readonly ref: SnapshotRef;
  readonly bytes: Uint8Array;
  /** 1 for each byte a completed write put there. */
  readonly written: Uint8Array;
}

/** Per node: its disk (survives crashes, not wipes) and its volatile application. */
interface NodeState {
  /** Durable checkpoints, newest first. */
  durable: Checkpoint[];
  staging: Staging | undefined;
  app: SimApp;
  schedule: CheckpointScheduleRole | undefined;
  lastApplied: number;
  writing: { readonly iid: number; readonly bytes: Uint8Array; readonly reports: readonly (readonly [number, number])[]; readonly master: MasterState | undefined; stage: WriteStage | 'snapshot' } | undefined;
  io: Extract<SnapshotEffect, { kind: 'open' | 'write' | 'verify' | 'install' | 'discard' }>[];
  ioBusy: boolean;
  /** The disk was wiped after its latest report was decided (its report no longer has a checkpoint behind it). */
  wipedSinceReport: boolean;
  /** The disk was wiped at some point (reports an earlier incarnation proposed may be decided after it). */
  everWiped: boolean;
  /** A transfer episode is under way (for the behind-the-trim check, once per episode). */
  fetching: boolean;
  /** The highest checkpoint this node ever proposed a report of (a wipe does not take it back out of the log). */
  proposedReport: number;
  /** Its highest report from before a wipe while it holds no checkpoint that high again (0: none): trims may still be computed from it. */
  staleReport: number;
}

export interface CheckpointFigures {
  checkpoints: number;
  restores: number;
  transfersStarted: number;
  transfersInstalled: number;
  /** Transfers (started or resumed) that a learner's lag watch asked for (SnapshotFetch.lagging). */
  transfersLagging: number;
  chunks: number;
  wipes: number;
  /**
   * Wipes of a node whose report some learner may still read as the only one: it reported first,
   * and a node has not yet learned past the second node's first report. A trim on one report would
   * rest on that disk alone.
   */
  earlyReporterWipes: number;
  /** Wipes that took a replica's acceptor storage too, and rejoins completed. */
  acceptorWipes: number;
  rejoins: number;
  trims: number;
  stateChecks: number;
  /** Snapshot and rejoin messages the network lost or duplicated (LibPaxos3's are in FaultCounts). */
  extensionDropped: number;
  extensionDuplicated: number;
  /** Crashes injected at each step of a checkpoint write or a transfer. */
  crashesAt: Record<string, number>;
}

/**
 * Checkpoints, restarts from them, trimming by them and snapshot transfer, for every learner and
 * replica of a simulation (issue 12). The decisions are paxos-core's (`CheckpointSchedule`,
 * `SnapshotFetch` inside the learner, `CheckpointTrim`); this is the shell around them, as evpaxos's
 * `Checkpointing` is, over simulated disks: checkpoint files, a staged transfer, and the
 * application (`SimApp`). Crashes are injected at every step of a checkpoint write and of a
 * transfer, and disks are wiped now and then; `CheckpointOracle` checks the outcome.
 */
export class Checkpoints {
  readonly oracle: CheckpointOracle;
  readonly figures: CheckpointFigures = {
    checkpoints: 0,
    restores: 0,
    transfersStarted: 0,
    transfersInstalled: 0,
    transfersLagging: 0,
    chunks: 0,
    wipes: 0,
    earlyReporterWipes: 0,
    acceptorWipes: 0,
    rejoins: 0,
    trims: 0,
    stateChecks: 0,
    extensionDropped: 0,
    extensionDuplicated: 0,
    crashesAt: {},
  };
  private readonly host: CheckpointHost;
  private readonly o: SimOptions;
  private readonly nodes = new Map<number, NodeState>();
  /** Report ids by node index (replicas: their id; split learners: 100 + their number). */
  private readonly keys = new Map<number, number>();
  private readonly rng: Prng;
  /** Leadership's state as of every instance, from the chosen log (leadership on). */
  private readonly masters: MasterReference | undefined;
  /** Every checkpoint ever made, by `iid:checksum`, to check the bytes a transfer writes. */
  private readonly made = new Map<string, Uint8Array>();
  /** Trims sent: the sender's decided prefix, to tell which nodes were not yet protected by a report. */
  private readonly trimPrefixes: number[] = [];

  constructor(
    host: CheckpointHost,
    options: SimOptions,
    members: readonly { readonly index: number; readonly key: number }[],
    fail: (what: string) => void,
    chosen: (iid: number) => Uint8Array | undefined,
    masters: MasterReference | undefined,
  ) {
    this.host = host;
    this.o = options;
    this.masters = masters;
    this.rng = new Prng(options.seed * 7 + 5);
    this.oracle = new CheckpointOracle({ chosen, batched: options.batchMaxValues > 0, hold: options.trimHold, reporters: trimReportersOf(options), fail });
    for (const m of members) {
      this.keys.set(m.index, m.key);
      this.nodes.set(m.index, { durable: [], staging: undefined, app: new SimApp(), schedule: undefined, lastApplied: 0, writing: undefined, io: [], ioBusy: false, wipedSinceReport: false, everWiped: false, fetching: false, proposedReport: 0, staleReport: 0 });
    }
  }

  /** Whether `index` keeps checkpoints. */
  has(index: number): boolean {
    return this.nodes.has(index);
  }

  /** A snapshot transfer is under way on `index` (for the liveness report). */
  fetching(index: number): boolean {
    return this.nodes.get(index)?.fetching ?? false;
  }

  /**
   * Node `index` starts: its application restores the newest durable checkpoint, if any. Returns the
   * instance to start after (0: from the beginning), and the checkpoint reports and leadership
   * state its learner must take.
   */
  start(index: number): { readonly from: number; readonly reports: readonly (readonly [number, number])[]; readonly master: MasterState | undefined } {
    const s = this.state(index);
    const node = this.host.node(index);
    s.app = new SimApp();
    s.writing = undefined;
    s.io = [];
    s.ioBusy = false;
    s.fetching = false;
    const newest = s.durable[0];
    let from = 0;
    if (newest !== undefined) {
      try {
        s.app.restore(newest.bytes);
      } catch (e) {
        this.host.fail(`${node.name} cannot restore its own checkpoint of instance ${newest.iid}: ${(e as Error).message}`);
      }
      from = newest.iid;
      this.figures.restores++;
      this.oracle.expectState(from, s.app.digest, `${node.name} (incarnation ${node.incarnation}) restored from its checkpoint of instance ${from}`);
    }
    s.lastApplied = from;
    s.schedule = this.host.checkpointSchedule(from, this.host.now);
    return { from, reports: newest?.reports ?? [], master: newest?.master };
  }

  /**
   * The node crashed: what its disk keeps, and maybe a wipe of its application's data. Returns
   * whether it was wiped (the simulation may wipe a replica's acceptor storage with it).
   */
  crashed(index: number): boolean {
    const s = this.state(index);
    // The rename of a synced temporary file happened but the directory was not synced yet: the
    // new checkpoint may or may not survive (whole either way).
    const w = s.writing;
    if (w !== undefined && w.stage === 'renamed' && this.rng.chance(1, 2)) this.durable(index, s, w, false);
    s.writing = undefined;
    s.io = [];
    s.ioBusy = false;
    s.fetching = false;
    if (this.o.wipePerMille > 0 && this.rng.below(1000) < this.o.wipePerMille && this.mayWipe(index)) {
      if (this.reportedAlone(index)) this.figures.earlyReporterWipes++;
      s.staleReport = Math.max(s.staleReport, s.proposedReport);
      s.durable = [];
      s.staging = undefined;
      s.wipedSinceReport = true;
      s.everWiped = true;
      this.figures.wipes++;
      return true;
    }
    return false;
  }

  /**
   * After each step of a checkpointing node: its application applies what was delivered, a
   * checkpoint starts when due, and snapshot effects are carried out.
   */
  afterStep(index: number, out: Effects): void {
    const s = this.state(index);
    const node = this.host.node(index);
    for (const d of out.deliver) {
      s.app.apply(d.value);
      s.lastApplied = d.iid;
    }
    // The learner gave the transfer up (it caught up from the log after all, or no peer had a
    // checkpoint ahead of it): the episode is over (the liveness report said "fetching a
    // snapshot" of replicas that were not).
    for (const e of out.events) {
      if (e.kind !== 'snapshot') continue;
      if (e.step === 'caught-up' || e.step === 'none-ahead') s.fetching = false;
      else if ((e.step === 'started' || e.step === 'resumed') && e.lagging === true) this.figures.transfersLagging++;
    }
    for (const e of out.snapshot) this.effect(index, s, e);
    if (s.schedule === undefined || s.writing !== undefined || !node.up) return;
    // Every client value of the instances the learner decided is applied by now (deliveries come
    // in the step that decides them), so the state is the same through its decided prefix.
    const iid = s.schedule.next(s.lastApplied, this.host.now, Math.max(s.lastApplied, node.expectedNext - 1));
    if (iid === undefined) return;
    // The state as of the instance the checkpoint claims, taken now, between two deliveries, and
    // leadership's state as of that same instance (not as of the last one learned, which may be
    // further on: a restored node would judge the master operations in between wrongly).
    this.oracle.expectState(iid, s.app.digest, `${node.name}'s checkpoint of instance ${iid}`);
    const role = node.role as LearnerRole | ReplicaRole;
    const master = role.masterStateAsOf?.(iid);
    if (master !== undefined) this.checkMaster(`${node.name}'s checkpoint of instance ${iid}`, iid, master);
    s.writing = { iid, bytes: s.app.snapshot(), reports: role.reportsAsOf(iid), master, stage: 'snapshot' };
    this.host.push(this.host.now + this.o.diskMs, { k: 'ckpt', node: index, inc: node.incarnation, stage: 'written' });
  }

  /** A checkpoint event. */
  handle(ev: CheckpointEvent): void {
    switch (ev.k) {
      case 'ckpt':
        this.writeStage(ev.node, ev.inc, ev.stage);
        return;
      case 'fio':
        this.ioDone(ev.node, ev.inc);
        return;
      case 'snap':
        this.snapshotMessage(ev.to, ev.from, ev.msg);
        return;
    }
  }

  /** A trim `who` computed from the reports in instances 1..`decided`; checked against them. */
  trimSent(who: string, trimIid: number, decided: number): void {
    this.figures.trims++;
    this.trimPrefixes.push(decided);
    this.oracle.trimSent(who, trimIid, decided);
  }

  /**
   * An acceptor's trim point became durable: some node must hold a checkpoint at or above it, or a
   * learner behind it could never catch up. (Wipes keep to one lost disk at a time — see
   * `mayWipe` — which a trim waiting for two reporters survives: a loss here is the protocol's, not
   * the fault's, unless the run uses the old rule, `trimReporters` 1, to show it failing.)
   */
  trimDurable(acceptor: string, trimIid: number): void {
    for (const s of this.nodes.values()) if ((s.durable[0]?.iid ?? 0) >= trimIid) return;
    this.host.fail(`${acceptor} trimmed up to instance ${trimIid}, but no node holds a checkpoint of an instance ≥ ${trimIid}: a learner behind it could never catch up`);
  }

  /** At the end of a run: every live node's state equals the reference at its decided instance. */
  finish(): void {
    for (const [index, s] of this.nodes) {
      const node = this.host.node(index);
      if (!node.up || node.role === null) continue;
      this.oracle.expectState(s.lastApplied, s.app.digest, `${node.name} at the end of the run (applied through instance ${s.lastApplied})`);
    }
    this.oracle.advance();
    this.figures.stateChecks = this.oracle.checks;
  }

  // ---- checkpoint writes ----

  private writeStage(index: number, inc: number, stage: WriteStage): void {
    const node = this.host.node(index);
    const s = this.state(index);
    if (!node.up || node.incarnation !== inc || s.writing === undefined) return;
    if (this.injectCrash(index, `checkpoint ${stage === 'written' ? 'temp file written' : stage === 'renamed' ? 'renamed' : 'directory synced'}`)) return;
    s.writing.stage = stage;
    const next = STAGES[STAGES.indexOf(stage) + 1];
    if (next !== undefined) {
      this.host.push(this.host.now + this.rng.below(this.o.diskMs + 1), { k: 'ckpt', node: index, inc, stage: next });
      return;
    }
    const w = s.writing;
    s.writing = undefined;
    this.durable(index, s, w, true);
  }

  /** A checkpoint write completed: kept, and reported when the node is still running. */
  private durable(index: number, s: NodeState, w: NonNullable<NodeState['writing']>, running: boolean): void {
    const { iid, bytes, reports, master } = w;
    this.keep(s, { iid, bytes, sum: simChecksum(bytes), reports, master });
    this.figures.checkpoints++;
    // A wiped node holds a checkpoint behind its reports again once it has caught up to the
    // highest of them (a trim may have been computed from that one).
    if (iid >= this.oracle.highestReport(this.key(index))) s.wipedSinceReport = false;
    if (!running) return;
    s.schedule?.written(iid, this.host.now);
    this.reportIfWanted(index, iid);
  }

  /** A checkpoint is durable: list it, drop the ones beyond the newest `keep`. */
  private keep(s: NodeState, c: Checkpoint): void {
    this.made.set(refKey(c.iid, c.sum), c.bytes);
    s.durable = [c, ...s.durable.filter((x) => x.iid !== c.iid)].sort((a, b) => b.iid - a.iid).slice(0, this.o.checkpointKeep);
    if ((s.durable[0]?.iid ?? 0) >= s.staleReport) s.staleReport = 0;
  }

  // ---- snapshot transfer ----

  private effect(index: number, s: NodeState, e: SnapshotEffect): void {
    switch (e.kind) {
      case 'query':
        if (!s.fetching) {
          s.fetching = true;
          this.figures.transfersStarted++;
          this.checkNotLeftBehind(index, s);
        }
        for (const other of this.nodes.keys()) if (other !== index) this.host.transmit(index, other, e.msg);
        return;
      case 'send':
        this.host.transmit(index, e.peer, e.msg);
        return;
      case 'open':
      case 'write':
      case 'verify':
      case 'install':
      case 'discard':
        s.io.push(e);
        this.nextIo(index, s);
        return;
    }
  }

  /**
   * A node with a reported checkpoint and an intact disk restarts from a checkpoint at least as new
   * as its report, and trims stay `hold` below every report: it can never need a transfer. Unless a
   * trim was computed before it ever reported (it was not protected then).
   */
  private checkNotLeftBehind(index: number, s: NodeState): void {
    // A transfer for a learner stuck on an instance whose votes are gone is not about the trim.
    if (this.host.node(index).expectedNext > this.host.highestTrim()) return;
    const first = this.firstReportAt(index);
    if (first === undefined || s.wipedSinceReport) return;
    // A report its incarnation before a wipe proposed, decided only after the wipe, claims a
    // checkpoint the disk lost: trims computed from it may pass what the node holds now.
    if (s.everWiped && (s.durable[0]?.iid ?? 0) < this.oracle.highestReport(this.key(index))) return;
    if (this.trimPrefixes.some((d) => d < first)) return;
    const node = this.host.node(index);
    this.host.fail(`${node.name} is behind the acceptors' trim point and needs a snapshot, although every trim was computed with its checkpoint report (first in instance ${first}) and its disk is intact: a trim passed a reporting node`);
  }

  private nextIo(index: number, s: NodeState): void {
    if (s.ioBusy || s.io.length === 0) return;
    s.ioBusy = true;
    this.host.push(this.host.now + this.o.diskMs, { k: 'fio', node: index, inc: this.host.node(index).incarnation });
  }

  private ioDone(index: number, inc: number): void {
    const node = this.host.node(index);
    const s = this.state(index);
    if (!node.up || node.incarnation !== inc || !s.ioBusy) return;
    const e = s.io.shift();
    s.ioBusy = false;
    if (e === undefined) return;
    if (this.injectCrash(index, `transfer ${e.kind}`)) return;
    const result = this.runIo(index, s, e);
    if (result !== undefined) this.host.step(index, (role, out) => role.snapshotIo(result, out));
    if (this.host.node(index).up && this.host.node(index).incarnation === inc) this.nextIo(index, s);
  }

  private runIo(index: number, s: NodeState, e: NodeState['io'][number]): SnapshotIoResult | undefined {
    const node = this.host.node(index);
    const who = `${node.name} (incarnation ${node.incarnation})`;
    switch (e.kind) {
      case 'open': {
        if (s.staging === undefined || !sameRef(s.staging.ref, e.ref)) {
          s.staging = { ref: e.ref, bytes: new Uint8Array(e.ref.size), written: new Uint8Array(e.ref.size) };
        }
        let have = 0;
        while (have < e.ref.size && s.staging.written[have] === 1) have++;
        return { kind: 'opened', ref: e.ref, have };
      }
      case 'write': {
        const st = s.staging;
        if (st === undefined || !sameRef(st.ref, e.ref)) {
          this.host.fail(`${who} wrote to a staged copy of the checkpoint of instance ${e.ref.iid} it never opened`);
          return undefined;
        }
        const source = this.made.get(refKey(e.ref.iid, e.ref.sum));
        if (source !== undefined && !sameBytes(source.subarray(e.offset, e.offset + e.data.length), e.data)) {
          this.host.fail(`${who} wrote bytes at offset ${e.offset} of the checkpoint of instance ${e.ref.iid} that differ from that checkpoint's`);
        }
        st.bytes.set(e.data, e.offset);
        st.written.fill(1, e.offset, e.offset + e.data.length);
        this.figures.chunks++;
        return { kind: 'written', ref: e.ref, offset: e.offset, length: e.data.length };
      }
      case 'verify': {
        const st = s.staging;
        if (st === undefined || !sameRef(st.ref, e.ref)) return { kind: 'verified', ref: e.ref, ok: false };
        const hole = st.written.indexOf(0);
        if (hole >= 0) {
          let end = hole;
          while (end < st.written.length && st.written[end] === 0) end++;
          this.host.fail(`${who} asked to verify its copy of the checkpoint of instance ${e.ref.iid} with bytes ${hole}..${end - 1} never written`);
        }
        return { kind: 'verified', ref: e.ref, ok: sameBytes(simChecksum(st.bytes), e.ref.sum) };
      }
      case 'install': {
        const st = s.staging;
        if (st === undefined || !sameRef(st.ref, e.ref)) {
          this.host.fail(`${who} installed a checkpoint of instance ${e.ref.iid} it has no staged copy of`);
          return undefined;
        }
        this.keep(s, { iid: e.ref.iid, bytes: st.bytes, sum: e.ref.sum, reports: e.ref.reports ?? [], master: e.ref.master });
        s.staging = undefined;
        try {
          s.app.restore(st.bytes);
        } catch (err) {
          this.host.fail(`${who} installed the checkpoint of instance ${e.ref.iid}, which its application cannot restore: ${(err as Error).message}`);
          return { kind: 'installed', ref: e.ref, ok: false };
        }
        if (e.ref.iid < node.expectedNext - 1) this.host.fail(`${who} installed the checkpoint of instance ${e.ref.iid}, behind instance ${node.expectedNext - 1} it had decided`);
        this.oracle.expectState(e.ref.iid, s.app.digest, `${who} after installing the checkpoint of instance ${e.ref.iid}`);
        s.lastApplied = e.ref.iid;
        s.fetching = false;
        if (e.ref.iid >= this.oracle.highestReport(this.key(index))) s.wipedSinceReport = false;
        s.schedule?.written(e.ref.iid, this.host.now);
        this.figures.transfersInstalled++;
        this.reportIfWanted(index, e.ref.iid);
        return { kind: 'installed', ref: e.ref, ok: true };
      }
      case 'discard':
        s.staging = undefined;
        return undefined;
    }
  }

  /** A node that keeps checkpoints answers a query or a chunk request from its durable checkpoints. */
  private snapshotMessage(to: number, from: number, msg: SnapshotMessage): void {
    const node = this.host.node(to);
    const s = this.nodes.get(to);
    if (!node.up || node.role === null || s === undefined) return;
    switch (msg.type) {
      case 'snapshot_query': {
        const resume = msg.resume !== undefined && msg.resume.iid >= msg.need ? s.durable.find((x) => sameRef(asRef(x), msg.resume)) : undefined;
        const c = resume ?? s.durable[0];
        // A peer needs a newer checkpoint than this node has: make one (CheckpointSchedule.want).
        if ((c?.iid ?? 0) < msg.need) s.schedule?.want(msg.need);
        this.host.transmit(to, from, {
          type: 'snapshot_offer',
          iid: c?.iid ?? 0,
          size: c?.bytes.length ?? 0,
          sum: c?.sum ?? new Uint8Array(0),
          reports: c?.reports ?? [],
          ...(c?.master !== undefined ? { master: c.master } : {}),
        });
        return;
      }
      case 'snapshot_get': {
        const c = s.durable.find((x) => x.iid === msg.iid && sameBytes(x.sum, msg.sum));
        const ok = c !== undefined && msg.offset + msg.length <= c.bytes.length;
        this.host.transmit(to, from, {
          type: 'snapshot_chunk',
          iid: msg.iid,
          sum: msg.sum,
          offset: msg.offset,
          data: ok ? c.bytes.slice(msg.offset, msg.offset + msg.length) : new Uint8Array(0),
          gone: !ok,
        });
        return;
      }
      case 'snapshot_offer':
      case 'snapshot_chunk':
        this.host.step(to, (role, out) => role.receiveSnapshot(from, msg, out));
        return;
    }
  }

  /** Puts node `index`'s checkpoint of `iid` into the log, if its report can move the trim (core's `CheckpointTrim.wantsReport`). */
  private reportIfWanted(index: number, iid: number): void {
    const role = this.host.node(index).role;
    if (role !== null && role.wantsReport?.(this.key(index), iid) === false) return;
    const s = this.state(index);
    if (iid > s.proposedReport) s.proposedReport = iid;
    this.host.report(index, encodeCheckpointReport({ node: this.key(index), iid }));
  }

  /** Leadership's state `held` as of `iid` must be the chosen log's there. */
  private checkMaster(who: string, iid: number, held: MasterState): void {
    const why = this.masters?.mismatch(who, iid, held);
    if (why !== undefined) this.host.fail(why);
  }

  // ---- faults ----

  /**
   * With the seed's probability, crash the node at this step. Returns whether it crashed. A
   * transfer has few steps (one open, verify and install each, a few writes), so those are hit
   * more often: every step must see crashes over the CI seeds (about 100 transfers in 250 seeds,
   * fewer since the trim waits for two reporters).
   */
  private injectCrash(index: number, step: string): boolean {
    const perMille = step.startsWith('transfer') ? this.o.crashAtStepPerMille * (step === 'transfer write' ? 2 : 10) : this.o.crashAtStepPerMille;
    if (!this.host.faulty || perMille === 0 || this.rng.below(1000) >= perMille) return false;
    this.figures.crashesAt[step] = (this.figures.crashesAt[step] ?? 0) + 1;
    this.host.crash(index);
    return true;
  }

  /**
   * The fault model for disks: one lost at a time (none, with a single checkpointing node, once it
   * reported: its disk is the only copy). A node's reports are unbacked from a wipe until it holds
   * a checkpoint as high as every report it ever proposed (they claim checkpoints nobody may hold).
   * The core's trim waits for reports of two nodes and stays below each one's, so while at most one
   * node's reports are unbacked, every trim — sent, or still to come from any prefix of the log —
   * has a node holding a checkpoint at or above it; the checkpoint oracle checks that one does.
   * The model does not follow `trimReporters`: with 1 (the old rule) the same wipes strand trims.
   * (Seed 375 in split mode: a trim to 41 came from a log prefix holding only the report of 44 of
   * a node wiped since.) A node that never reported may be wiped whenever: trims do not rest on it.
   * A second rule is about acceptors, not trims: instances up to a rejoined replica's fence have one
   * voter fewer, and once a second acceptor is gone too (a crash) they may be learnable from no
   * quorum, only from a checkpoint, so another node must hold one above the fence.
   */
  private mayWipe(index: number): boolean {
    // A stale report is one the node proposed, so a node with one has proposedReport > 0 too.
    let unbacked = this.state(index).proposedReport > 0 ? 1 : 0;
    for (const [other, s] of this.nodes) if (other !== index && s.staleReport > 0) unbacked++;
    if (unbacked > Math.min(1, this.nodes.size - 1)) return false;
    const fence = this.host.highestFence();
    if (fence === 0) return true;
    for (const [other, s] of this.nodes) {
      if (other !== index && !s.wipedSinceReport && (s.durable[0]?.iid ?? 0) >= fence) return true;
    }
    return false;
  }

  /**
   * See `CheckpointFigures.earlyReporterWipes`: the wiped node reported first (a stretch of the log
   * before the second node's first report holds its reports alone), and a node, this one
   * included (it relearns the log), has yet to learn past that second report.
   */
  private reportedAlone(index: number): boolean {
    const first = this.oracle.firstReportAt(this.key(index));
    if (first === undefined) return false;
    const second = this.oracle.nthReporterAt(2);
    if (second === undefined) return true;
    if (first >= second) return false;
    for (const other of this.nodes.keys()) if (this.host.node(other).expectedNext <= second) return true;
    return false;
  }

  /** Whether a node other than `except` holds a durable checkpoint of an instance ≥ `iid`. */
  checkpointAtLeast(iid: number, except: number): boolean {
    for (const [index, s] of this.nodes) if (index !== except && (s.durable[0]?.iid ?? 0) >= iid) return true;
    return false;
  }

  private firstReportAt(index: number): number | undefined {
    return this.oracle.firstReportAt(this.key(index));
  }

  private key(index: number): number {
    return this.keys.get(index) as number;
  }

  private state(index: number): NodeState {
    const s = this.nodes.get(index);
    if (s === undefined) throw new Error(`node ${index} keeps no checkpoints`);
    return s;
  }
}

function refKey(iid: number, sum: Uint8Array): string {
  return `${iid}:${[...sum].join(',')}`;
}

function asRef(c: Checkpoint): SnapshotRef {
  return { iid: c.iid, size: c.bytes.length, sum: c.sum };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
