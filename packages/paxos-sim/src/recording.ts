import { assertNever, controlValue, decodeBatch, type AcceptedDigestMsg, type Message, type MessageType } from '@libpaxos/paxos-core';
import type { NodeKind, SimObservation, SimObserver } from './observer.js';
import { describeValueId, valueId } from './workload.js';

/** How a message fared: delivered as sent, a copy the network made, or lost. */
export type MessageFate = 'sent' | 'duplicate' | 'partition' | 'loss';

export interface RecordedMessage {
  readonly sent: number;
  /** When it arrives; for a lost message, when it would have been half-way (for drawing). */
  readonly arrives: number;
  readonly from: number;
  readonly to: number;
  /** A LibPaxos3 message type, or a digest vote between replicas. */
  readonly type: MessageType | 'accepted_digest';
  /** The instance it is about (0 for messages about none, such as acceptor_state). */
  readonly iid: number;
  readonly fate: MessageFate;
}

export interface RecordedNode {
  readonly name: string;
  readonly role: NodeKind;
}

/** A node down from its crash until it restarted (`until` is the run's end if it never did). */
export interface Downtime {
  readonly node: number;
  readonly from: number;
  readonly until: number;
}

/** A partition from its start until it was lifted (or the heal). */
export interface PartitionSpan {
  readonly from: number;
  readonly until: number;
  readonly links: readonly (readonly [number, number])[];
  /** The side cut off: the smaller side of a two-way cut, the sending side of a one-way cut. */
  readonly side: readonly number[];
  readonly oneWay: boolean;
}

export interface Decision {
  readonly time: number;
  readonly node: number;
  readonly iid: number;
  /** What was decided: `c1#23` (client 1's value 23), `no-op`, or a batch's values. */
  readonly label: string;
}

export interface Submission {
  readonly time: number;
  readonly node: number;
  readonly label: string;
}

/** A whole run as observed, for replaying it on screen (times in simulated ms). */
export interface Recording {
  readonly nodes: readonly RecordedNode[];
  /** Ordered by `sent`. */
  readonly messages: readonly RecordedMessage[];
  /** Longest time any message was in flight: the window before `t` where messages in flight at `t` may start. */
  readonly maxFlightMs: number;
  readonly downtimes: readonly Downtime[];
  readonly restarts: readonly { readonly node: number; readonly time: number }[];
  readonly partitions: readonly PartitionSpan[];
  /** Every learner's decisions, in time order. */
  readonly decisions: readonly Decision[];
  /** Each instance's decision, as first seen by any learner, by iid. */
  readonly chosen: ReadonlyMap<number, Decision>;
  readonly submissions: readonly Submission[];
  /** When each partition started, empty ones included (a split with everyone on one side cuts nothing). */
  readonly partitionStarts: readonly number[];
  readonly healAt: number;
  readonly endMs: number;
  /** Every distinct time something happened, ascending: where "step" stops. */
  readonly times: Float64Array;
  /** `lostBefore[i]` / `copiesBefore[i]`: lost messages / duplicates among `messages[0..i)`. */
  readonly lostBefore: Int32Array;
  readonly copiesBefore: Int32Array;
}

/** What had happened by time `t`: the counters `pnpm sim` prints for a whole run, and more. */
export interface Counts {
  /** Messages put on the network (duplicates included, lost ones not). */
  readonly sent: number;
  readonly dropped: number;
  readonly duplicated: number;
  readonly crashes: number;
  readonly restarts: number;
  readonly partitions: number;
  readonly submitted: number;
  /** Instances some learner had decided. */
  readonly decided: number;
}

