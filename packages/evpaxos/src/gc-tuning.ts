import { setFlagsFromString } from 'node:v8';
import { ConfigError } from './config.js';

/**
 * How much V8's old generation may grow past its live size before the next full collection, for a
 * process that moves values at a replica's rates (issue 10).
 *
 * V8 sets its old-generation limit at the live size times a factor it picks (1.1–4), and starts an
 * incremental mark-compact not only at that limit but as soon as the room left under it is within
 * what its young generation may promote (`--trace-incremental-marking` in the sample client:
 * "Start (task): 8MB / 24MB / 16MB", size / limit / room, every 50 ms). A replica, an acceptor or a
 * client holds a small heap (the sample client: 9 MB) and allocates fast (every value read from a
 * socket, copied and encoded), so the room is never enough: under load V8 ran a mark-compact every
 * 50–100 ms in every process (`--trace-gc`, 64 B and 8 KiB values; the client 112 in 8 s at 8 KiB
 * `-o 10`), half of the client's CPU and a third of a replica's. A fixed growth of 300 % (limit =
 * 4 × live, the top of V8's own range) leaves the room. Against the code before, interleaved pairs,
 * replica mode: 64 B `-o 100` batching +17–29 % values/s, 1 KiB `-o 100` +36–72 %, 8 KiB `-o 10`
 * +48–64 %; 64 B `-o 1` and `-o 10` within the noise (README, "Garbage collection").
 *
 * It costs memory: a heap may hold up to three times its live size in garbage before a full
 * collection. And a fixed factor replaces V8's own choice everywhere, also where V8 would grow
 * less: when the memory reducer shrinks an idle process, under memory pressure, near the heap
 * limit, and on machines with little memory (where V8 keeps to 1.3–2). An operator who wants those
 * back sets `LIBPAXOS_GC_TUNING=off` (or `--heap-growing-percent=0`, V8's dynamic factor).
 *
 * `--initial-old-space-size=128` on node's command line measured about the same (8 KiB `-o 10`
 * 5,025–5,273 values/s against 4,446–4,807 with this, 64 B `-o 100` batching 178k against 177k),
 * but heap sizes are read only when the isolate is made: a sample started as `node replica.js`
 * cannot set them for itself (short of starting a second process). The growth factor is read at
 * every full collection, so a process may set it at startup.
 */
export const HEAP_GROWING_PERCENT = 300;

/** The environment variable that turns the tuning off (`LIBPAXOS_GC_TUNING=off`). */
export const GC_TUNING_ENV = 'LIBPAXOS_GC_TUNING';

/**
 * The V8 flag `tuneGarbageCollector` would set, or why it sets none: the operator turned it off, or
 * chose a growth factor already on node's command line, which wins. (Node 20 refuses the flag in
 * NODE_OPTIONS and does not start; it is looked for there too, for a Node that allows it.)
 */
export function gcTuning(env: NodeJS.ProcessEnv, execArgv: readonly string[]): { readonly flag: string } | { readonly skipped: string } {
  const setting = env[GC_TUNING_ENV];
  if (setting !== undefined && setting !== '' && setting !== 'on') {
    if (setting === 'off') return { skipped: `${GC_TUNING_ENV}=off` };
    throw new ConfigError(
      `The environment variable ${GC_TUNING_ENV} is "${setting}", but it takes only "on" or "off" (V8's heap growth for libpaxos-ts processes, README "Garbage collection"): unset it, or set it to off to leave V8's default`,
    );
  }
  const given = [...execArgv, ...(env['NODE_OPTIONS'] ?? '').split(/\s+/)].find((a) => /^--heap[-_]growing[-_]percent(=|$)/.test(a));
  if (given !== undefined) return { skipped: `${given} given` };
  return { flag: `--heap-growing-percent=${HEAP_GROWING_PERCENT}` };
}

/**
 * Sets V8's heap growth for a process that runs a Paxos role (see `HEAP_GROWING_PERCENT`); the
 * sample programs that run one call it at start. A library user's application decides for itself:
 * nothing in evpaxos calls it. Returns what `gcTuning` decided.
 */
export function tuneGarbageCollector(env: NodeJS.ProcessEnv = process.env, execArgv: readonly string[] = process.execArgv): ReturnType<typeof gcTuning> {
  const t = gcTuning(env, execArgv);
  if ('flag' in t) setFlagsFromString(t.flag);
  return t;
}
