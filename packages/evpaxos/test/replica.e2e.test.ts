import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig, silentLogger, startReplica, type ReplicaHandle } from '../src/index.js';
import { waitFor, withFreePorts } from './ports.js';

const handles: ReplicaHandle[] = [];
afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.close()));
});

describe('replicas on 127.0.0.1 (in one process)', () => {
  it('TotalOrderDelivery: three replicas deliver the values submitted to replica 0 in the same order', async () => {
    const delivered: string[][] = [[], [], []];
    await withFreePorts(3, async (p) => {
      const config = parseConfig(p.map((port, i) => `replica ${i} 127.0.0.1 ${port}`).join('\n'), 'test.conf');
      for (let id = 0; id < 3; id++) {
        handles.push(await startReplica({ id, config, log: silentLogger, onDeliver: (_iid, v) => delivered[id]?.push(new TextDecoder().decode(v)) }));
      }
    });
    const r0 = handles[0] as ReplicaHandle;
    await waitFor(() => r0.submit(new TextEncoder().encode('probe')), 5000, 'replica 0 to connect');
    const total = 500;
    for (let i = 0; i < total; i++) r0.submit(new TextEncoder().encode(`v${i}`));
    await waitFor(() => delivered.every((d) => d.length >= total + 1), 20_000, `${total} deliveries on every replica`);
    expect(delivered[1]).toEqual(delivered[0]);
    expect(delivered[2]).toEqual(delivered[0]);
    expect(new Set(delivered[0]).size).toBe(total + 1);
  }, 30_000);
});
