import { describe, expect, it } from 'vitest';
import { Learner, LearningProposer, sameRef, type Effects, type SnapshotEffect, type SnapshotRef } from '../src/index.js';
import { accepted, enc, fx, msgs } from './helpers.js';

/** A checksum good enough to tell bytes apart in a test (the core treats it as opaque). */
function sum(bytes: Uint8Array): Uint8Array {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  return Uint8Array.of(h >>> 24, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff);
}

function checkpoint(iid: number, size: number, salt = 0): { ref: SnapshotRef; bytes: Uint8Array } {
  const bytes = Uint8Array.from({ length: size }, (_, i) => (i * 7 + iid + salt) & 0xff);
  return { ref: { iid, size, sum: sum(bytes) }, bytes };
}

/**
 * A learner with snapshot fetching and a shell around it: peers that serve checkpoints (by peer id),
 * a staged file, and the application state it installs. Steps run one at a time, as a shell would.
 */
class Harness {
  readonly learner: Learner;
  readonly peers = new Map<number, { ref: SnapshotRef; bytes: Uint8Array }>();
  staged: { ref: SnapshotRef; bytes: Uint8Array; length: number } | undefined;
  installed: SnapshotRef | undefined;
  /** Chunks asked for and not yet answered, per peer (the network). */
  readonly gets: { peer: number; offset: number; length: number }[] = [];
  maxOutstanding = 0;
  now = 0;
  dropChunks = false;
  corrupt = false;

  /** Queries the peers saw, with the instance each asked for. */
  readonly queries: number[] = [];

  constructor(opts: { chunkBytes: number; window: number; staged?: SnapshotRef; stuckMs?: number }) {
    this.learner = new Learner({
      acceptors: 3,
      snapshots: { chunkBytes: opts.chunkBytes, window: opts.window, offerWaitMs: 10, retryMs: 100, stallMs: 500, ...(opts.staged ? { staged: opts.staged } : {}), ...(opts.stuckMs !== undefined ? { stuckMs: opts.stuckMs } : {}) },
    });
  }

  /** Carries out every effect (and the effects they cause) until nothing is left. */
  run(out: Effects): void {
    for (let guard = 0; guard < 100_000; guard++) {
      const e = out.snapshot.shift();
      if (e === undefined) return;
      this.effect(e, out);
    }
    throw new Error('too many steps');
  }

  private effect(e: SnapshotEffect, out: Effects): void {
    switch (e.kind) {
      case 'query':
        this.queries.push(e.msg.need);
        for (const [peer, c] of this.peers) {
          const offer = e.msg.resume !== undefined && sameRef(e.msg.resume, c.ref) ? c.ref : c.ref;
          this.learner.receiveSnapshot(peer, { type: 'snapshot_offer', ...offer, reports: offer.reports ?? [] }, out);
        }
        return;
      case 'send': {
        if (e.msg.type !== 'snapshot_get') return;
        this.gets.push({ peer: e.peer, offset: e.msg.offset, length: e.msg.length });
        const outstanding = this.gets.length + (this.staged ? 0 : 0);
        this.maxOutstanding = Math.max(this.maxOutstanding, outstanding);
        return;
      }
      case 'open':
        if (!sameRef(this.staged?.ref, e.ref)) this.staged = { ref: e.ref, bytes: new Uint8Array(e.ref.size), length: 0 };
        this.learner.snapshotIo({ kind: 'opened', ref: e.ref, have: this.staged?.length ?? 0 }, out);
        return;
      case 'write': {
        const s = this.staged as NonNullable<Harness['staged']>;
        s.bytes.set(e.data, e.offset);
        s.length = Math.max(s.length, e.offset + e.data.length);
        this.learner.snapshotIo({ kind: 'written', ref: e.ref, offset: e.offset, length: e.data.length }, out);
        return;
      }
      case 'verify': {
        const s = this.staged as NonNullable<Harness['staged']>;
        if (this.corrupt) s.bytes[0] = (s.bytes[0] as number) ^ 0xff;
        this.corrupt = false;
        const ok = s.length === e.ref.size && sameRef({ ...e.ref, sum: sum(s.bytes) }, e.ref);
        this.learner.snapshotIo({ kind: 'verified', ref: e.ref, ok }, out);
        return;
      }
      case 'install':
        this.installed = e.ref;
        this.learner.snapshotIo({ kind: 'installed', ref: e.ref, ok: true }, out);
        return;
      case 'discard':
        this.staged = undefined;
        return;
    }
  }

