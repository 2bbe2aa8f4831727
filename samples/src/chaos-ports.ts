/**
 * The default first port of a `pnpm chaos` run: 8000–9500 in steps of 300 (the span the KV
 * workload searches for free ports), from the seed and the process id. Below Linux's ephemeral
 * range (32768–60999), whose ports any connection on the machine may hold as its local port (a
 * replica restarted on its port, again and again, could find it so), and below the test suites'
 * 10000–32599.
 */
export function chaosPortBase(seed: number): number {
  return 8000 + ((seed * 7 + process.pid) % 6) * 300;
}
