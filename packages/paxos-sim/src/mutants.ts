import { Acceptor, FIRST_IID, drop, isNoop, type Effects, type Message, type PeerId } from '@libpaxos/paxos-core';
import type { Mutant, SimOptions } from './options.js';
import { realRoles, type LearnerRole, type RoleFactory, type SimRole } from './roles.js';

/**
 * Broken cores. Each must be caught by the checkers within the CI seed budget; otherwise the
 * checkers could be passing vacuously.
 */
export function mutantRoles(mutant: Mutant, o: SimOptions): RoleFactory {
  const real = realRoles(o);
  switch (mutant) {
    case 'acceptor-skips-promise-persist':
      // Replies to prepare before (in fact without) making the promise durable.
      return {
        ...real,
        acceptor: (aid, recovered) => {
          const a = real.acceptor(aid, recovered);
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
        ...real,
        acceptor: (aid, recovered) => {
          const a = new Acceptor({ id: aid }, recovered);
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
        learner: () => new LibPaxos3Learner(o.acceptors),
      };
    case 'proposer-forgets-round-floor':
      // LibPaxos3 keeps no proposer state: every restart begins again at round 1 (bug B2).
      return { ...real, proposer: (id, _recovered, seed) => real.proposer(id, { roundFloor: 0 }, seed) };
  }
}

interface Ack {
  ballot: number;
  value: Uint8Array;
}

/** LibPaxos3's learner (reference §4.3), kept only as a mutant. */
class LibPaxos3Learner implements LearnerRole, SimRole {
  readonly lastDecided: { iid: number; value: Uint8Array }[] = [];
  private readonly quorum: number;
  private readonly instances = new Map<number, { acks: (Ack | undefined)[]; last: number; final: Uint8Array | undefined }>();
  private current = FIRST_IID;
  private highestClosed = 0;
  private lastCheck = -Infinity;

  constructor(private readonly acceptors: number) {
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
      if (!isNoop(next.final)) out.deliver.push({ iid: this.current, value: next.final, index: 0 });
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

  setInstanceId(iid: number): void {
    this.current = iid + 1;
    this.highestClosed = iid;
  }

  trim(iid: number, out: Effects): void {
    out.send.push({ to: 'acceptors', msg: { type: 'trim', iid } });
  }
}
