import { describe, expect, it } from 'vitest';
import { Acceptor, type AcceptorRecord, type Effects, type Envelope, type Message, type PeerId, type PersistRecord } from '@libpaxos/paxos-core';
import { Pump, StorageError, silentLogger, type PumpedRole } from '../src/index.js';
import { MAX_ROUNDS_PER_TURN } from '../src/pump.js';

const turn = () => new Promise((r) => setImmediate(r));

/** A pump over `role` that records the types of the messages it sends and keeps the error it stops on. */
function watchedPump(role: PumpedRole, commit: (records: readonly PersistRecord[]) => Promise<void> | undefined) {
  const sent: string[] = [];
  const stopped: { fatal?: Error } = {};
  const pump = new Pump({
    role,
    commit,
    send: (env: Envelope) => sent.push(env.msg.type),
    log: silentLogger,
    tickMs: 60_000,
    onFatal: (e) => (stopped.fatal = e),
  });
  return { pump, sent, stopped };
}

describe('pump', () => {
  it('sends nothing before its records are durable, and batches the inputs of one turn into one commit', async () => {
    const log: string[] = [];
    const commits: (() => void)[] = [];
    const pump = new Pump({
      role: new Acceptor({ id: 0 }),
      commit: (records: readonly PersistRecord[]) => {
        log.push(`commit ${records.length}`);
        return new Promise<void>((resolve) => commits.push(resolve));
      },
      send: (env: Envelope) => log.push(`send ${env.msg.type}`),
      log: silentLogger,
      tickMs: 60_000,
      onFatal: (e) => {
        throw e;
      },
    });
    await turn();
    log.length = 0;
    for (let iid = 1; iid <= 3; iid++) pump.receive(1, { type: 'prepare', iid, ballot: 11 });
    await turn();
    expect(log).toEqual(['commit 3']);
    // Inputs during the commit wait for the next one.
    pump.receive(1, { type: 'prepare', iid: 4, ballot: 11 });
    pump.receive(1, { type: 'prepare', iid: 1, ballot: 11 });
    await turn();
    expect(log).toEqual(['commit 3']);
    commits.shift()?.();
    await turn();
    await turn();
    expect(log).toEqual(['commit 3', 'send promise', 'send promise', 'send promise', 'commit 1']);
    commits.shift()?.();
    await turn();
    await turn();
    expect(log.slice(5)).toEqual(['send promise', 'send promise']);
    pump.stop();
  });

  it('says it holds undelivered values from the input that decided them until it has handed them to deliver (after their commit)', async () => {
    const role: PumpedRole = {
      receive(_from: PeerId, msg: Message, out: Effects) {
        const iid = 'iid' in msg ? msg.iid : 0;
        out.persist.push({ kind: 'trim', iid });
        out.deliver.push({ iid, index: 0, value: new Uint8Array([iid]) });
      },
      tick: () => undefined,
    };
    const commits: (() => void)[] = [];
    const delivered: number[] = [];
    const seen: boolean[] = [];
    const pump = new Pump({
      role,
      commit: () => new Promise<void>((resolve) => commits.push(resolve)),
      send: () => undefined,
      deliver: (d) => {
        delivered.push(d.iid);
        seen.push(pump.undelivered);
      },
      log: silentLogger,
      tickMs: 60_000,
      onFatal: (e) => {
        throw e;
      },
    });
    await turn();
    expect(pump.undelivered).toBe(false);
    pump.receive(1, { type: 'trim', iid: 1 });
    expect(pump.undelivered).toBe(true); // decided in the core, in the batch being built
    await turn();
    expect(commits).toHaveLength(1);
    expect(pump.undelivered).toBe(true); // in the batch being committed
    commits.shift()?.();
    await turn();
    expect(delivered).toEqual([1]);
    expect(seen).toEqual([true]); // while its batch is being handed over
    expect(pump.undelivered).toBe(false);
    pump.stop();
  });

  it('stops and reports when the disk fails, without sending the replies of the failed batch', async () => {
    const { pump, sent, stopped } = watchedPump(new Acceptor({ id: 0 }), () => Promise.reject(new Error('disk full')));
    await turn();
    sent.length = 0;
    pump.receive(1, { type: 'prepare', iid: 1, ballot: 11 });
    await turn();
    await turn();
    expect(stopped.fatal?.message).toBe('disk full');
    expect(sent).toEqual([]);
    pump.receive(1, { type: 'prepare', iid: 2, ballot: 11 });
    await turn();
    expect(sent).toEqual([]);
  });

  it('stops the same way when a synchronous commit throws (LMDB without sync), without sending the replies of the failed batch', async () => {
    let fail = false;
    const { pump, sent, stopped } = watchedPump(new Acceptor({ id: 0 }), () => {
      if (fail) throw new Error('disk full');
      return undefined;
    });
    await turn();
    pump.receive(1, { type: 'prepare', iid: 1, ballot: 11 });
    await turn();
    expect(sent).toContain('promise'); // a commit that returns is done: its reply leaves in the same turn
    sent.length = 0;
    fail = true;
    pump.receive(1, { type: 'prepare', iid: 2, ballot: 11 });
    await turn();
    expect(stopped.fatal?.message).toBe('disk full');
    expect(sent).toEqual([]);
    pump.receive(1, { type: 'prepare', iid: 3, ballot: 11 });
    await turn();
    expect(sent).toEqual([]);
  });

  it('a role whose storage read throws (an LMDB acceptor reading an old record back) stops the pump, and nothing of its batch leaves', async () => {
    const disk = new Map<number, AcceptorRecord>();
    const archive = {
      read: (iid: number) => {
        if (iid === 1) throw new StorageError('/data/acceptor_0: record for instance 1 is 2 bytes, shorter than its 9-byte header');
        return disk.get(iid);
      },
      holds: () => true,
    };
    const { pump, sent, stopped } = watchedPump(new Acceptor({ id: 0, memoryWindow: 1 }, { trimIid: 0, records: [], archive, highestIid: 10 }), () => undefined);
    await turn();
    sent.length = 0;
    pump.receive(1, { type: 'prepare', iid: 12, ballot: 11 });
    pump.receive(1, { type: 'prepare', iid: 1, ballot: 11 });
    await turn();
    expect(stopped.fatal?.message).toMatch(/acceptor_0: record for instance 1 is 2 bytes/);
    expect(sent).toEqual([]);
  });

  it('an input that throws after stepping half-way (a tick, a digest vote) stops the pump as a failed receive does, and nothing of its batch leaves', async () => {
    const { pump, sent, stopped } = watchedPump(new Acceptor({ id: 0 }), () => undefined);
    await turn();
    sent.length = 0;
    pump.receive(1, { type: 'prepare', iid: 1, ballot: 11 });
    expect(() =>
      pump.input((out) => {
        out.send.push({ to: 'acceptors', msg: { type: 'trim', iid: 1 } });
        throw new Error('a broken invariant');
      }),
    ).not.toThrow();
    await turn();
    expect(stopped.fatal?.message).toBe('a broken invariant');
    expect(sent).toEqual([]);
  });

  it("a role whose first tick throws fails the pump's making, and leaves no timer behind", () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const role = new Acceptor({ id: 0 });
    role.tick = () => {
      throw new Error('cannot start');
    };
    expect(() => watchedPump(role, () => undefined)).toThrow('cannot start');
    expect(timers()).toBe(before);
  });

  it('a deliver callback that throws stops the pump with a sentence naming the instance, instead of an unhandled rejection', async () => {
    const role: PumpedRole = {
      receive(_from: PeerId, msg: Message, out: Effects) {
        const iid = 'iid' in msg ? msg.iid : 0;
        out.deliver.push({ iid, index: 0, value: new Uint8Array([iid]) }, { iid: iid + 1, index: 0, value: new Uint8Array([iid + 1]) });
      },
      tick: () => undefined,
    };
    const delivered: number[] = [];
    let fatal: Error | undefined;
    const rejections: unknown[] = [];
    const onRejection = (e: unknown) => rejections.push(e);
    process.on('unhandledRejection', onRejection);
    try {
      const pump = new Pump({
        role,
        send: () => undefined,
        deliver: (d) => {
          if (d.iid === 5) throw new Error('the application is broken');
          delivered.push(d.iid);
        },
        log: silentLogger,
        tickMs: 60_000,
        onFatal: (e) => (fatal = e),
      });
      pump.receive(1, { type: 'trim', iid: 1 });
      await turn();
      pump.receive(1, { type: 'trim', iid: 5 });
      await turn();
      await pump.drain();
      expect(fatal?.message).toBe("the application's deliver callback threw at instance 5: the application is broken; nothing after it is delivered");
      expect(delivered).toEqual([1, 2]);
      pump.receive(1, { type: 'trim', iid: 7 });
      await turn();
      await turn();
      expect(delivered).toEqual([1, 2]);
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });

  it('after a failed commit nothing computed later is committed, sent or delivered, and drain still resolves', async () => {
    // A role whose every input persists, sends and delivers something named after the input,
    // unless the input is a `repeat` (it then only sends and delivers: nothing to persist).
    const role: PumpedRole = {
      receive(_from: PeerId, msg: Message, out: Effects) {
        const iid = 'iid' in msg ? msg.iid : msg.type === 'repeat' ? msg.from : 0;
        if (msg.type !== 'repeat') out.persist.push({ kind: 'trim', iid });
        out.send.push({ to: 'acceptors', msg: { type: 'trim', iid } });
        out.deliver.push({ iid, index: 0, value: new Uint8Array([iid]) });
      },
      tick: () => undefined,
    };
    for (const second of [
      { type: 'prepare', iid: 2, ballot: 11 },
      { type: 'repeat', from: 2, to: 2 },
    ] satisfies Message[]) {
      const seen: string[] = [];
      let reject: (e: Error) => void = () => undefined;
      let fatal: Error | undefined;
      const pump = new Pump({
        role,
        commit: (records) => {
          seen.push(`commit ${records.map((r) => ('iid' in r ? r.iid : '?')).join(',')}`);
          return new Promise<void>((_resolve, rej) => (reject = rej));
        },
        send: (env) => seen.push(`send ${'iid' in env.msg ? env.msg.iid : '?'}`),
        deliver: (d) => seen.push(`deliver ${d.iid}`),
        log: silentLogger,
        tickMs: 60_000,
        onFatal: (e) => (fatal = e),
      });
      pump.receive(1, { type: 'prepare', iid: 1, ballot: 11 });
      await turn();
      expect(seen).toEqual(['commit 1']);
      // In one turn: a second input arrives, then the commit of the first fails.
      pump.receive(1, second);
      reject(new Error('disk full'));
      for (let i = 0; i < 5; i++) await turn();
      expect(fatal?.message).toBe('disk full');
      expect(seen, `second input: ${second.type}`).toEqual(['commit 1']);
      // Inputs after the failure are ignored too, and an orderly close still completes.
      pump.receive(1, { type: 'prepare', iid: 3, ballot: 11 });
      pump.stop();
      await pump.drain();
      for (let i = 0; i < 3; i++) await turn();
      expect(seen).toEqual(['commit 1']);
    }
  });

  it('after a failed commit an acceptor does not answer a duplicate prepare whose promise was never written', async () => {
    const sent: string[] = [];
    let reject: (e: Error) => void = () => undefined;
    const pump = new Pump({
      role: new Acceptor({ id: 0 }),
      commit: () => new Promise<void>((_resolve, rej) => (reject = rej)),
      send: (env: Envelope) => sent.push(env.msg.type),
      log: silentLogger,
      tickMs: 60_000,
      onFatal: () => undefined,
    });
    await turn();
    sent.length = 0;
    pump.receive(1, { type: 'prepare', iid: 1, ballot: 11 });
    await turn();
    // The acceptor already holds the promise in memory, so the duplicate needs no write and its
    // promise would leave at once, although the write of that promise fails.
    pump.receive(1, { type: 'prepare', iid: 1, ballot: 11 });
    reject(new Error('disk full'));
    for (let i = 0; i < 5; i++) await turn();
    expect(sent).toEqual([]);
    pump.stop();
    await pump.drain();
  });

  it('an orderly stop still commits and sends what was taken before it', async () => {
    const seen: string[] = [];
    const pump = new Pump({
      role: new Acceptor({ id: 0 }),
      commit: async (records) => {
        seen.push(`commit ${records.length}`);
      },
      send: (env: Envelope) => seen.push(`send ${env.msg.type}`),
      log: silentLogger,
      tickMs: 60_000,
      onFatal: (e) => {
        throw e;
      },
    });
    await turn();
    seen.length = 0;
    pump.receive(1, { type: 'prepare', iid: 1, ballot: 11 });
    pump.stop();
    await pump.drain();
    expect(seen).toEqual(['commit 1', 'send promise']);
  });

  it("a role's messages to itself and the replies they cause are stepped in the same turn, each batch's leaving as soon as it is committed", async () => {
    // A replica's proposer sends an accept to its own acceptor; the acceptor's accepted goes to
    // a peer. Without storage to wait for, both batches run in one turn; the accept is written
    // before the acceptor's batch is stepped (the other acceptors wait for it), not after it.
    const local: Message[] = [];
    const log: string[] = [];
    const role: PumpedRole = {
      receive(_from: PeerId, msg: Message, out: Effects) {
        if (msg.type === 'client_value') out.send.push({ to: 'acceptors', msg: { type: 'accept', iid: 1, ballot: 11, value: msg.value } });
        if (msg.type === 'accept') {
          out.persist.push({ kind: 'trim', iid: 0 });
          out.send.push({ to: 'subscribers', msg: { type: 'accepted', aid: 0, iid: 1, ballot: 11, valueBallot: 11, value: msg.value } });
        }
      },
      tick: () => undefined,
    };
    const pump: Pump = new Pump({
      role,
      commit: () => {
        log.push('commit');
        return undefined;
      },
      send: (env) => {
        log.push(`send ${env.msg.type}`);
        if (env.to === 'acceptors') local.push(env.msg);
      },
      flushSends: () => log.push('write'),
      routeLocal: () => {
        for (const m of local.splice(0)) pump.receive(0, m);
      },
      log: silentLogger,
      tickMs: 60_000,
      onFatal: (e) => {
        throw e;
      },
    });
    await turn();
    log.length = 0;
    pump.receive(7, { type: 'client_value', value: new Uint8Array([1]) });
    await turn();
    expect(log).toEqual(['send accept', 'write', 'commit', 'send accepted', 'write', 'write']);
    pump.stop();
  });

  it('with a storage to wait for, what earlier batches of the turn queued is written while it waits, not after', async () => {
    const local: Message[] = [];
    const log: string[] = [];
    const commits: (() => void)[] = [];
    const role: PumpedRole = {
      receive(_from: PeerId, msg: Message, out: Effects) {
        if (msg.type === 'client_value') out.send.push({ to: 'acceptors', msg: { type: 'accept', iid: 1, ballot: 11, value: msg.value } });
        if (msg.type === 'accept') {
          out.persist.push({ kind: 'trim', iid: 0 });
          out.send.push({ to: 'subscribers', msg: { type: 'accepted', aid: 0, iid: 1, ballot: 11, valueBallot: 11, value: msg.value } });
        }
      },
      tick: () => undefined,
    };
    const pump: Pump = new Pump({
      role,
      commit: () => {
        log.push('commit');
        return new Promise<void>((resolve) => commits.push(resolve));
      },
      send: (env) => {
        log.push(`send ${env.msg.type}`);
        if (env.to === 'acceptors') local.push(env.msg);
      },
      flushSends: () => log.push('write'),
      routeLocal: () => {
        for (const m of local.splice(0)) pump.receive(0, m);
      },
      log: silentLogger,
      tickMs: 60_000,
      onFatal: (e) => {
        throw e;
      },
    });
    await turn();
    log.length = 0;
    pump.receive(7, { type: 'client_value', value: new Uint8Array([1]) });
    await turn();
    // The accept (computed on committed state) leaves while the disk works on the next batch.
    expect(log).toEqual(['send accept', 'write', 'commit', 'write']);
    commits.shift()?.();
    await pump.drain();
    expect(log).toEqual(['send accept', 'write', 'commit', 'write', 'send accepted', 'write', 'write']);
    pump.stop();
  });

  it("steps the role's end of batch once the turn's inputs are in, before their commit", async () => {
    const log: string[] = [];
    const role: PumpedRole = {
      receive: (_from: PeerId, msg: Message) => log.push(`receive ${msg.type}`),
      tick: () => undefined,
      endOfBatch: (out: Effects) => {
        log.push('end of batch');
        out.persist.push({ kind: 'trim', iid: 0 });
      },
    };
    const pump = new Pump({
      role,
      commit: () => {
        log.push('commit');
        return undefined;
      },
      send: () => undefined,
      log: silentLogger,
      tickMs: 60_000,
      onFatal: (e) => {
        throw e;
      },
    });
    await turn();
    log.length = 0;
    for (let iid = 1; iid <= 3; iid++) pump.receive(1, { type: 'prepare', iid, ballot: 11 });
    await turn();
    expect(log.slice(0, 5)).toEqual(['receive prepare', 'receive prepare', 'receive prepare', 'end of batch', 'commit']);
    pump.stop();
  });

  it('a send that throws after an asynchronous commit rejects that flush (drain sees it), and the pump goes on with later inputs', async () => {
    const sent: number[] = [];
    let throwOnce = true;
    const { pump, commits } = acceptorPump((env) => {
      if (env.msg.type !== 'promise') return;
      if (throwOnce) {
        throwOnce = false;
        throw new Error('send failed');
      }
      sent.push(env.msg.iid);
    });
    await turn();
    pump.receive(1, { type: 'prepare', iid: 1, ballot: 11 });
    await turn();
    const drained = pump.drain();
    commits.shift()?.();
    await expect(drained).rejects.toThrow('send failed');
    // Not stuck in that flush: the next input is committed and sent.
    pump.receive(1, { type: 'prepare', iid: 2, ballot: 11 });
    await settleNext(commits);
    await pump.drain();
    expect(sent).toEqual([2]);
    pump.stop();
  });

  it("hands an asynchronous commit the batch's records intact until its promise settles; the array is reused only after", async () => {
    const iids = (records: readonly PersistRecord[]) => records.map((r) => (r.kind === 'record' ? r.iid : -1));
    const atCall: number[][] = [];
    const atSettle: number[][] = [];
    const { pump, commits } = acceptorPump(() => undefined, (records) => {
      atCall.push(iids(records));
      return () => atSettle.push(iids(records));
    });
    await turn();
    pump.receive(1, { type: 'prepare', iid: 1, ballot: 11 });
    pump.receive(1, { type: 'prepare', iid: 2, ballot: 11 });
    await turn();
    // Inputs taken during a commit go into the other batch, not into the array being committed;
    // the third batch is built in the first one's arrays while the second's commit holds its own.
    pump.receive(1, { type: 'prepare', iid: 3, ballot: 11 });
    await turn();
    commits.shift()?.();
    for (let i = 0; i < 5 && commits.length === 0; i++) await turn();
    pump.receive(1, { type: 'prepare', iid: 4, ballot: 11 });
    await turn();
    commits.shift()?.();
    await settleNext(commits);
    await pump.drain();
    expect(atCall).toEqual([[1, 2], [3], [4]]);
    expect(atSettle).toEqual([[1, 2], [3], [4]]);
    pump.stop();
  });
  it('an input that only asks for a flush during the last round of a turn is flushed after that round commits', async () => {
    // MAX_ROUNDS_PER_TURN rounds with asynchronous commits, each round's own message making the
    // next; during the last commit an input leaves nothing to send yet (a value a batching proposer
    // holds for its end of batch). It must get a flush of its own, not wait for the next input.
    let holding = false;
    let local = 0;
    const sent: string[] = [];
    const commits: (() => void)[] = [];
    const role: PumpedRole = {
      receive: (_from: PeerId, _msg: Message, out: Effects) => out.persist.push({ kind: 'trim', iid: 0 }),
      tick: () => undefined,
      endOfBatch: (out: Effects) => {
        if (!holding) return;
        holding = false;
        out.send.push({ to: 'acceptors', msg: { type: 'client_value', value: new Uint8Array([9]) } });
      },
    };
    const pump: Pump = new Pump({
      role,
      commit: () => new Promise<void>((resolve) => commits.push(resolve)),
      send: (env) => sent.push(env.msg.type),
      routeLocal: () => {
        if (++local < MAX_ROUNDS_PER_TURN) pump.receive(0, { type: 'prepare', iid: local, ballot: 11 });
      },
      log: silentLogger,
      tickMs: 60_000,
      onFatal: (e) => {
        throw e;
      },
    });
    await turn();
    pump.receive(0, { type: 'prepare', iid: 1, ballot: 11 });
    for (let round = 1; round < MAX_ROUNDS_PER_TURN; round++) await settleNext(commits);
    for (let i = 0; i < 5 && commits.length === 0; i++) await turn();
    expect(local).toBe(MAX_ROUNDS_PER_TURN - 1);
    pump.input(() => {
      holding = true;
    });
    commits.shift()?.();
    for (let i = 0; i < 5 && sent.length === 0; i++) await turn();
    expect(sent).toEqual(['client_value']);
    pump.stop();
  });
});

/**
 * A pump around an acceptor whose commits wait until the test settles them (`commits`, in order).
 * `onCommit` sees each commit's records and may return what to do when it is settled.
 */
function acceptorPump(
  send: (env: Envelope) => void,
  onCommit: (records: readonly PersistRecord[]) => (() => void) | void = () => undefined,
): { pump: Pump; commits: (() => void)[] } {
  const commits: (() => void)[] = [];
  const pump = new Pump({
    role: new Acceptor({ id: 0 }),
    commit: (records) => {
      const settled = onCommit(records);
      return new Promise<void>((resolve) =>
        commits.push(() => {
          settled?.();
          resolve();
        }),
      );
    },
    send,
    log: silentLogger,
    tickMs: 60_000,
    onFatal: (e) => {
      throw e;
    },
  });
  return { pump, commits };
}

/** Waits (a few turns at most) for the next commit to start, and settles it. */
async function settleNext(commits: (() => void)[]): Promise<void> {
  for (let i = 0; i < 5 && commits.length === 0; i++) await turn();
  commits.shift()?.();
}
