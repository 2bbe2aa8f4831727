import type { Effects, PeerId } from './effects.js';
import type { Input } from './input.js';
import { Learner, type LearnerOptions } from './learner.js';
import type { Message } from './messages.js';
import { Proposer, type ProposerOptions, type ProposerRecovered } from './proposer.js';

export interface LearningProposerOptions extends ProposerOptions {
  readonly learner?: Omit<LearnerOptions, 'acceptors'>;
}

/**
 * A split-mode proposer that also learns, from the accepted messages acceptors broadcast to it
 * anyway. Like the replica's proposer it then knows which instances are decided, which it needs
 * to re-queue displaced values safely (B11) and to re-run instances that stalled (holes, split
 * ballots). Its learner delivers nothing to an application: `out.deliver` stays untouched.
 */
export class LearningProposer {
  readonly proposer: Proposer;
  readonly learner: Learner;

  constructor(options: LearningProposerOptions, recovered?: ProposerRecovered) {
    const { learner, ...proposer } = options;
    this.proposer = new Proposer({ ...proposer, fedDecisions: true }, recovered);
    // Its learner only informs the proposer, which wants whole Paxos values: no unpacking.
    this.learner = new Learner({ ...learner, acceptors: options.acceptors, batched: false });
  }

  get id(): number {
    return this.proposer.id;
  }

  heldValues(): IterableIterator<Uint8Array> {
    return this.proposer.heldValues();
  }

  step(input: Input, out: Effects): void {
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
        this.learn(input, out);
        return;
    }
  }

  tick(now: number, out: Effects): void {
    this.proposer.tick(now, out);
    this.learn({ kind: 'tick', now }, out);
  }

  propose(value: Uint8Array, out: Effects): void {
    this.proposer.propose(value, out);
  }

  receive(from: PeerId, msg: Message, out: Effects): void {
    this.proposer.receive(from, msg, out);
    if (msg.type === 'accepted') this.learn({ kind: 'message', from, msg }, out);
    else if (msg.type === 'acceptor_state' && msg.trimIid >= this.learner.nextIid) {
      // This learner only informs the proposer: it may skip what acceptors trimmed.
      this.learner.setInstanceId(msg.trimIid);
    }
  }

  private learn(input: Input, out: Effects): void {
    const delivered = out.deliver.length;
    this.learner.step(input, out);
    out.deliver.length = delivered;
    for (const d of this.learner.lastDecided) this.proposer.decided(d.iid, d.value, out);
  }
}
