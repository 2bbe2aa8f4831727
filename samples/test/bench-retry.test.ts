import { describe, expect, it } from 'vitest';
import { onFreshPorts } from '../src/bench-retry.js';

describe('a benchmark configuration whose server never listened', () => {
  const runs = (errors: (string | undefined)[]) => {
    let calls = 0;
    const said: string[] = [];
    const result = onFreshPorts(
      async () => {
        const error = errors[calls++];
        return error === undefined ? { value: calls } : { value: calls, error };
      },
      (l) => said.push(l),
    );
    return { result, calls: () => calls, said };
  };
  const taken = 'port 46154 never started listening (replica 2: another process is using that port)';

  it('runs again, on the next ports, and says so', async () => {
    const r = runs([taken, undefined]);
    expect(await r.result).toEqual({ value: 2 });
    expect(r.said).toEqual([`    ${taken}; running it again on the next ports\n`]);
  });

  it('gives up after two more tries, with the last failure', async () => {
    const r = runs([taken, taken, taken, undefined]);
    expect(await r.result).toEqual({ value: 3, error: taken });
    expect(r.calls()).toBe(3);
  });

  it('does not run again for any other failure, nor for a server that never listened for another reason', async () => {
    for (const other of ['its client measured nothing', 'port 46150 never started listening (replica 2: Cannot find module replica.js)']) {
      const r = runs([other, undefined]);
      expect(await r.result).toEqual({ value: 1, error: other });
      expect(r.said).toEqual([]);
    }
  });

  it('knows the skeleton’s and C LibPaxos3’s words for a taken port', async () => {
    for (const said of ['skeleton: cannot listen on 127.0.0.1:46150 (EADDRINUSE: another process is using that port)', 'Failed to bind on port 46150']) {
      const r = runs([`port 46150 never started listening (replica 0: ${said})`, undefined]);
      expect(await r.result).toEqual({ value: 2 });
    }
  });
});
