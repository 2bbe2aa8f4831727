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
  const dir = mkdtempSync(join(tmpdir(), 'paxos-test-run-'));
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
