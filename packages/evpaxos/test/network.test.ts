import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig, startAcceptor, startLearner, startReplica, type Logger, type PaxosHandle } from '../src/index.js';
import { Backoff } from '../src/network.js';
import { ports, waitFor, withFreePorts } from './ports.js';

const handles: PaxosHandle[] = [];
afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.close()));
});

function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const at = performance.now();
  const stamp = (level: string, t: string) => lines.push(`${level} +${Math.round(performance.now() - at)}ms ${t}`);
  return { lines, log: { error: (t) => stamp('E', t), info: (t) => stamp('I', t), debug: () => undefined } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('redial', () => {
  it('starts at 50 ms and doubles up to LibPaxos3’s 2 s; a success starts over', () => {
    const b = new Backoff(50, 2000);
    expect(Array.from({ length: 8 }, () => b.next())).toEqual([50, 100, 200, 400, 800, 1600, 2000, 2000]);
    b.reset();
    expect(b.next()).toBe(50);
  });

  it('a learner started before its acceptor connects soon after the acceptor is up, not up to 2 s later', async () => {
    const { log, lines } = capture();
    await withFreePorts(1, async ([port]) => {
      const config = parseConfig(`acceptor 0 127.0.0.1 ${port}\nverbosity error`, 'test.conf');
      const learner = await startLearner({ config, log, onDeliver: () => undefined });
      handles.push(learner);
      // The first attempts fail; with LibPaxos3's fixed 2 s the next one would come at 2 s.
      await sleep(300);
      handles.push(await startAcceptor({ id: 0, config }));
    });
    await waitFor(() => lines.some((l) => /Connected to acceptor 0/.test(l)), 5000, 'the learner to connect');
    const ms = Number(/\+(\d+)ms Connected/.exec(lines.find((l) => /Connected/.test(l)) ?? '')?.[1]);
    expect(ms, lines.join('\n')).toBeLessThan(1500);
  }, 15_000);
});

describe('connection log lines', () => {
  it('a learner with no acceptor up says why once per peer, and once that none is reachable', async () => {
    const { log, lines } = capture();
    // Ports nothing listens on (taken from this worker's range, never started).
    const p = ports(3);
    const config = parseConfig(p.map((port, i) => `acceptor ${i} 127.0.0.1 ${port}`).join('\n'), 'test.conf');
    handles.push(await startLearner({ config, log, onDeliver: () => undefined }));
    await sleep(4500);
    for (let k = 0; k < 3; k++) {
      const about = lines.filter((l) => l.includes(`acceptor ${k} (127.0.0.1:${p[k]})`));
      expect(about, lines.join('\n')).toHaveLength(1);
      expect(about[0]).toMatch(new RegExp(`^I \\+\\d+ms Cannot connect to acceptor ${k} \\(127\\.0\\.0\\.1:${p[k]}\\): connection refused: nothing listens at that address \\(ECONNREFUSED\\); retrying every 2 s at most$`));
    }
    expect(lines.filter((l) => /No acceptor is reachable \(none of the 3 in the config answers\)/.test(l))).toHaveLength(1);
    expect(lines).toHaveLength(4);
  }, 15_000);

  it('an orderly close logs nothing alarming; the peer says it lost the connection once', async () => {
    const logs = [capture(), capture()];
    const [r0, r1] = await withFreePorts(2, async (p) => {
      const config = parseConfig(p.map((port, i) => `replica ${i} 127.0.0.1 ${port}`).join('\n'), 'test.conf');
      const started = [];
      for (let id = 0; id < 2; id++) started.push(await startReplica({ id, config, log: (logs[id] as ReturnType<typeof capture>).log }));
      return started;
    });
    if (r0 === undefined || r1 === undefined) throw new Error('replicas did not start');
    handles.push(r1);
    await waitFor(() => logs.every((l) => l.lines.some((x) => /Connected to acceptor/.test(x))), 5000, 'both replicas to connect');
    r0.submit(new TextEncoder().encode('one value'));
    const before = logs[0]?.lines.length ?? 0;
    await r0.close();
    await sleep(300);
    // (A count of start-up timeouts may still be written: a summary, not an alarm.)
    const after = logs[0]?.lines.slice(before) ?? [];
    expect(after.filter((l) => l.startsWith('E ') || /lost|Cannot connect|reconnect|retry|fail/i.test(l))).toEqual([]);
    // The replica left behind reports the loss, then stays quiet while it redials (under 1 s).
    expect(logs[1]?.lines.filter((l) => /lost|Cannot connect/.test(l))).toHaveLength(1);
    expect(logs[1]?.lines.find((l) => /lost/.test(l))).toMatch(/Connection to acceptor 0 \(127\.0\.0\.1:\d+\) lost \(closed by the peer\); reconnecting/);
  }, 15_000);
});
