import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', 'src');
const BANNED: [RegExp, string][] = [
  [/from\s+['"]node:/, 'a node: import'],
  [/\brequire\s*\(/, 'require()'],
  [/\bBuffer\b/, 'Buffer'],
  [/\bDate\b/, 'Date'],
  [/Math\.random/, 'Math.random'],
  [/\bset(Timeout|Interval|Immediate)\b/, 'a timer'],
  [/\bprocess\./, 'process'],
  [/\bperformance\b/, 'performance'],
  [/\bTextEncoder|TextDecoder\b/, 'TextEncoder/TextDecoder'],
];

describe('paxos-core purity', () => {
  it('uses no I/O, clocks, timers, randomness or host objects (ARCHITECTURE.md core contract)', () => {
    const offences: string[] = [];
    for (const file of readdirSync(SRC)) {
      const lines = readFileSync(join(SRC, file), 'utf8').split('\n');
      lines.forEach((line, i) => {
        const code = line.replace(/\/\/.*$/, '').replace(/^\s*\*.*$/, '');
        for (const [re, what] of BANNED) if (re.test(code)) offences.push(`${file}:${i + 1}: ${what}`);
      });
    }
    expect(offences).toEqual([]);
  });

  it('declares no runtime dependencies', () => {
    const pkg = JSON.parse(readFileSync(join(SRC, '..', 'package.json'), 'utf8')) as { dependencies?: object };
    expect(pkg.dependencies ?? {}).toEqual({});
  });
});
