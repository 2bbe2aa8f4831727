import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Message } from '@libpaxos/paxos-core';
import { ConfigError, FrameDecoder, WireError, encodeMessage, parseConfig } from '../src/index.js';

const arbMessage: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ type: fc.constant('prepare' as const), iid: fc.nat(), ballot: fc.nat() }),
  fc.record({ type: fc.constant('accept' as const), iid: fc.nat(), ballot: fc.nat(), value: fc.uint8Array({ maxLength: 300 }) }),
  fc.record({
    type: fc.constant('accepted' as const),
    aid: fc.nat(9),
    iid: fc.nat(),
    ballot: fc.nat(),
    valueBallot: fc.nat(),
    value: fc.uint8Array({ maxLength: 300 }),
  }),
  fc.record({ type: fc.constant('repeat' as const), from: fc.nat(), to: fc.nat() }),
  fc.record({ type: fc.constant('client_value' as const), value: fc.uint8Array({ maxLength: 300 }) }),
);

describe('hostile input', () => {
  it('valid streams corrupted anywhere and cut anywhere: the decoder yields messages or a WireError, and stays within its limit', () => {
    const LIMIT = 256;
    fc.assert(
      fc.property(
        fc.array(arbMessage, { minLength: 1, maxLength: 20 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 5 }),
        fc.array(fc.integer({ min: 1, max: 50 }), { maxLength: 40 }),
        (msgs, flips, cuts) => {
          const stream = Uint8Array.from(msgs.flatMap((m) => [...encodeMessage(m)]));
          for (const [at, byte] of flips) stream[at % stream.length] = byte;
          const d = new FrameDecoder(LIMIT);
          let pos = 0;
          try {
            for (const c of [...cuts, stream.length]) {
              for (const m of d.push(stream.subarray(pos, pos + c))) expect(typeof m.type).toBe('string');
              pos = Math.min(stream.length, pos + c);
              // Never more than one frame of the limit (plus headers) waits for more bytes.
              expect(d.buffered).toBeLessThanOrEqual(LIMIT + 64);
            }
          } catch (e) {
            expect(e).toBeInstanceOf(WireError);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('arbitrary text as paxos.conf gives a config or a path:line ConfigError, never anything else', () => {
    const token = fc.oneof(
      fc.constantFrom('acceptor', 'a', 'proposer', 'replica', 'r', 'verbosity', 'lmdb-mapsize', 'proposer-timeout', 'proposer-preexec-window', 'tcp-nodelay', 'lmdb-sync', 'proposer-batch-max-values', '#', 'yes', 'no', '0', '1', '-1', '3s', '250ms', '127.0.0.1', '[::1]', '::1', 'localhost', 'tls-ca', 'tls-cert', 'tls-key', 'metrics-port', 'log-format', 'json', '8800', 'kb', '99999999999999999999'),
      fc.string({ maxLength: 12 }),
    );
    const line = fc.array(token, { maxLength: 5 }).map((t) => t.join(fc.sample(fc.constantFrom(' ', '\t', '  '), 1)[0] ?? ' '));
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), (lines) => {
        try {
          const c = parseConfig(lines.join('\n'), 'fuzz.conf');
          expect(c.acceptors.length).toBeLessThanOrEqual(10);
        } catch (e) {
          expect(e).toBeInstanceOf(ConfigError);
          expect((e as Error).message).toMatch(/^fuzz\.conf(:\d+)?: /);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
