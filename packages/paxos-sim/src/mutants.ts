import {
  Acceptor,
  FIRST_IID,
  bytesEqual,
  drop,
  isControlValue,
  type AcceptorRecord,
  type AcceptorRecovered,
  type Decision,
  type Effects,
  type Learner,
  type LearningProposer,
  type Message,
  type PeerId,
  type Proposer,
  type ProposerRecovered,
} from '@libpaxos/paxos-core';
import type { Mutant, SimOptions } from './options.js';
import { realRoles, type CheckpointScheduleRole, type LearnerRole, type RoleFactory, type SimAcceptorRecovered, type SimRole, type SnapshotRole } from './roles.js';

/**
 * Broken cores. Each must be caught by the oracle within the CI seed budget, in split and in
 * replica mode; otherwise the oracle could be passing vacuously. They are wrappers around the real
 * paxos-core roles (nothing in paxos-core knows about them): an acceptor mutant replaces the
 * acceptor (in a replica, the replica's acceptor part), a learner mutant changes the learner that
 * feeds an application (a split learner, or a replica's learner), a proposer mutant changes the
 * core proposer inside a split proposer or a replica.
 */
interface Mutation {
  /** Builds the acceptor from `make` (a real acceptor from a recovered state) and `recovered`. */
  acceptor?(make: (recovered: AcceptorRecovered) => Acceptor, aid: number, recovered: RecoveredAcceptor): SimRole;
  /** Changes an application's learner in place. */
  learner?(learner: Learner): void;
  /** Changes the core proposer in place (of a split proposer, or of a replica). */
  proposer?(proposer: Proposer): void;
  /** What the proposer recovers instead of its durable state. */
  proposerRecovered?(recovered: ProposerRecovered): ProposerRecovered;
  /** Changes the checkpoint schedule in place. */
  schedule?(schedule: CheckpointScheduleRole): void;
  /** Changes a learning proposer (of a split proposer, or of a replica) in place: leadership. */
  learningProposer?(lp: LearningProposer): void;
}

/** An acceptor's recovered state, read into memory so that several acceptors can be built from it. */
interface RecoveredAcceptor extends Omit<SimAcceptorRecovered, 'records' | 'fence'> {
  readonly records: readonly AcceptorRecord[];
  readonly fence: number;
}

