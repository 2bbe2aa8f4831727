import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { open } from 'lmdb';
import { afterEach, describe, expect, it } from 'vitest';
import { Proc, killAll, ports, tempDir, writeConfig } from './procs.js';

afterEach(killAll);

describe('a disk that fails', () => {
  it('an acceptor whose LMDB storage holds a corrupt record says where and exits 1, never answering from it', async () => {
    const dir = tempDir();
    const env = join(dir, 'acc');
    const raw = open<Uint8Array, number>({ path: `${env}_0`, encoding: 'binary', keyEncoding: 'uint32' });
    await raw.put(7, Uint8Array.of(1, 2, 3));
    await raw.close();
    const path = writeConfig(dir, `acceptor 0 127.0.0.1 ${ports(1)[0]}\nstorage-backend lmdb\nlmdb-env-path ${env}\n`);
    const p = new Proc('acceptor', ['0', path]);
    expect(await p.exit).toBe(1);
    expect(p.stderr).toContain(`${env}_0: record for instance 7 is 3 bytes, shorter than its 9-byte header`);
    expect(p.stderr).toMatch(/Could not start the acceptor!/);
  }, 20_000);

  it('an acceptor whose LMDB directory cannot be created says where and exits 1', async () => {
    const dir = tempDir();
    const blocker = join(dir, 'file');
    writeFileSync(blocker, 'not a directory');
    const path = writeConfig(dir, `acceptor 0 127.0.0.1 ${ports(1)[0]}\nstorage-backend lmdb\nlmdb-env-path ${join(blocker, 'acc')}\n`);
    const p = new Proc('acceptor', ['0', path]);
    expect(await p.exit).toBe(1);
    expect(p.stderr).toMatch(/cannot open LMDB storage at .*file\/acc_0/);
  }, 20_000);
});
