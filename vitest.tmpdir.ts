import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Every test run gets a temp folder of its own (TMPDIR, which os.tmpdir() and every child process
 * the tests start read), and at the end of the run that folder must be empty: a test that leaves
 * a file or folder behind, also when it fails, fails the run and is named here. The folder is
 * removed either way.
 */
export default function setup(): () => void {
  removeFoldersOfDeadRuns();
  const dir = mkdtempSync(join(tmpdir(), `paxos-test-run-${process.pid}-`));
  process.env.TMPDIR = dir;
  return () => {
    const left = readdirSync(dir);
    rmSync(dir, { recursive: true, force: true });
    if (left.length === 0) return;
    // vitest reports an error thrown here but still exits 0: set the exit code ourselves.
    process.exitCode = 1;
    throw new Error(`the tests left ${left.length} item(s) in the temp folder: ${left.join(', ')}; every test must remove what it creates, also when it fails`);
  };
}

/**
 * A run that was killed (a timeout, Ctrl-C, a machine restart) never reaches its teardown, and its
 * folder stays. Each folder carries its run's pid: the next run removes those whose run is gone.
 */
function removeFoldersOfDeadRuns(): void {
  const root = tmpdir();
  for (const name of readdirSync(root)) {
    const m = /^paxos-test-run-(\d+)-/.exec(name);
    if (m === null || isAlive(Number(m[1]))) continue;
    rmSync(join(root, name), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
