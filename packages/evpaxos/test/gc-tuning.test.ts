import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { GC_TUNING_ENV, HEAP_GROWING_PERCENT, gcTuning } from '../src/gc-tuning.js';

describe('V8 heap growth tuning of the sample processes', () => {
  it('sets a fixed heap growth by default', () => {
    expect(gcTuning({}, [])).toEqual({ flag: `--heap-growing-percent=${HEAP_GROWING_PERCENT}` });
    expect(gcTuning({ [GC_TUNING_ENV]: 'on' }, [])).toEqual({ flag: `--heap-growing-percent=${HEAP_GROWING_PERCENT}` });
    expect(gcTuning({ [GC_TUNING_ENV]: '' }, ['--enable-source-maps'])).toEqual({ flag: `--heap-growing-percent=${HEAP_GROWING_PERCENT}` });
  });

  it("is a flag this node's V8 knows (setFlagsFromString only prints an error for one it does not)", () => {
    const t = gcTuning({}, []);
    if (!('flag' in t)) throw new Error('expected a flag');
    const unknown = spawnSync(process.execPath, ['-e', "require('node:v8').setFlagsFromString('--heap-growing-percentage=300')"], { encoding: 'utf8', timeout: 10_000 });
    expect(unknown.stderr).toMatch(/unrecognized flag/); // the check below can fail
    const ours = spawnSync(process.execPath, ['-e', `require('node:v8').setFlagsFromString(${JSON.stringify(t.flag)})`], { encoding: 'utf8', timeout: 10_000 });
    expect(ours.status).toBe(0);
    expect(ours.stderr).toBe('');
  });

  it('leaves V8 alone when the operator turns it off', () => {
    expect(gcTuning({ [GC_TUNING_ENV]: 'off' }, [])).toEqual({ skipped: `${GC_TUNING_ENV}=off` });
  });

  it("keeps a growth factor the operator gave on node's command line or in NODE_OPTIONS", () => {
    expect(gcTuning({}, ['--heap-growing-percent=50'])).toEqual({ skipped: '--heap-growing-percent=50 given' });
    expect(gcTuning({}, ['--heap_growing_percent', '50'])).toEqual({ skipped: '--heap_growing_percent given' });
    expect(gcTuning({ NODE_OPTIONS: '--max-old-space-size=4096 --heap-growing-percent=80' }, [])).toEqual({ skipped: '--heap-growing-percent=80 given' });
    // Other heap flags do not count as a choice of growth.
    expect(gcTuning({ NODE_OPTIONS: '--max-old-space-size=4096' }, ['--max-semi-space-size=32'])).toEqual({ flag: `--heap-growing-percent=${HEAP_GROWING_PERCENT}` });
  });

  it('refuses a setting it does not know, naming the variable and the values it takes', () => {
    expect(() => gcTuning({ [GC_TUNING_ENV]: 'no' }, [])).toThrow(/^The environment variable LIBPAXOS_GC_TUNING is "no", but it takes only "on" or "off" .*: unset it, or set it to off/);
  });
});
