import { createServer } from 'node:net';

// Ports on 127.0.0.1 for the samples' harnesses: finding free ones, and chaos's default blocks.

/** Default first ports of `pnpm chaos`: six blocks of 300 (the span the KV workload searches), 8000–9799. */
const FIRST = 8000;
const BLOCK = 300;
const BLOCKS = 6;

/**
 * The default first port of a `pnpm chaos` run: one of the six blocks, from the seed and the
 * process id. Below Linux's ephemeral range (32768–60999), whose ports any connection on the machine
 * may hold as its local port (a replica restarted on its port, again and again, could find it so),
 * and below the test suites' 10000–32599. Servers that stay up (8080, 9200…) can sit there: callers
 * test the ports first (`freeBlock`, `freePorts`).
 */
export function chaosPortBase(seed: number): number {
  return FIRST + ((seed * 7 + process.pid) % BLOCKS) * BLOCK;
}

/** Whether a server can listen on 127.0.0.1:`port` now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The first `count` ports of the `span` from `from` that are free now, or undefined if fewer are. */
export async function freePorts(from: number, span: number, count: number): Promise<number[] | undefined> {
  const out: number[] = [];
  for (let p = from; p < from + span && out.length < count; p++) if (await portFree(p)) out.push(p);
  return out.length === count ? out : undefined;
}

/**
 * The first of `size` consecutive ports that are all free now: from `first` (a default base), else
 * from the start of each other default block in turn; undefined if no block has them.
 */
export async function freeBlock(first: number, size: number): Promise<number | undefined> {
  const block = Math.floor((first - FIRST) / BLOCK);
  for (let i = 0; i < BLOCKS; i++) {
    const from = i === 0 ? first : FIRST + ((block + i) % BLOCKS) * BLOCK;
    if ((await freePorts(from, size, size)) !== undefined) return from;
  }
  return undefined;
}

/**
 * Hands out ports in order from `first`, skipping those a server listens on now (a benchmark's
 * clusters, one after another). `what` names the base in the error when none are left.
 */
export class FreePortCursor {
  constructor(
    private next: number,
    private readonly what: string,
  ) {}

  /** The next `n` ports a server can listen on now. */
  async take(n: number): Promise<number[]> {
    const out: number[] = [];
    for (let tries = 0; out.length < n; tries++) {
      if (tries > 2000 || this.next > 65535) throw new Error(`no ${n} free ports on 127.0.0.1 from ${this.what}; give another --port-base`);
      const p = this.next++;
      if (await portFree(p)) out.push(p);
    }
    return out;
  }
}
