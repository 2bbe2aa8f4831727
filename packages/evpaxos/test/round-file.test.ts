import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RoundFile, StorageError } from '../src/index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function path(): string {
  const d = mkdtempSync(join(tmpdir(), 'paxos-round-'));
  dirs.push(d);
  return join(d, 'round_0');
}

describe('a split proposer’s round file', () => {
  it('keeps the round floor and, once known, the instance its learner learned up to', async () => {
    const p = path();
    const f = new RoundFile(p);
    await f.commit([{ kind: 'round-floor', round: 100 }]);
    expect(readFileSync(p, 'utf8')).toBe('100\n');
    await f.commit([{ kind: 'learned', iid: 5000 }]);
    expect(readFileSync(p, 'utf8')).toBe('100 5000\n');
    await f.commit([{ kind: 'learned', iid: 4000 }, { kind: 'round-floor', round: 50 }]); // neither goes down
    expect(readFileSync(p, 'utf8')).toBe('100 5000\n');
    const again = new RoundFile(p);
    expect([again.roundFloor, again.learned]).toEqual([100, 5000]);
  });

  it('reads the files of earlier builds (the floor alone) and refuses anything else', () => {
    const p = path();
    writeFileSync(p, '42\n');
    expect([new RoundFile(p).roundFloor, new RoundFile(p).learned]).toEqual([42, 0]);
    writeFileSync(p, '42 x\n');
    expect(() => new RoundFile(p)).toThrow(StorageError);
    expect(() => new RoundFile(p)).toThrow(/does not hold a round number/);
  });
});