  /** The network delivers the chunks asked for (all of them, or `n`), in order. */
  deliver(out: Effects, n = Infinity): void {
    for (let k = 0; k < n && this.gets.length > 0; k++) {
      const g = this.gets.shift() as (typeof this.gets)[number];
      if (this.dropChunks) continue;
      const c = this.peers.get(g.peer);
      if (c === undefined) continue;
      const data = c.bytes.slice(g.offset, g.offset + g.length);
      this.learner.receiveSnapshot(g.peer, { type: 'snapshot_chunk', iid: c.ref.iid, sum: c.ref.sum, offset: g.offset, data, gone: false }, out);
      this.run(out);
    }
  }

  tick(ms: number): Effects {
    this.now += ms;
    const out = fx();
    this.learner.tick(this.now, out);
    this.run(out);
    return out;
  }

  /** Acceptors 0 and 2 send their votes for `iid` (a quorum of 3): it is decided. */
  decide(iid: number): Effects {
    const out = fx();
    for (const aid of [0, 2]) this.learner.receive(aid, accepted(aid, iid, 5062, enc(`v${iid}`)), out);
    this.run(out);
    return out;
  }

  /** Acceptors report trim points (one acceptor_state each). */
  trims(...points: number[]): Effects {
    const out = fx();
    points.forEach((trimIid, aid) => this.learner.receive(aid, { type: 'acceptor_state', aid, trimIid }, out));
    this.run(out);
    return out;
  }
}

describe('snapshot fetch (a learner behind the trim)', () => {
  it('once an acceptor trimmed what it needs, fetches a checkpoint at or above the highest trim, in a bounded window', () => {
    const h = new Harness({ chunkBytes: 10, window: 3 });
    h.peers.set(5, checkpoint(40, 95)); // too old: an acceptor trimmed up to 50
    h.peers.set(6, checkpoint(60, 95));
    h.trims(0, 0, 0);
    expect(h.learner.snapshotFetch?.active).toBe(false);
    h.trims(0, 50);
    expect(h.learner.snapshotFetch?.active).toBe(true);
    const started = h.tick(20); // offers are in: the one of instance 60 from peer 6
    expect(h.staged?.ref.iid).toBe(60);
    // Fetched because the log is gone, not because it lags (shells word the two apart).
    expect(started.events.find((e) => e.kind === 'snapshot' && e.step === 'started')).toEqual({ kind: 'snapshot', step: 'started', iid: 60, bytes: 0, peer: 6, size: 95 });
    expect(h.gets.map((g) => [g.peer, g.offset])).toEqual([
      [6, 0],
      [6, 10],
      [6, 20],
    ]);
    for (let i = 0; i < 20 && h.installed === undefined; i++) h.deliver(fx(), 1);
    expect(h.maxOutstanding).toBeLessThanOrEqual(3);
    expect(h.installed?.iid).toBe(60);
    expect(h.staged?.bytes).toEqual(h.peers.get(6)?.bytes);
    expect(h.learner.nextIid).toBe(61);
    expect(h.learner.snapshotFetch?.active).toBe(false);
  });

  it('installs only verified bytes: a corrupt copy is discarded and fetched again', () => {
    const h = new Harness({ chunkBytes: 16, window: 2 });
    h.peers.set(1, checkpoint(30, 40));
    h.trims(30, 30, 30);
    h.tick(20);
    h.corrupt = true;
    const events: string[] = [];
    for (let i = 0; i < 10; i++) {
      const out = fx();
      h.deliver(out, 1);
      events.push(...out.events.map((e) => (e.kind === 'snapshot' ? e.step : e.kind)));
    }
    expect(h.installed).toBeUndefined();
    expect(h.learner.snapshotFetch?.stats.rejected).toBe(1);
    h.tick(20);
    for (let i = 0; i < 10 && h.installed === undefined; i++) h.deliver(fx(), 1);
    expect(h.installed?.iid).toBe(30);
    expect(h.learner.nextIid).toBe(31);
  });

  it('resumes after a stall (a dropped connection) from what it had written, from a peer offering the same bytes', () => {
    const h = new Harness({ chunkBytes: 10, window: 2 });
    const c = checkpoint(70, 100);
    h.peers.set(1, c);
    h.trims(70, 70);
    h.tick(20);
    h.deliver(fx(), 3); // 30 bytes in
    h.dropChunks = true;
    h.deliver(fx()); // the rest of the window is lost with the connection
    h.dropChunks = false;
    h.peers.delete(1);
    h.peers.set(2, c); // another peer has the very same checkpoint
    h.tick(600); // stalled: ask again
    h.tick(20);
    expect(h.gets[0]).toEqual({ peer: 2, offset: 30, length: 10 });
    expect(h.learner.snapshotFetch?.stats.resumed).toBe(1);
    for (let i = 0; i < 20 && h.installed === undefined; i++) h.deliver(fx(), 1);
    expect(h.installed?.iid).toBe(70);
    expect(h.staged?.bytes).toEqual(c.bytes);
  });

  it('a restarted fetcher resumes what its previous incarnation staged, preferring it over a newer checkpoint', () => {
    const old = checkpoint(70, 100);
    const h = new Harness({ chunkBytes: 10, window: 2, staged: old.ref });
    h.staged = { ref: old.ref, bytes: new Uint8Array(100), length: 40 };
    h.staged.bytes.set(old.bytes.subarray(0, 40));
    h.peers.set(1, checkpoint(90, 100, 3));
    h.peers.set(2, old);
    h.trims(70, 70);
    h.tick(20);
    expect(h.staged.ref).toBe(old.ref);
    expect(h.gets[0]).toEqual({ peer: 2, offset: 40, length: 10 });
    for (let i = 0; i < 20 && h.installed === undefined; i++) h.deliver(fx(), 1);
    expect(h.installed?.iid).toBe(70);
  });

  it('a chunk the peer no longer has sends it back to asking around; nothing offered: it asks again later', () => {
    const h = new Harness({ chunkBytes: 10, window: 1 });
    h.trims(20, 20);
    h.tick(20);
    expect(h.learner.snapshotFetch?.active).toBe(true);
    expect(h.staged).toBeUndefined();
    const c = checkpoint(25, 30);
    h.peers.set(4, c);
    h.tick(100);
    h.tick(20);
    expect(h.staged?.ref.iid).toBe(25);
    const out = fx();
    h.gets.length = 0;
    h.learner.receiveSnapshot(4, { type: 'snapshot_chunk', iid: 25, sum: c.ref.sum, offset: 0, data: new Uint8Array(0), gone: true }, out);
    expect(out.snapshot.map((e) => e.kind)).toEqual(['query']);
  });

  it('a learning proposer (and so a replica) moves its proposer past an installed checkpoint', () => {
    const lp = new LearningProposer({ id: 0, acceptors: 3, preexecWindow: 2, learner: { snapshots: { offerWaitMs: 0, chunkBytes: 4 } } });
    const out = fx();
    lp.tick(0, out);
    for (const aid of [0, 1]) lp.receive(aid, { type: 'acceptor_state', aid, trimIid: 10 }, out);
    expect(lp.learner.nextIid).toBe(11); // split mode: the proposer's learner just skips the trim
    const rp = new LearningProposer({ id: 0, acceptors: 3, preexecWindow: 2, deliver: true, learner: { snapshots: { offerWaitMs: 0, chunkBytes: 4 } } });
    const o = fx();
    rp.tick(0, o);
    for (const aid of [0, 1]) rp.receive(aid, { type: 'acceptor_state', aid, trimIid: 10 }, o);
    expect(o.snapshot.map((e) => e.kind)).toEqual(['query']);
    const ref = { iid: 12, size: 4, sum: enc('ab') };
    rp.receiveSnapshot(9, { type: 'snapshot_offer', ...ref, reports: [] }, o);
    rp.tick(1, o);
    rp.snapshotIo({ kind: 'opened', ref, have: 4 }, o);
    rp.snapshotIo({ kind: 'verified', ref, ok: true }, o);
    const last = fx();
    rp.snapshotIo({ kind: 'installed', ref, ok: true }, last);
    expect(rp.lastInstalled).toBe(12);
    expect(rp.learner.nextIid).toBe(13);
    rp.propose(enc('after'), last);
    rp.tick(2, last);
    expect(Math.min(...msgs(last, 'prepare').map((m) => m.iid))).toBeGreaterThan(12);
    expect(last.deliver).toEqual([]);
    void accepted;
  });
});

