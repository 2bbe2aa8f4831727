import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
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
  [/\bfetch\s*\(/, 'fetch'],
];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

describe('paxos-kv purity', () => {
  it('uses no I/O, clocks, timers, randomness or host objects (time comes in the commands)', () => {
    const offences: string[] = [];
    for (const file of files(SRC)) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          const code = line.replace(/\/\/.*$/, '').replace(/^\s*\*.*$/, '');
          for (const [re, what] of BANNED) if (re.test(code)) offences.push(`${relative(SRC, file)}:${i + 1}: ${what}`);
        });
    }
    expect(offences).toEqual([]);
  });

  it('imports nothing but its own modules and @msgpack/msgpack', () => {
    const foreign: string[] = [];
    for (const file of files(SRC)) {
      for (const m of readFileSync(file, 'utf8').matchAll(/from\s+['"]([^'"]+)['"]/g)) {
        const spec = m[1] as string;
        if (!spec.startsWith('.') && spec !== '@msgpack/msgpack') foreign.push(`${relative(SRC, file)}: ${spec}`);
      }
    }
    expect(foreign).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(SRC, '..', 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    expect(Object.keys(pkg.dependencies ?? {})).toEqual(['@msgpack/msgpack']);
  });
});