function mutation(mutant: Mutant, o: SimOptions): Mutation {
  switch (mutant) {
    case 'acceptor-skips-promise-persist':
      // Replies to prepare before (in fact without) making the promise durable.
      return {
        acceptor: (make, _aid, recovered) => {
          const a = make(recovered);
          return {
            receive(from: PeerId, msg: Message, out: Effects) {
              const before = out.persist.length;
              a.receive(from, msg, out);
              if (msg.type === 'prepare') out.persist.length = before;
            },
            tick: (now, out) => a.tick(now, out),
          };
        },
      };
    case 'libpaxos3-learner-b1':
      // LibPaxos3's learner rule (match acks on the promised ballot, take the highest aid's value)
      // with LibPaxos3's repeat replies (they carry the promise): bug B1.
      return {
        acceptor: (make, _aid, recovered) => {
          const a = make(recovered);
          return {
            receive(from: PeerId, msg: Message, out: Effects) {
              const before = out.send.length;
              a.receive(from, msg, out);
              if (msg.type !== 'repeat') return;
              for (let i = before; i < out.send.length; i++) {
                const env = out.send[i];
                if (env?.msg.type !== 'accepted' || env.to !== 'peer') continue;
                const promised = a.record(env.msg.iid)?.ballot ?? env.msg.ballot;
                out.send[i] = { ...env, msg: { ...env.msg, ballot: promised } };
              }
            },
            tick: (now, out) => a.tick(now, out),
          };
        },
        learner: (learner) => replaceLearner(learner, new LibPaxos3Learner(o.acceptors, learner.lastDecided)),
      };
    case 'proposer-forgets-round-floor':
      // LibPaxos3 keeps no proposer state: every restart begins again at round 1 (bug B2).
      return { proposerRecovered: () => ({ roundFloor: 0 }) };
    case 'learner-ignores-value-ballot':
      // Counts acceptors that accepted the same bytes, under whatever ballots, as a quorum. Paxos
      // chooses a value only by a quorum under one ballot: a value accepted by one acceptor in
      // ballot 1 and another in ballot 3 may still lose to a value ballot 2 left elsewhere.
      return {
        learner: (learner) =>
          wrapMethod(learner, 'receive', (receive) => (from, msg, out) => {
            receive(from, msg.type === 'accepted' ? { ...msg, ballot: 1, valueBallot: 1 } : msg, out);
          }),
      };
    case 'learner-delivers-wrong-element':
      // Hands the application a batch's first value at every position of the batch. Needs batching
      // (MUTANT_OVERRIDES turns it on): without it every position is 0 and this learner is correct.
      return {
        learner: (learner) =>
          wrapMethod(learner, 'receive', (receive) => (from, msg, out) => {
            const before = out.deliver.length;
            receive(from, msg, out);
            for (let i = before; i < out.deliver.length; i++) {
              const d = out.deliver[i];
              const first = out.deliver.find((e, j) => j >= before && e.iid === d?.iid && e.index === 0);
              if (d !== undefined && first !== undefined && d.index > 0) out.deliver[i] = { ...d, value: first.value };
            }
          }),
      };
    case 'proposer-takes-last-promise':
      // Phase 1 adopts the value of the last promise that reports one, not the value accepted in
      // the highest ballot (breaks Paxos P2c): it can re-propose an older value over a chosen one.
      // The promises it sees carry ever-increasing value ballots, so the real proposer, which keeps
      // the highest, keeps the last.
      return {
        proposer: (proposer) => {
          let last = 0x8000_0000;
          wrapMethod(proposer, 'receive', (receive) => (from, msg, out) => {
            receive(from, msg.type === 'promise' && msg.valueBallot > 0 ? { ...msg, valueBallot: ++last } : msg, out);
          });
        },
      };
    case 'proposer-drops-value':
      // Silently drops every 20th client value it is given: no value-lost event, nothing held.
      return {
        proposer: (proposer) => {
          let n = 0;
          wrapMethod(proposer, 'propose', (propose) => (value, out) => {
            if (++n % 20 !== 0) propose(value, out);
          });
        },
      };
    case 'proposer-corrupts-value':
      // Appends a byte to every 20th client value (as a proposer whose copying or batching
      // mangled bytes would): the value keeps its id, so only a byte-for-byte comparison with
      // what the client sent notices.
      return {
        proposer: (proposer) => {
          let n = 0;
          wrapMethod(proposer, 'propose', (propose) => (value, out) => {
            propose(++n % 20 === 0 ? Uint8Array.of(...value, 0) : value, out);
          });
        },
      };
    case 'acceptor-ignores-promise':
      // Accepts an accept below its promise (keeping the promise) instead of answering preempted
      // (breaks Paxos P2b): a proposer that was overtaken can still get its old value chosen.
      return {
        acceptor: (make, aid, recovered) => {
          const a = new RewritableAcceptor(make, recovered);
          return {
            receive(from: PeerId, msg: Message, out: Effects) {
              const rec = msg.type === 'accept' ? a.record(msg.iid) : undefined;
              if (msg.type !== 'accept' || rec === undefined || rec.ballot <= msg.ballot) return a.receive(from, msg, out);
              const { iid, ballot, value } = msg;
              a.rewrite({ kind: 'record', iid, ballot: rec.ballot, valueBallot: ballot, value }, out);
              out.send.push({ to: 'subscribers', msg: { type: 'accepted', aid, iid, ballot, valueBallot: ballot, value } });
            },
            tick: (now, out) => a.tick(now, out),
          };
        },
      };
    case 'acceptor-keeps-earlier-ballots':
      // When it accepts a different value, keeps the earlier ballots (and the last value ballot)
      // of the value it replaces, so its repeat replies claim votes for the new value under
      // ballots that only ever carried the old one.
      return {
        acceptor: (make, _aid, recovered) => {
          const a = new RewritableAcceptor(make, recovered);
          return {
            receive(from: PeerId, msg: Message, out: Effects) {
              const old = msg.type === 'accept' ? a.record(msg.iid) : undefined;
              a.receive(from, msg, out);
              const now = msg.type === 'accept' ? a.record(msg.iid) : undefined;
              // Only where the value changed: there the real acceptor starts a fresh list.
              if (old === undefined || now === undefined || old.valueBallot === 0 || now.valueBallot === old.valueBallot) return;
              if (bytesEqual(now.value, old.value)) return;
              a.rewrite({ ...now, earlierBallots: [...(old.earlierBallots ?? []), old.valueBallot] }, out);
            },
            tick: (now, out) => a.tick(now, out),
          };
        },
      };
    case 'checkpoint-claims-extra-instance':
      // Labels each checkpoint one instance beyond the state it holds (an off-by-one in the
      // instance a snapshot is taken at): a node restarted from it skips that instance.
      return {
        schedule: (schedule) =>
          wrapMethod(schedule, 'next', (next) => (applied, now, decided) => {
            const iid = next(applied, now, decided);
            return iid === undefined ? undefined : iid + 1;
          }),
      };
    case 'trim-ignores-lagging-replica':
      // Computes the trim point from the second-lowest report when there are several, as if the
      // lowest reporter were not there: a lagging node restarting from its checkpoint is cut off.
      return {
        learner: (learner) => {
          const policy = learner.checkpointTrim;
          if (policy === undefined) return;
          let point = 0;
          wrapMethod(policy, 'report', (report) => (node, iid) => {
            report(node, iid);
            if (policy.reported.size < policy.reporters) return undefined;
            const lows = [...policy.reported.values()].sort((a, b) => a - b);
            const target = (lows.length > 1 ? (lows[1] as number) : (lows[0] as number)) - policy.hold;
            if (target <= point) return undefined;
            point = target;
            return target;
          });
        },
      };
    case 'transfer-skips-chunk':
      // Skips the second chunk of every transfer: its write never happens, but the fetcher is told
      // it did, so the staged copy has a hole where that chunk belongs.
      return {
        learner: (learner) =>
          wrapMethod(learner, 'receiveSnapshot', (receive) => (from, msg, out) => {
            const before = out.snapshot.length;
            receive(from, msg, out);
            for (let i = before; i < out.snapshot.length; i++) {
              const e = out.snapshot[i];
              if (e?.kind !== 'write' || e.offset === 0 || e.offset !== e.data.length) continue;
              out.snapshot.splice(i, 1);
              learner.snapshotIo({ kind: 'written', ref: e.ref, offset: e.offset, length: e.data.length }, out);
              return;
            }
          }),
      };
    case 'leader-lease-from-learn':
      // The holder counts its lease from when it learned its master operation, and for the whole
      // lease, like everyone else — not from before it proposed, less the drift margin. With clocks
      // that drift (within the bound) or a slow learn, its lease outlives a successor's start.
      return {
        learningProposer: (lp) => {
          const leadership = lp.leadershipState;
          if (leadership === undefined) return;
          const state = leadership as unknown as { holdUntil: number; now: number; leaseMs: number; id: number };
          wrapMethod(leadership, 'learn', (learn) => (iid, op, out) => {
            const effective = learn(iid, op, out);
            if (effective && op.kind === 'claim' && op.node === state.id && state.holdUntil > Number.NEGATIVE_INFINITY) {
              state.holdUntil = state.now + state.leaseMs;
            }
            return effective;
          });
        },
      };
    case 'follower-proposes':
      // A proposer that does not hold the lease proposes its client values itself instead of
      // forwarding them (LibPaxos3's every-proposer-proposes, with leadership pretending to be on).
      return {
        learningProposer: (lp) => {
          const proposer = lp.proposer as unknown as { leading: boolean; stopLeading(): void };
          proposer.leading = true;
          proposer.stopLeading = () => undefined;
        },
      };
    case 'leader-skips-recovery':
      // A new leader proposes at once, without running phase 1 over the instances earlier leaders
      // may have started, and so says lease reads are linearizable before it knows their values.
      return {
        learningProposer: (lp) => wrapMethod(lp.proposer, 'takeover', (takeover) => (_through, out) => takeover(0, out)),
      };
    case 'kv-stale-local-read':
    case 'kv-retry-applied-twice':
    case 'kv-cas-skips-version':
      // The core is the real one: these break the KV workload's state machine (kv-workload.ts).
      return {};
    case 'learner-trusts-digest': {
      // Counts a digest vote with the last accept value it saw for the instance, whatever ballot
      // that accept had and without comparing digests: a value of another ballot (a competing
      // proposer's) is taken for the one the acceptors voted for.
      return {
        learner: (learner) => {
          const seen = new Map<number, Uint8Array>();
          wrapMethod(learner, 'holdValue', (hold) => (iid, ballot, value, out) => {
            // A copy: the record's own bytes, delivered, would be written into by the application
            // (learner-keeps-record-bytes is that mutant).
            seen.set(iid, value.slice());
            hold(iid, ballot, value, out);
          });
          wrapMethod(learner, 'receiveDigest', (receiveDigest) => (from, msg, out) => {
            const value = seen.get(msg.iid);
            if (value === undefined) receiveDigest(from, msg, out);
            else learner.receive(from, { type: 'accepted', aid: msg.aid, iid: msg.iid, ballot: msg.ballot, valueBallot: msg.valueBallot, value }, out);
          });
        },
      };
    }
    case 'learner-keeps-record-bytes':
      // Counts digest votes with its acceptor's record bytes as if they were its own (the learner
      // before 53b4094), so the values it delivers are the record: an application writing into
      // them changes what the acceptor repeats and promises.
      return {
        learner: (learner) => {
          const inner = learner as unknown as { hold(inst: unknown, ballot: number, value: Uint8Array, borrowed: boolean): unknown };
          wrapMethod(inner, 'hold', (hold) => (inst, ballot, value, _borrowed) => hold(inst, ballot, value, false));
        },
      };
    case 'acceptor-forgets-unsynced':
      // Its storage says it holds every record the moment it is written and reads back only what
      // is synced, not the commit under way (a read outside the write transaction): below its
      // memory window the acceptor forgets records whose write is still pending and, asked about
      // them before the sync, answers from the older synced record, or from none. It can then
      // promise or accept below what it already promised or accepted. Needs a memory window
      // (MUTANT_OVERRIDES); without an archive it is the real acceptor.
      return {
        acceptor: (make, _aid, recovered) => {
          const disk = recovered.archive;
          if (disk === undefined) return make(recovered);
          return make({ ...recovered, archive: { read: (iid) => disk.readSynced(iid), holds: () => true, olderMaxBallot: () => disk.olderMaxBallot() } });
        },
      };
    case 'acceptor-invents-earlier-vote':
      // Answers each repeat with an extra vote it never cast: the value it holds, under the ballot
      // just below the one it accepted it in, as if it had accepted it there first.
      return {
        acceptor: (make, _aid, recovered) => {
          const a = make(recovered);
          return {
            receive(from: PeerId, msg: Message, out: Effects) {
              const before = out.send.length;
              a.receive(from, msg, out);
              if (msg.type !== 'repeat') return;
              const replies = out.send.splice(before);
              for (const env of replies) {
                if (env.msg.type === 'accepted' && env.msg.valueBallot > 1) {
                  const invented = env.msg.valueBallot - 1;
                  out.send.push({ ...env, msg: { ...env.msg, ballot: invented, valueBallot: invented } });
                }
                out.send.push(env);
              }
            },
            tick: (now, out) => a.tick(now, out),
          };
        },
      };
  }
}