/** Snapshot steps among some effects. */
function steps(outs: readonly Effects[]): string[] {
  return outs.flatMap((o) => o.events.flatMap((e) => (e.kind === 'snapshot' ? [e.step] : [])));
}

describe('snapshot fetch (a learner stuck or lagging, nothing trimmed)', () => {
  // Sim seed 853 (replica mode, leadership on): a replica whose acceptor storage was wiped took
  // with it the votes that chose instances 1–854 together with a second acceptor's, so after
  // healing each of them was learned only as a campaign re-ran it, one every 120–300 ms. A replica
  // that restarted at instance 1 crawled to 294 in the 60 s while its peers offered a checkpoint
  // of instance 400: each instance decided restarted its stuck clock, and the one transfer it
  // started was given up at the first instance decided.
  it('a learner crawling far behind fetches a checkpoint ahead of it and does not give it up at each instance decided', () => {
    const h = new Harness({ chunkBytes: 10, window: 1, stuckMs: 3000 });
    const c = checkpoint(400, 60);
    h.peers.set(1, c);
    h.now = 8000; // the shell's clock, not 0 at the learner's start
    h.tick(0);
    // The surviving acceptor's lone votes tell of instances up to 854 (no quorum: not decided).
    const lone = fx();
    for (let iid = 1; iid <= 854; iid++) h.learner.receive(2, accepted(2, iid, 33341, enc(`v${iid}`)), lone);
    expect(h.learner.highestSeen).toBe(854);
    const outs: Effects[] = [];
    let next = 1;
    for (let t = 1; t <= 100 && h.installed === undefined; t++) {
      outs.push(h.tick(100));
      // A re-proposal decides one instance every 300 ms, in between the chunks.
      if (t % 3 === 0) outs.push(h.decide(next++));
      h.deliver(fx(), 1);
    }
    expect(h.queries[0]).toBeGreaterThan(1); // not at once at the first tick: after 3 s of crawling
    expect(steps(outs)).not.toContain('caught-up');
    expect(outs.flatMap((o) => o.events).find((e) => e.kind === 'snapshot' && e.step === 'started')).toMatchObject({ iid: 400, lagging: true });
    expect(h.installed?.iid).toBe(400);
    expect(h.staged?.bytes).toEqual(c.bytes);
    expect(h.learner.nextIid).toBe(401);
  });

  it('asks once per stuck period when no peer has a checkpoint ahead, and learns on from the log meanwhile', () => {
    const h = new Harness({ chunkBytes: 10, window: 1, stuckMs: 3000 });
    h.peers.set(1, checkpoint(5, 20)); // behind the learner: no use
    h.tick(100);
    const lone = fx();
    for (let iid = 1; iid <= 500; iid++) h.learner.receive(2, accepted(2, iid, 33341, enc(`v${iid}`)), lone);
    const outs: Effects[] = [];
    let next = 1;
    for (let t = 1; t <= 100; t++) {
      outs.push(h.tick(100));
      if (t % 3 === 0) outs.push(h.decide(next++));
    }
    // 10 s of crawling: a round of offers after 3 s, 6 s and 9 s, not one every retry (100 ms).
    expect(h.queries.length).toBe(3);
    expect(steps(outs).filter((s) => s === 'none-ahead').length).toBe(3);
    expect(h.learner.snapshotFetch?.active).toBe(false);
    expect(h.learner.nextIid).toBe(34);
  });

  it('a transfer for a lagging learner is given up once the learner catches up from the log, and one it passed is not installed', () => {
    const h = new Harness({ chunkBytes: 10, window: 1, stuckMs: 3000 });
    h.peers.set(1, checkpoint(40, 60));
    h.tick(100);
    const lone = fx();
    for (let iid = 1; iid <= 60; iid++) h.learner.receive(2, accepted(2, iid, 33341, enc(`v${iid}`)), lone);
    for (let t = 1; t <= 32; t++) {
      h.tick(100);
      if (t % 3 === 0) h.decide(t / 3);
    }
    expect(h.learner.snapshotFetch?.target?.iid).toBe(40); // asked after 3 s; fetching
    expect(h.queries).toEqual([11]);
    // The re-proposals speed up past instance 40 before a chunk arrives: that checkpoint is
    // behind the learner now, so it asks around again (for one at or above 41).
    const fast: Effects[] = [];
    for (let iid = 11; iid <= 41; iid++) fast.push(h.decide(iid));
    expect(h.queries).toEqual([11, 41]);
    h.deliver(fx());
    expect(h.installed).toBeUndefined();
    // And past everything it knew of: the transfer is moot.
    for (let iid = 42; iid <= 60; iid++) fast.push(h.decide(iid));
    expect(steps(fast)).toContain('caught-up');
    expect(h.learner.snapshotFetch?.active).toBe(false);
    expect(h.learner.nextIid).toBe(61);
  });

  it('a learner stuck on one instance asks until a peer has a checkpoint at or above it, counting from its first tick', () => {
    const h = new Harness({ chunkBytes: 10, window: 1, stuckMs: 3000 });
    h.now = 50_000;
    h.tick(0);
    const lone = fx();
    h.learner.receive(2, accepted(2, 1, 12, enc('v1')), lone);
    h.learner.receive(2, accepted(2, 2, 12, enc('v2')), lone);
    h.decide(2); // instance 1 is the hole
    h.tick(2900);
    expect(h.queries).toEqual([]); // a clock far from 0 is not 50 s of being stuck
    h.tick(100);
    expect(h.queries).toEqual([1]);
    h.tick(100);
    h.tick(100);
    expect(h.queries.length).toBeGreaterThan(2); // asked again every retry
    const c = checkpoint(3, 20);
    h.peers.set(4, c);
    h.tick(100);
    h.tick(100);
    for (let i = 0; i < 5 && h.installed === undefined; i++) h.deliver(fx(), 1);
    expect(h.installed?.iid).toBe(3);
    expect(h.learner.nextIid).toBe(4);
  });
});
