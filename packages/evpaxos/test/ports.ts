/**
 * Each vitest worker gets its own range of 200 ports on 127.0.0.1 (a paxos.conf needs its ports
 * before the processes start, so port 0 does not fit); ports are handed out in order within it.
 */
const WORKER = Number(process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID ?? 1);
/**
 * `PAXOS_TEST_PORT_BASE` pins a block of 3,000 ports (this package uses its first 1,000), so that
 * two checkouts testing at once on one machine never draw the same ports.
 */
const PINNED = process.env.PAXOS_TEST_PORT_BASE;
// Below Linux's ephemeral range (32768-60999 by default): a port the tests listen on is then never
// the local port the kernel picked for some outgoing connection, so a process restarted on its
// port (the e2e tests do) cannot find it taken. samples/test/procs.ts takes 10000-26699.
const BASE = PINNED !== undefined ? Number(PINNED) + (WORKER % 5) * 200 : 26800 + ((WORKER * 7919 + process.pid) % 29) * 200;
let next = 0;

export function ports(n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    out.push(BASE + (next % 200));
    next++;
  }
  return out;
}

/** Runs `start` with fresh ports until it does not fail with EADDRINUSE (at most 5 tries). */
export async function withFreePorts<T>(n: number, start: (ports: number[]) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(ports(n));
    } catch (e) {
      if (attempt >= 5 || !/another process is using that port|EADDRINUSE/.test(String((e as Error).message))) throw e;
    }
  }
}

/** Polls `check` every 20 ms until it is true or `ms` pass. */
export async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