/** Index of the first element of ascending `xs` (by `key`) that is > `t`. */
export function countUpTo<T>(xs: ArrayLike<T>, t: number, key: (x: T) => number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(xs[mid] as T) <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function countsAt(r: Recording, t: number): Counts {
  const m = countUpTo(r.messages, t, (x) => x.sent);
  const lost = r.lostBefore[m] as number;
  let crashes = 0;
  for (const d of r.downtimes) if (d.from <= t) crashes++;
  let decided = 0;
  for (const d of r.chosen.values()) if (d.time <= t) decided++;
  return {
    sent: m - lost,
    dropped: lost,
    duplicated: r.copiesBefore[m] as number,
    crashes,
    restarts: countUpTo(r.restarts, t, (x) => x.time),
    partitions: countUpTo(r.partitionStarts, t, (x) => x),
    submitted: countUpTo(r.submissions, t, (x) => x.time),
    decided,
  };
}

/** What the value bytes were, as a person reads them. */
export function valueLabel(value: Uint8Array, batched: boolean): string {
  const control = controlValue(value);
  if (control !== undefined) {
    switch (control.kind) {
      case 'noop':
        return 'no-op';
      case 'master-op':
        return `master operation (${control.op.kind} by ${control.op.node})`;
      case 'checkpoint-report':
        return `checkpoint report (node ${control.report.node} at ${control.report.iid})`;
      default:
        return assertNever(control, 'control value');
    }
  }
  const one = (v: Uint8Array): string => {
    const id = valueId(v);
    return id === undefined ? `${v.length} bytes` : describeValueId(id);
  };
  if (!batched) return one(value);
  const values = decodeBatch(value);
  if (values === undefined) return `${value.length} bytes (not a batch)`;
  return values.length === 1 ? one(values[0] as Uint8Array) : `${values.length} values: ${one(values[0] as Uint8Array)}…`;
}

/**
 * Collects a run's observations (pass `observe` to `new Simulation`) and turns them into a
 * {@link Recording} when the run is over.
 */
export class Recorder {
  private readonly batched: boolean;
  private readonly nodes: RecordedNode[] = [];
  private readonly messages: RecordedMessage[] = [];
  private readonly downtimes: Downtime[] = [];
  private readonly restarts: { node: number; time: number }[] = [];
  private readonly down = new Map<number, number>();
  private readonly partitions: PartitionSpan[] = [];
  /** Open partitions by their links, oldest first (two partitions may cut the same links). */
  private readonly open = new Map<string, { from: number; links: readonly (readonly [number, number])[] }[]>();
  private readonly decisions: Decision[] = [];
  private readonly chosen = new Map<number, Decision>();
  private readonly submissions: Submission[] = [];
  private readonly times: number[] = [];
  private readonly partitionStarts: number[] = [];
  private healAt = Infinity;
  private maxFlightMs = 0;
  /** Time of the latest observation (observations come in time order). */
  private last = 0;

  constructor(options: { readonly batchMaxValues: number }) {
    this.batched = options.batchMaxValues > 0;
  }

  readonly observe: SimObserver = (o: SimObservation): void => {
    this.last = o.time;
    this.times.push(o.time);
    switch (o.kind) {
      case 'up': {
        if (o.node === this.nodes.length) this.nodes.push({ name: o.name, role: o.role });
        const since = this.down.get(o.node);
        if (since !== undefined) {
          this.downtimes.push({ node: o.node, from: since, until: o.time });
          this.restarts.push({ node: o.node, time: o.time });
          this.down.delete(o.node);
        }
        return;
      }
      case 'crash':
        this.down.set(o.node, o.time);
        return;
      case 'resign':
        // Not drawn: a handover shows in the messages (the resignation's accepts, the campaigns).
        return;
      case 'send':
        this.messages.push({ sent: o.time, arrives: o.arrives, from: o.from, to: o.to, type: o.msg.type, iid: iidOf(o.msg), fate: o.duplicate ? 'duplicate' : 'sent' });
        this.maxFlightMs = Math.max(this.maxFlightMs, o.arrives - o.time);
        this.times.push(o.arrives);
        return;
      case 'drop':
        this.messages.push({ sent: o.time, arrives: o.time + 2, from: o.from, to: o.to, type: o.msg.type, iid: iidOf(o.msg), fate: o.cause });
        return;
      case 'partition': {
        this.partitionStarts.push(o.time);
        if (o.links.length === 0) return;
        const key = linksKey(o.links);
        const list = this.open.get(key) ?? [];
        list.push({ from: o.time, links: o.links });
        this.open.set(key, list);
        return;
      }
      case 'unpartition': {
        const started = this.open.get(linksKey(o.links))?.shift();
        if (started !== undefined) this.closePartition(started.from, o.time, started.links);
        return;
      }
      case 'submit':
        this.submissions.push({ time: o.time, node: o.node, label: valueLabel(o.value, this.batched) });
        return;
      case 'decide': {
        const d: Decision = { time: o.time, node: o.node, iid: o.iid, label: valueLabel(o.value, this.batched) };
        this.decisions.push(d);
        if (!this.chosen.has(o.iid)) this.chosen.set(o.iid, d);
        return;
      }
      case 'heal':
        this.healAt = o.time;
        for (const list of this.open.values()) for (const p of list) this.closePartition(p.from, o.time, p.links);
        this.open.clear();
        return;
    }
  };

  private closePartition(from: number, until: number, links: readonly (readonly [number, number])[]): void {
    const cut = new Set(links.map(([a, b]) => `${a}>${b}`));
    const oneWay = links.some(([a, b]) => !cut.has(`${b}>${a}`));
    const [a, b] = links[0] as readonly [number, number];
    // Every link goes from one side to the other: the nodes cut from b are a's side, and the
    // other way round; a one-way cut only has links out of its sending side.
    const sideOfA = [...new Set(links.filter(([, y]) => y === b).map(([x]) => x))];
    const sideOfB = [...new Set(links.filter(([, y]) => y === a).map(([x]) => x))];
    const side = oneWay || sideOfA.length <= sideOfB.length ? sideOfA : sideOfB;
    this.partitions.push({ from, until, links, side: side.sort((x, y) => x - y), oneWay });
  }

  /** The recording of the run, which stopped at `endMs` (its `simTimeMs`). */
  finish(endMs: number): Recording {
    const end = Math.max(endMs, this.last);
    for (const [node, since] of this.down) this.downtimes.push({ node, from: since, until: end });
    for (const list of this.open.values()) for (const p of list) this.closePartition(p.from, end, p.links);
    // Messages still in flight when the run stopped never arrive: stepping ends at the end.
    const times = Float64Array.from(new Set(this.times.filter((t) => t <= end))).sort();
    const n = this.messages.length;
    const lostBefore = new Int32Array(n + 1);
    const copiesBefore = new Int32Array(n + 1);
    this.messages.forEach((msg, i) => {
      lostBefore[i + 1] = (lostBefore[i] as number) + (msg.fate === 'loss' || msg.fate === 'partition' ? 1 : 0);
      copiesBefore[i + 1] = (copiesBefore[i] as number) + (msg.fate === 'duplicate' ? 1 : 0);
    });
    return {
      nodes: this.nodes,
      messages: this.messages,
      maxFlightMs: this.maxFlightMs,
      downtimes: this.downtimes,
      restarts: this.restarts,
      partitions: this.partitions.sort((x, y) => x.from - y.from),
      decisions: this.decisions,
      chosen: this.chosen,
      submissions: this.submissions,
      partitionStarts: this.partitionStarts,
      healAt: this.healAt,
      endMs: end,
      times,
      lostBefore,
      copiesBefore,
    };
  }
}

/** The instance a message is about: a repeat's first, an acceptor_state's trim point, none for a client value. */
function iidOf(msg: Message | AcceptedDigestMsg): number {
  switch (msg.type) {
    case 'accepted_digest':
    case 'prepare':
    case 'promise':
    case 'accept':
    case 'accepted':
    case 'preempted':
    case 'trim':
      return msg.iid;
    case 'repeat':
      return msg.from;
    case 'acceptor_state':
      return msg.trimIid;
    case 'client_value':
      return 0;
    default:
      return assertNever(msg);
  }
}

function linksKey(links: readonly (readonly [number, number])[]): string {
  return links.map(([a, b]) => `${a}>${b}`).join(',');
}
