import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');

/** A sample binary running as a child process, with everything it printed. */
export class Proc {
  stdout = '';
  stderr = '';
  exit: Promise<number | null>;
  exitCode: number | null | undefined = undefined;
  readonly child: ChildProcess;

  constructor(readonly name: string, args: string[], env?: Record<string, string>) {
    this.child = spawn(process.execPath, [join(DIST, `${name}.js`), ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...(env !== undefined ? { env: { ...process.env, ...env } } : {}) });
    this.child.stdout?.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exit = new Promise((resolve) =>
      this.child.once('exit', (code) => {
        this.exitCode = code;
        resolve(code);
      }),
    );
    running.add(this);
    void this.exit.then(() => running.delete(this));
  }

  get lines(): string[] {
    return this.stdout.split('\n').filter((l) => l !== '');
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    if (this.exitCode === undefined) this.child.kill(signal);
    return this.exit;
  }
}

const running = new Set<Proc>();

/**
 * Stops every process a test started (SIGKILL after 3 s), then removes every folder it made with
 * `tempDir`: run it after each test, so that a failing test leaves nothing behind either.
 */
export async function cleanUp(): Promise<void> {
  await Promise.all(
    [...running].map(async (p) => {
      p.child.kill('SIGTERM');
      const timer = setTimeout(() => p.child.kill('SIGKILL'), 3000);
      await p.exit;
      clearTimeout(timer);
    }),
  );
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/**
 * Ports for one test: each vitest worker owns a range of 300 on 127.0.0.1, handed out in order
 * (a paxos.conf needs its ports before the processes start, so port 0 does not fit).
 */
const WORKER = Number(process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID ?? 1);
/** `PAXOS_TEST_PORT_BASE` pins a block of 3,000 ports; this package uses the last 2,000 of it. */
const PINNED = process.env.PAXOS_TEST_PORT_BASE;
// Below Linux's ephemeral range (32768-60999 by default): a listening port is then never the local
// port of an outgoing connection, so a process restarted on its ports (the chaos runs restart
// replicas again and again) cannot find one taken meanwhile. evpaxos's tests take 26800-32599.
const BASE = PINNED !== undefined ? Number(PINNED) + 1000 + (WORKER % 6) * 300 : 10000 + (((WORKER - 1) * 3 + (process.pid % 3)) % 56) * 300;
let nextPort = 0;
export function ports(n: number): number[] {
  return Array.from({ length: n }, () => BASE + (nextPort++ % 300));
}

const folders: string[] = [];

/** A new folder in the temp folder; `cleanUp` removes it. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'paxos-e2e-'));
  folders.push(dir);
  return dir;
}

export function writeConfig(dir: string, text: string, name = 'paxos.conf'): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Polls `check` every 25 ms until true, failing after `ms`. */
export async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(25);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Starts processes that listen on ports from `layout(ports)`; if one fails because its port is
 * taken, kills them all and tries again with fresh ports (at most 4 times).
 */
export async function startListening<T>(
  count: number,
  start: (ports: number[]) => { procs: Proc[]; value: T },
  ready: (p: Proc) => boolean,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const { procs, value } = start(ports(count));
    const deadline = Date.now() + 10_000;
    while (!procs.every(ready) && !procs.some((p) => p.exitCode !== undefined) && Date.now() < deadline) await sleep(25);
    if (procs.every(ready)) return value;
    const inUse = procs.some((p) => /another process is using that port/.test(p.stderr));
    await Promise.all(procs.map((p) => p.kill()));
    if (!inUse || attempt >= 4) {
      throw new Error(`processes did not start: ${procs.map((p) => `${p.name}: ${p.stderr.trim() || 'no output'}`).join(' | ')}`);
    }
  }
}
