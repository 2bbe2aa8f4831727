/** Random KV requests for property tests (seeded, so failures replay). */
import { keyToBytes, Rng, type KvCommand, type KvRequest } from '../src/index.js';

export function randomCommand(rng: Rng, keys = 8): KvCommand {
  const key = `k${rng.int(keys)}`;
  const value = (): Uint8Array => keyToBytes(rng.next() < 0.4 ? String(rng.int(200)) : 'v'.repeat(rng.int(6)) + String.fromCharCode(rng.int(256)));
  const exptime = (): number => rng.pick([0, 0, 0, 1, 2, 5, -1, 2_592_001, 4_000_000_000, 100]);
  const u64 = (): bigint => rng.pick([0n, 1n, 5n, 2n ** 53n + 1n, 2n ** 64n - 1n, BigInt(rng.int(1000))]);
  switch (rng.int(14)) {
    case 0:
      return { op: 'set', key, flags: rng.pick([0, 1, 0xffffffff]), exptime: exptime(), value: value() };
    case 1:
      return { op: 'add', key, flags: 0, exptime: exptime(), value: value() };
    case 2:
      return { op: 'replace', key, flags: 2, exptime: 0, value: value() };
    case 3:
      return rng.next() < 0.5 ? { op: 'append', key, flags: 0, exptime: 0, value: value() } : { op: 'prepend', key, flags: 0, exptime: 0, value: value(), cas: u64() };
    case 4:
      return { op: 'cas', key, flags: 0, exptime: 0, value: value(), cas: BigInt(rng.int(40)) };
    case 5:
      return rng.next() < 0.5 ? { op: 'get', keys: [key, `k${rng.int(keys)}`] } : { op: 'get', keys: [key], nonce: rng.int(1_000_000_000) };
    case 6:
      return { op: 'gat', exptime: exptime(), keys: [key] };
    case 7:
      return { op: 'touch', key, exptime: exptime() };
    case 8:
      return rng.next() < 0.5 ? { op: 'delete', key } : { op: 'delete', key, cas: BigInt(rng.int(40)) };
    case 9:
      return { op: 'incr', key, delta: u64() };
    case 10:
      return rng.next() < 0.5 ? { op: 'decr', key, delta: u64(), initial: { value: u64(), exptime: exptime() >>> 0 }, cas: 0n } : { op: 'decr', key, delta: u64() };
    case 11:
      return rng.next() < 0.2 ? { op: 'flush_all', delay: rng.pick([0, 1, 3, -1]) } : { op: 'oversized_set', key };
    case 12:
      return rng.next() < 0.5 ? { op: 'register' } : { op: 'register', nonce: rng.int(1_000_000_000) };
    default:
      return { op: 'set', key, flags: 0, exptime: 0, value: value() };
  }
}

/** A stream of requests with a clock that mostly moves forward, sometimes back, and some in sessions. */
export function randomRequests(seed: number, n: number): KvRequest[] {
  const rng = new Rng(seed);
  let now = 1_700_000_000_000;
  const out: KvRequest[] = [];
  const seqs = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    now += rng.pick([0, 1, 10, 500, 1500, -3000]);
    const command = randomCommand(rng);
    const sid = 1 + rng.int(3);
    if (rng.next() < 0.3 && command.op !== 'register') {
      const seq = (seqs.get(sid) ?? 0) + (rng.next() < 0.2 ? 0 : 1);
      seqs.set(sid, Math.max(seq, 1));
      out.push({ now, session: { id: sid, seq: Math.max(seq, 1), ack: Math.max(0, seq - 1 - rng.int(3)) }, command });
    } else out.push({ now, command });
  }
  return out;
}
