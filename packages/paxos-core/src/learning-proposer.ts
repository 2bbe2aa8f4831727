import type { Decision, Effects, PeerId } from './effects.js';
import { dispatchInput, type Input } from './input.js';
import { Learner, type LearnerOptions } from './learner.js';
import type { Message } from './messages.js';
import { Proposer, type ProposerOptions, type ProposerRecovered } from './proposer.js';

export interface LearningProposerOptions extends ProposerOptions {
  readonly learner?: Omit<LearnerOptions, 'acceptors'>;
  /**
   * Hand the learner's deliveries to the application (a replica). Without it, the learner only
   * informs the proposer and `out.deliver` stays untouched (a split-mode proposer).
   */
  readonly deliver?: boolean;
}

/**
 * A proposer fed by a learner that listens to the same accepted messages (acceptors broadcast them
 * to proposers anyway). Knowing which instances are decided, the proposer re-queues displaced
 * values safely (B11) and re-runs instances whose decisions stall (holes, split ballots). It is
 * the split-mode proposer; a `Replica` adds an acceptor and delivers.
 */
export class LearningProposer {
  readonly proposer: Proposer;
  readonly learner: Learner;
  /** Instances decided by the last input, in order, no-ops included (as `Learner.lastDecided`). */
  readonly lastDecided: Decision[] = [];
  private readonly deliver: boolean;

  constructor(options: LearningProposerOptions, recovered?: ProposerRecovered) {
    const { learner, deliver, ...proposer } = options;
    this.deliver = deliver ?? false;
    this.proposer = new Proposer({ ...proposer, fedDecisions: true }, recovered);
    // A learner that only informs the proposer wants whole Paxos values: no unpacking.
    this.learner = new Learner({ ...learner, acceptors: options.acceptors, ...(this.deliver ? {} : { batched: false }) });
  }

  get id(): number {
    return this.proposer.id;
  }

  /** Client values the proposer still holds. */
  heldValues(): IterableIterator<Uint8Array> {
    return this.proposer.heldValues();
  }

  step(input: Input, out: Effects): void {
    this.lastDecided.length = 0;
    dispatchInput('a learning proposer', this, input, out);
  }

  decided(iid: number, value: Uint8Array, out: Effects): void {
    this.lastDecided.length = 0;
    this.proposer.decided(iid, value, out);
  }

  setInstanceId(iid: number, out: Effects): void {
    this.lastDecided.length = 0;
    this.proposer.setInstanceId(iid, out);
    this.learner.setInstanceId(iid);
  }

  /** Ask every acceptor to trim instances ≤ iid. */
  trim(iid: number, out: Effects): void {
    this.lastDecided.length = 0;
    this.learn({ kind: 'trim', iid }, out);
  }

  tick(now: number, out: Effects): void {
    this.lastDecided.length = 0;
    this.proposer.tick(now, out);
    this.learn({ kind: 'tick', now }, out);
  }

  /** Submit a client value. */
  propose(value: Uint8Array, out: Effects): void {
    this.lastDecided.length = 0;
    this.proposer.propose(value, out);
  }

  receive(from: PeerId, msg: Message, out: Effects): void {
    this.lastDecided.length = 0;
    this.proposer.receive(from, msg, out);
    if (msg.type === 'accepted' || (msg.type === 'acceptor_state' && this.deliver)) {
      this.learn({ kind: 'message', from, msg }, out);
    } else if (msg.type === 'acceptor_state' && msg.trimIid >= this.learner.nextIid) {
      // This learner only informs the proposer: it may skip what acceptors trimmed.
      this.learner.setInstanceId(msg.trimIid);
    }
  }

  private learn(input: Input, out: Effects): void {
    const delivered = out.deliver.length;
    this.learner.step(input, out);
    if (!this.deliver) out.deliver.length = delivered;
    for (const d of this.learner.lastDecided) {
      this.lastDecided.push(d);
      this.proposer.decided(d.iid, d.value, out);
    }
  }
}
