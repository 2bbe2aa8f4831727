/**
 * Replays what real memcached 1.6.18 answered (test/fixtures/memcached.json, recorded by
 * scripts/record-memcached-fixtures.mjs) through this package's codecs and store, and expects the
 * same bytes and the same close, for the chunking memcached saw, for all of it at once, and for one
 * byte at a time.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { latin1, OneNode, str } from './harness.js';

interface Step {
  readonly send: (string | [string, number])[];
  readonly sleep?: number;
}
interface Case {
  readonly protocol: 'text' | 'binary';
  readonly name: string;
  readonly steps: readonly Step[];
  readonly reply: (string | [string, number])[];
  readonly closed: boolean;
}

const file = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'memcached.json'), 'utf8')) as {
  recordedWith: string;
  gapMs: number;
  cases: Case[];
};

const unpack = (parts: readonly (string | [string, number])[]): string => parts.map((p) => (typeof p === 'string' ? p : p[0].repeat(p[1]))).join('');

/** A readable form of a reply: text as is (long runs shortened), binary as hex per packet. */
function show(protocol: 'text' | 'binary', s: string): string {
  if (protocol === 'text') return s.replace(/(.)\1{40,}/g, (m, c: string) => `${c}×${m.length}`);
  const out: string[] = [];
  let i = 0;
  while (i + 24 <= s.length) {
    const body = ((s.charCodeAt(i + 8) << 24) | (s.charCodeAt(i + 9) << 16) | (s.charCodeAt(i + 10) << 8) | s.charCodeAt(i + 11)) >>> 0;
    const pkt = s.slice(i, i + 24 + body);
    const hex = [...pkt.slice(0, 24)].map((c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('');
    out.push(`${hex} ${JSON.stringify(pkt.slice(24).replace(/(.)\1{40,}/g, (m, c: string) => `${c}×${m.length}`))}`);
    i += 24 + body;
  }
  if (i < s.length) out.push(`+${s.length - i} trailing bytes`);
  return out.join('\n');
}

function replay(c: Case, chunking: 'recorded' | 'whole' | 'bytes'): { reply: string; closed: boolean } {
  const node = new OneNode({ version: '1.6.18' });
  let reply = '';
  for (const step of c.steps) {
    node.now += step.sleep ?? 0;
    const bytes = latin1(unpack(step.send));
    if (chunking === 'bytes') for (let i = 0; i < bytes.length; i++) reply += str(node.send(bytes.subarray(i, i + 1)));
    else reply += str(node.send(bytes));
    if (chunking === 'recorded') node.now += file.gapMs;
  }
  return { reply, closed: node.closed };
}

/** Steps between sleeps joined into one chunk. */
function joined(c: Case): Case {
  const steps: Step[] = [];
  for (const s of c.steps) {
    const last = steps[steps.length - 1];
    if (last !== undefined && s.sleep === undefined) steps[steps.length - 1] = { ...last, send: [...last.send, ...s.send] };
    else steps.push(s);
  }
  return { ...c, steps };
}

describe(`replies match real memcached (${file.recordedWith})`, () => {
  it('has the recorded cases', () => {
    expect(file.cases.length).toBeGreaterThan(60);
  });

  for (const c of file.cases) {
    it(`${c.protocol}: ${c.name}`, () => {
      const want = unpack(c.reply);
      const got = replay(c, 'recorded');
      expect(show(c.protocol, got.reply)).toBe(show(c.protocol, want));
      expect(got.closed).toBe(c.closed);
      const whole = replay(joined(c), 'whole');
      expect(show(c.protocol, whole.reply)).toBe(show(c.protocol, want));
      const size = c.steps.reduce((n, s) => n + unpack(s.send).length, 0);
      if (size < 8192) {
        const bytewise = replay(c, 'bytes');
        expect(show(c.protocol, bytewise.reply)).toBe(show(c.protocol, want));
        expect(bytewise.closed).toBe(c.closed);
      }
    });
  }
});
