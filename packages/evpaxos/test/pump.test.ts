import { describe, expect, it } from 'vitest';
import { Acceptor, type Envelope, type PersistRecord } from '@libpaxos/paxos-core';
import { Pump, silentLogger } from '../src/index.js';

const turn = () => new Promise((r) => setImmediate(r));

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

  it('stops and reports when the disk fails, without sending the replies of the failed batch', async () => {
    const sent: string[] = [];
    let fatal: Error | undefined;
    const pump = new Pump({
      role: new Acceptor({ id: 0 }),
      commit: () => Promise.reject(new Error('disk full')),
      send: (env: Envelope) => sent.push(env.msg.type),
      log: silentLogger,
      tickMs: 60_000,
      onFatal: (e) => (fatal = e),
    });
    await turn();
    sent.length = 0;
    pump.receive(1, { type: 'prepare', iid: 1, ballot: 11 });
    await turn();
    await turn();
    expect(fatal?.message).toBe('disk full');
    expect(sent).toEqual([]);
    pump.receive(1, { type: 'prepare', iid: 2, ballot: 11 });
    await turn();
    expect(sent).toEqual([]);
  });
});