export function mutantRoles(mutant: Mutant, o: SimOptions): RoleFactory {
  const real = realRoles(o);
  const m = mutation(mutant, o);
  const proposerRecovered = (r: ProposerRecovered): ProposerRecovered => m.proposerRecovered?.(r) ?? r;
  return {
    acceptor: (aid, recovered) => {
      if (m.acceptor === undefined) return real.acceptor(aid, recovered);
      return m.acceptor((r) => real.acceptor(aid, r), aid, readRecovered(recovered));
    },
    proposer: (id, recovered, seed) => {
      const p = real.proposer(id, proposerRecovered(recovered), seed);
      m.proposer?.(p.proposer);
      m.learningProposer?.(p);
      return p;
    },
    learner: () => {
      const l = real.learner();
      m.learner?.(l);
      return l;
    },
    replica: (id, recovered, seed) => {
      const acceptor = readRecovered(recovered.acceptor);
      const r = real.replica(id, { acceptor, proposer: proposerRecovered(recovered.proposer) }, seed);
      if (m.acceptor !== undefined) {
        // The replica's own acceptor part is bypassed: every acceptor input goes to the mutant, and
        // a rejoining replica asking this one hears what the mutant's acceptor knows (rejoin.ts).
        let inner: Acceptor | undefined;
        const part = m.acceptor((rec) => (inner = real.acceptor(id, rec)), id, acceptor);
        r.acceptor.receive = (from, msg, out) => part.receive(from, msg, out);
        r.acceptor.tick = (now, out) => part.tick(now, out);
        const own = r.acceptor;
        Object.defineProperty(r.acceptor, 'rejoinInfo', { get: () => (inner ?? own).rejoinInfo });
      }
      m.learner?.(r.learner);
      m.proposer?.(r.proposer);
      m.learningProposer?.(r.learningProposer);
      return r;
    },
    checkpointSchedule: (from, now) => {
      const s = real.checkpointSchedule(from, now);
      m.schedule?.(s);
      return s;
    },
  };
}

