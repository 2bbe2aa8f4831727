import { Acceptor, type AcceptorOptions, type AcceptorRecovered } from './acceptor.js';
import type { Decision, Effects, PeerId } from './effects.js';
import type { Input } from './input.js';
import { Learner, type LearnerOptions } from './learner.js';
import type { Message } from './messages.js';
import { Proposer, type ProposerOptions, type ProposerRecovered } from './proposer.js';

export interface ReplicaOptions {
  /** Replica id: acceptor id and proposer id at once (LibPaxos3 §4.5). */
  readonly id: number;
  /** Number of replicas (each one is an acceptor). */
  readonly replicas: number;
  readonly acceptor?: Omit<AcceptorOptions, 'id'>;
  readonly proposer?: Omit<ProposerOptions, 'id' | 'acceptors'>;
  readonly learner?: Omit<LearnerOptions, 'acceptors'>;
}

export interface ReplicaRecovered {
  readonly acceptor?: AcceptorRecovered;
  readonly proposer?: ProposerRecovered;
}

/**
 * Acceptor + proposer + learner in one state machine, as LibPaxos3's replica: messages go to every
 * role subscribed to their type (acceptor, then proposer, then learner), and every instance the
 * learner decides is fed to the proposer (LibPaxos3's deliver hook calls set-instance-id), which
 * is also how the proposer learns whether a displaced value was chosen (B11).
 */
export class Replica {
  readonly id: number;
  readonly acceptor: Acceptor;
  readonly proposer: Proposer;
  readonly learner: Learner;
  /** Instances decided by the last input, in order, no-ops included (as `Learner.lastDecided`). */
  readonly lastDecided: Decision[] = [];

  constructor(options: ReplicaOptions, recovered?: ReplicaRecovered) {
    this.id = options.id;
    this.acceptor = new Acceptor({ ...options.acceptor, id: options.id }, recovered?.acceptor);
    this.proposer = new Proposer({ ...options.proposer, id: options.id, acceptors: options.replicas, fedDecisions: true }, recovered?.proposer);
    this.learner = new Learner({ ...options.learner, acceptors: options.replicas });
  }

  step(input: Input, out: Effects): void {
    this.lastDecided.length = 0;
    switch (input.kind) {
      case 'message':
        this.receive(input.from, input.msg, out);
        return;
      case 'tick':
        this.tick(input.now, out);
        return;
      case 'propose':
      case 'decided':
        this.proposer.step(input, out);
        return;
      case 'set-instance-id':
        this.proposer.setInstanceId(input.iid, out);
        this.learner.setInstanceId(input.iid);
        return;
      case 'trim':
        this.stepLearner(input, out);
        return;
    }
  }

  tick(now: number, out: Effects): void {
    this.lastDecided.length = 0;
    this.acceptor.tick(now, out);
    this.proposer.tick(now, out);
    this.stepLearner({ kind: 'tick', now }, out);
  }

  /** Submit a client value to this replica's proposer. */
  propose(value: Uint8Array, out: Effects): void {
    this.lastDecided.length = 0;
    this.proposer.propose(value, out);
  }

  /** Client values this replica's proposer still holds. */
  heldValues(): IterableIterator<Uint8Array> {
    return this.proposer.heldValues();
  }

  receive(from: PeerId, msg: Message, out: Effects): void {
    this.lastDecided.length = 0;
    switch (msg.type) {
      case 'prepare':
      case 'accept':
      case 'repeat':
      case 'trim':
        this.acceptor.receive(from, msg, out);
        return;
      case 'promise':
      case 'preempted':
      case 'client_value':
        this.proposer.receive(from, msg, out);
        return;
      case 'accepted':
      case 'acceptor_state':
        this.proposer.receive(from, msg, out);
        this.stepLearner({ kind: 'message', from, msg }, out);
        return;
    }
  }

  private stepLearner(input: Input, out: Effects): void {
    this.learner.step(input, out);
    for (const d of this.learner.lastDecided) {
      this.lastDecided.push(d);
      this.proposer.decided(d.iid, d.value, out);
    }
  }
}
