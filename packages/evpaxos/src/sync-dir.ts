import { closeSync, fsyncSync, openSync } from 'node:fs';

/** fsyncs a folder, so that the entries just made in it (a renamed file, a new folder) last a power cut. */
export function syncDirectory(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