function readRecovered(r: SimAcceptorRecovered): RecoveredAcceptor {
  return { ...r, records: [...r.records], fence: r.fence ?? 0 };
}

/** Replaces one method of this object (not of its class) by `wrap` of the original. */
function wrapMethod<T extends object, K extends keyof T>(obj: T, key: K, wrap: (original: T[K]) => T[K]): void {
  const original = (obj[key] as (...args: never[]) => unknown).bind(obj) as T[K];
  obj[key] = wrap(original);
}

/**
 * A real acceptor whose records a mutant may rewrite. It keeps a copy of everything it persisted
 * and, after a rewrite, rebuilds the acceptor from that copy through the recovery path, so memory
 * and disk agree as they would for a real acceptor with that bug.
 */
class RewritableAcceptor implements SimRole {
  private acceptor: Acceptor;
  private readonly make: (recovered: AcceptorRecovered) => Acceptor;
  private readonly records: Map<number, AcceptorRecord>;
  private trimIid: number;
  /** What it started from: the fence, the disk's archive and what storage said of the records it did not give. */
  private readonly recovered: RecoveredAcceptor;

  constructor(make: (recovered: AcceptorRecovered) => Acceptor, recovered: RecoveredAcceptor) {
    this.make = make;
    this.acceptor = make(recovered);
    this.records = new Map(recovered.records.map((r) => [r.iid, r]));
    this.trimIid = recovered.trimIid;
    this.recovered = recovered;
  }

