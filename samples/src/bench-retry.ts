/**
 * Runs a benchmark configuration again, on the next ports, when one of its servers could not
 * listen because its port was taken (by a server of something else on the machine, or, with a
 * --port-base in Linux's ephemeral range, 32768–60999, by any connection's local port: a row of a
 * 4-round run failed so when that was our default). Twice at most; each retry is said on stderr.
 * `run` takes fresh ports each time it is called. A server that never listened for another reason
 * (a crash at start) is not run again: it would fail the same way.
 */
/** What a server says when its port is taken: ours, the skeleton, C LibPaxos3's. */
const PORT_TAKEN = /another process is using that port|EADDRINUSE|Failed to bind/;

export async function onFreshPorts<T extends { error?: string }>(run: () => Promise<T>, say: (line: string) => void = (l) => process.stderr.write(l)): Promise<T> {
  let r = await run();
  for (let left = 2; left > 0 && r.error !== undefined && / never started listening/.test(r.error) && PORT_TAKEN.test(r.error); left--) {
    say(`    ${r.error}; running it again on the next ports\n`);
    r = await run();
  }
  return r;
}
