import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A small tmpfs for disk-failure tests: a real filesystem that can be filled or made read-only.
 * Mounting needs root (CAP_SYS_ADMIN); where that is missing the tests that need it are skipped,
 * and `tmpfsUnavailable` says why.
 */
export class Tmpfs {
  private constructor(readonly dir: string) {}

  static mount(sizeKiB: number): Tmpfs {
    const dir = mkdtempSync(join(tmpdir(), 'paxos-tmpfs-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
    const fs = new Tmpfs(dir);
    mounted.add(fs);
    return fs;
  }

  /** Remounts with new options (`ro`, `rw`, `size=…k`); the files stay. */
  remount(options: string): void {
    execFileSync('mount', ['-o', `remount,${options}`, this.dir], { stdio: 'pipe' });
  }

  unmount(): void {
    if (!mounted.delete(this)) return;
    execFileSync('umount', ['-l', this.dir], { stdio: 'pipe' });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const mounted = new Set<Tmpfs>();

/** Unmounts whatever a test left mounted. */
export function unmountAll(): void {
  for (const fs of [...mounted]) {
    try {
      fs.unmount();
    } catch {
      // Already gone.
    }
  }
}

/** Why a tmpfs cannot be mounted here, or undefined when it can. */
export const tmpfsUnavailable: string | undefined = (() => {
  try {
    Tmpfs.mount(64).unmount();
    return undefined;
  } catch (e) {
    return `cannot mount a tmpfs here (${(e as Error).message.split('\n')[0]}); run as root to test full and read-only disks`;
  }
})();