  record(iid: number): AcceptorRecord | undefined {
    return this.acceptor.record(iid);
  }

  receive(from: PeerId, msg: Message, out: Effects): void {
    const before = out.persist.length;
    this.acceptor.receive(from, msg, out);
    for (let i = before; i < out.persist.length; i++) {
      const p = out.persist[i];
      if (p?.kind === 'record') this.records.set(p.iid, p);
      else if (p?.kind === 'trim') {
        this.trimIid = p.iid;
        for (const iid of this.records.keys()) if (iid <= p.iid) this.records.delete(iid);
      }
    }
  }

  tick(now: number, out: Effects): void {
    this.acceptor.tick(now, out);
  }

  /** Makes `rec` the record of its instance: persisted, and in effect from now on. */
  rewrite(rec: AcceptorRecord, out: Effects): void {
    out.persist.push(rec);
    this.records.set(rec.iid, rec);
    // The rebuilt acceptor takes every record it is given as held by storage and forgets those
    // below its window at once; the disk may not have them yet (writes handed over only once
    // synced), so it reads them back from this wrapper's map, which has every record this
    // incarnation wrote or was given, and only below storage's cut at start from the disk (synced
    // then): a stale read would be the harness's fault, not the mutation's.
    const archive = this.recovered.archive;
    const records = this.records;
    this.acceptor = this.make({
      ...this.recovered,
      trimIid: this.trimIid,
      records: [...records.values()],
      ...(archive !== undefined
        ? { archive: { read: (iid: number) => records.get(iid) ?? archive.read(iid), holds: (r: AcceptorRecord) => archive.holds(r), olderMaxBallot: () => (archive.olderMaxBallot === undefined ? 0 : archive.olderMaxBallot()) } }
        : {}),
    });
  }
}

