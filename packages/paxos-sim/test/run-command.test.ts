import { describe, expect, it } from 'vitest';
import { MUTANT_OVERRIDES, drawOptions, parseRunCommand, replayCommand, simulate } from '../src/index.js';

describe('a run command pasted into sim:web', () => {
  it('reads a bare seed', () => {
    expect(parseRunCommand(' 42 ')).toEqual({
      seed: 42,
      flags: { values: undefined, mode: undefined, mutant: undefined, leader: undefined, 'drift-violation': false },
      overrides: {},
    });
  }, 60_000);

  it('reads the replay line pnpm sim prints, prefix and all, and gives the same run', () => {
    const parsed = parseRunCommand('  replay: pnpm sim --seed 17 --values 300 --mode replica');
    expect(parsed.seed).toBe(17);
    expect(parsed.overrides).toEqual({ values: 300, mode: 'replica' });
    const options = drawOptions(parsed.seed, parsed.overrides);
    expect(replayCommand(options, parsed.flags)).toBe('pnpm sim --seed 17 --values 300 --mode replica');
    expect(simulate(options).traceHash).toBe(simulate(drawOptions(17, { values: 300, mode: 'replica' })).traceHash);
  }, 60_000);

  it('takes --flag=value, --quiet and --seeds 1, and a mutant brings the knobs it needs, as on the CLI', () => {
    const parsed = parseRunCommand('pnpm -s sim --seed=3 --seeds 1 --quiet --mutant libpaxos3-learner-b1');
    expect(parsed.seed).toBe(3);
    expect(parsed.overrides).toEqual({ ...MUTANT_OVERRIDES['libpaxos3-learner-b1'], mutant: 'libpaxos3-learner-b1' });
    expect(parseRunCommand('pnpm sim --seed 4 --mutant learner-delivers-wrong-element --mode replica').overrides).toEqual({
      ...MUTANT_OVERRIDES['learner-delivers-wrong-element'],
      mutant: 'learner-delivers-wrong-element',
      mode: 'replica',
    });
  }, 60_000);

  it('takes --resign-every, and replays it', () => {
    const parsed = parseRunCommand('replay: pnpm sim --seed 175 --leader on --resign-every 0');
    expect(parsed.overrides).toEqual({ leadership: true, resignEveryMs: 0 });
    const options = drawOptions(175, parsed.overrides);
    expect(options.resignEveryMs).toBe(0);
    expect(replayCommand(options, parsed.flags)).toBe('pnpm sim --seed 175 --leader on --resign-every 0');
    expect(simulate(options).faults.resignations).toBe(0);
    expect(() => parseRunCommand('pnpm sim --seed 9 --resign-every soon')).toThrow(/--resign-every must be a whole number ≥ 0, got 'soon'/);
  }, 60_000);

  it('takes --memory-window (0: no archive), and replays it', () => {
    const parsed = parseRunCommand('replay: pnpm sim --seed 21 --mode replica --memory-window 4');
    expect(parsed.overrides).toEqual({ mode: 'replica', memoryWindow: 4 });
    const options = drawOptions(21, parsed.overrides);
    expect(options.memoryWindow).toBe(4);
    expect(replayCommand(options, parsed.flags)).toBe('pnpm sim --seed 21 --mode replica --memory-window 4');
    expect(parseRunCommand('pnpm sim --seed 21 --memory-window=0').overrides).toEqual({ memoryWindow: 0 });
    expect(() => parseRunCommand('pnpm sim --seed 21 --memory-window 4294967296')).toThrow(/--memory-window must be at most 4294967295 instances, got '4294967296'/);
    // Drawn per seed otherwise, and then not in the replay (the seed draws it again).
    expect(replayCommand(drawOptions(21), {})).not.toMatch(/memory-window/);
    expect(() => parseRunCommand('pnpm sim --seed 9 --memory-window -1')).toThrow(/--memory-window must be a whole number ≥ 0, got '-1'/);
  });

  it('takes --connections (on by default), and replays it off', () => {
    const parsed = parseRunCommand('replay: pnpm sim --seed 21 --connections off');
    expect(parsed.overrides).toEqual({ connections: false });
    const options = drawOptions(21, parsed.overrides);
    expect(options.connections).toBe(false);
    expect(replayCommand(options, parsed.flags)).toBe('pnpm sim --seed 21 --connections off');
    expect(drawOptions(21).connections).toBe(true);
    expect(replayCommand(drawOptions(21), {})).not.toMatch(/connections/);
    expect(() => parseRunCommand('pnpm sim --seed 21 --connections maybe')).toThrow(/--connections must be on or off, got 'maybe'/);
  });

  it('takes --leader and --drift-violation, and replays them', () => {
    const parsed = parseRunCommand('replay: pnpm sim --seed 9 --leader on --drift-violation');
    expect(parsed.overrides).toEqual({ leadership: true, driftViolation: true });
    expect(replayCommand(drawOptions(9, parsed.overrides), parsed.flags)).toBe('pnpm sim --seed 9 --leader on --drift-violation');
    expect(parseRunCommand('pnpm sim --seed 9 --leader off').overrides).toEqual({ leadership: false });
    expect(() => parseRunCommand('pnpm sim --seed 9 --leader maybe')).toThrow(/--leader must be on or off, got 'maybe'/);
  });

  it('takes --trim-reporters (1 is the old trim rule) and replays it', () => {
    const parsed = parseRunCommand('replay: pnpm sim --seed 375 --mode split --trim-reporters 1');
    expect(parsed.overrides).toEqual({ mode: 'split', trimReporters: 1 });
    expect(replayCommand(drawOptions(375, parsed.overrides), parsed.flags)).toMatch(/--trim-reporters 1$/);
    expect(replayCommand(drawOptions(375, { mode: 'split' }), { mode: 'split' })).not.toMatch(/trim-reporters/);
    expect(() => parseRunCommand('pnpm sim --seed 1 --trim-reporters 0')).toThrow("--trim-reporters must be a whole number ≥ 1, got '0'");
  });

  it.each([
    ['pnpm sim --seed x', "--seed must be a whole number ≥ 0, got 'x'"],
    ['pnpm sim --seed 1 --values 0', "--values must be a whole number ≥ 1, got '0'"],
    ['pnpm sim --mode paxos', "--mode must be split or replica, got 'paxos'"],
    ['pnpm sim --mutant nope', "unknown --mutant 'nope'; one of:"],
    ['pnpm sim --seeds 10', '--seeds 10: one run at a time here; give one seed'],
    ['pnpm sim --window 3', "unknown flag '--window'"],
    ['pnpm sim --seed', '--seed needs a value'],
    ['pnpm sim --seed 1 2', "'2' is not a flag"],
  ])('refuses %s, saying why', (text, why) => {
    expect(() => parseRunCommand(text)).toThrow(why);
  }, 60_000);
});