/**
 * LibPaxos3's learner (reference §4.3), kept only as a mutant. Its decisions go into `lastDecided`,
 * which may be another learner's list (a replica reads its learner's).
 */
class LibPaxos3Learner implements Omit<LearnerRole, keyof SnapshotRole>, SimRole {
  private readonly quorum: number;
  private readonly instances = new Map<number, { acks: (Ack | undefined)[]; last: number; final: Uint8Array | undefined }>();
  private current = FIRST_IID;
  private highestClosed = 0;
  private lastCheck = -Infinity;

  constructor(
    private readonly acceptors: number,
    readonly lastDecided: Decision[] = [],
  ) {
    this.quorum = Math.floor(acceptors / 2) + 1;
  }

  receive(_from: PeerId, msg: Message, out: Effects): void {
    this.lastDecided.length = 0;
    if (msg.type !== 'accepted' || msg.aid >= this.acceptors) return;
    if (msg.iid < this.current) return drop(out, 'stale', 'accepted', msg.iid);
    let inst = this.instances.get(msg.iid);
    if (inst === undefined) this.instances.set(msg.iid, (inst = { acks: [], last: 0, final: undefined }));
    if (inst.final !== undefined) return;
    const prev = inst.acks[msg.aid];
    if (prev !== undefined && prev.ballot >= msg.ballot) return;
    inst.acks[msg.aid] = { ballot: msg.ballot, value: msg.value };
    inst.last = msg.ballot;
    let count = 0;
    let final: Uint8Array | undefined;
    inst.acks.forEach((a) => {
      if (a?.ballot !== inst.last) return;
      count++;
      final = a.value;
    });
    if (count < this.quorum || final === undefined) return;
    inst.final = final;
    if (msg.iid > this.highestClosed) this.highestClosed = msg.iid;
    for (;;) {
      const next = this.instances.get(this.current);
      if (next?.final === undefined) break;
      this.instances.delete(this.current);
      this.lastDecided.push({ iid: this.current, value: next.final });
      if (!isControlValue(next.final)) out.deliver.push({ iid: this.current, value: next.final, index: 0 });
      this.current++;
    }
  }

  tick(now: number, out: Effects): void {
    this.lastDecided.length = 0;
    if (now - this.lastCheck < 100) return;
    this.lastCheck = now;
    if (this.highestClosed > this.current) {
      out.send.push({ to: 'acceptors', msg: { type: 'repeat', from: this.current, to: Math.min(this.highestClosed, this.current + 10) } });
    }
  }

  get nextIid(): number {
    return this.current;
  }

  setInstanceId(iid: number): void {
    this.lastDecided.length = 0;
    this.current = iid + 1;
    this.highestClosed = iid;
  }

  trim(iid: number, out: Effects): void {
    this.lastDecided.length = 0;
    out.send.push({ to: 'acceptors', msg: { type: 'trim', iid } });
  }
}

interface Ack {
  ballot: number;
  value: Uint8Array;
}

/** Routes every entry point of a real learner to `fake` (which writes into the learner's `lastDecided`). */
function replaceLearner(learner: Learner, fake: LibPaxos3Learner): void {
  learner.receive = (from, msg, out) => fake.receive(from, msg, out);
  learner.tick = (now, out) => fake.tick(now, out);
  learner.setInstanceId = (iid) => fake.setInstanceId(iid);
  learner.trim = (iid, out) => fake.trim(iid, out);
}
