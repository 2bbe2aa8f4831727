import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { open } from 'lmdb';
import { afterEach, describe, expect, it } from 'vitest';
import { bytesEqual, type AcceptedMsg, type Message } from '@libpaxos/paxos-core';
import { FrameDecoder, encodeMessage } from '@libpaxos/evpaxos';
import { Proc, cleanUp, ports, sleep, startListening, tempDir, waitFor, writeConfig } from './procs.js';
import { Tmpfs, tmpfsUnavailable, unmountAll } from './tmpfs.js';

afterEach(async () => {
  await cleanUp();
  unmountAll();
});
if (tmpfsUnavailable !== undefined) process.stderr.write(`disk.test.ts: the full and read-only disk tests are skipped: ${tmpfsUnavailable}\n`);

/** A raw connection to an acceptor, playing the proposer: sends messages, keeps what comes back. */
class RawPeer {
  readonly accepted: AcceptedMsg[] = [];
  private readonly socket: Socket;
  readonly ready: Promise<void>;

  constructor(port: number) {
    const decoder = new FrameDecoder(1 << 20);
    this.socket = connect({ host: '127.0.0.1', port });
    this.socket.on('error', () => undefined);
    this.socket.on('data', (chunk: Buffer) => {
      for (const m of decoder.push(chunk)) if (m.type === 'accepted') this.accepted.push(m);
    });
    this.ready = new Promise((resolve) => this.socket.once('connect', () => resolve()));
  }

  send(msg: Message): void {
    this.socket.write(encodeMessage(msg));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A 2 KiB value that names its instance. */
function valueFor(iid: number): Uint8Array {
  const v = new Uint8Array(2048).fill(iid % 251);
  new DataView(v.buffer).setUint32(0, iid);
  return v;
}

/** Starts acceptor 0 alone with LMDB storage under `env`, retrying on a taken port. */
async function startLmdbAcceptor(dir: string, env: string, name: string, sync: 'yes' | 'no' = 'yes'): Promise<{ acceptor: Proc; port: number }> {
  return startListening(
    1,
    ([port]) => {
      // Segments of 32 instances: a disk fills up while segments are made, and commits span two.
      const path = writeConfig(dir, `acceptor 0 127.0.0.1 ${port}\nstorage-backend lmdb\nlmdb-sync ${sync}\nlmdb-env-path ${env}\nlmdb-segment-instances 32\n`, name);
      const acceptor = new Proc('acceptor', ['0', path]);
      return { procs: [acceptor], value: { acceptor, port: port as number } };
    },
    (p) => /listening on/.test(p.stderr),
  );
}

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

  it.skipIf(tmpfsUnavailable !== undefined)('an acceptor whose LMDB directory is on a read-only disk says so, names it and exits 1', async () => {
    const fs = Tmpfs.mount(4096);
    const dir = tempDir();
    const env = join(fs.dir, 'acc');
    // A store that exists, written while the disk was writable.
    const first = await startLmdbAcceptor(dir, env, 'first.conf');
    // LibPaxos3's acceptor exits 1 after `Caught signal`, a clean close all the same.
    first.acceptor.child.kill('SIGTERM');
    await first.acceptor.exit;
    expect(first.acceptor.stderr).toContain('Caught signal 15');
    fs.remount('ro');
    for (const [name, envPath] of [['existing.conf', env], ['fresh.conf', join(fs.dir, 'fresh')]] as const) {
      const path = writeConfig(dir, `acceptor 0 127.0.0.1 ${ports(1)[0]}\nstorage-backend lmdb\nlmdb-env-path ${envPath}\n`, name);
      const p = new Proc('acceptor', ['0', path]);
      expect(await p.exit).toBe(1);
      expect(p.stderr).toContain(`cannot open LMDB storage at ${envPath}_0`);
      expect(p.stderr).toMatch(/read-only file system.*make the directory writable, or set lmdb-env-path/i);
    }
  }, 30_000);

  // lmdb-sync yes commits in lmdb-js's asynchronous transaction, no in a synchronous one: both fail the same way.
  it.skipIf(tmpfsUnavailable !== undefined).each(['yes', 'no'] as const)('an acceptor whose disk fills up says so and exits 1, and keeps every value it acknowledged (lmdb-sync %s)', async (sync) => {
    const fs = Tmpfs.mount(1024);
    const dir = tempDir();
    const env = join(fs.dir, 'acc');
    const { acceptor, port } = await startLmdbAcceptor(dir, env, 'full.conf', sync);
    const peer = new RawPeer(port);
    await peer.ready;
    // Pipelined accepts, 16 in flight, until the acceptor gives up: 1 MiB holds a few hundred.
    let sent = 0;
    const deadline = Date.now() + 30_000;
    while (acceptor.exitCode === undefined && sent < 5000 && Date.now() < deadline) {
      while (sent - peer.accepted.length < 16 && sent < 5000) {
        sent++;
        peer.send({ type: 'accept', iid: sent, ballot: 11, value: valueFor(sent) });
      }
      await sleep(5);
    }
    expect(await acceptor.exit).toBe(1);
    peer.close();
    expect(acceptor.stderr).toContain(`writing to LMDB storage at ${env}_0 failed`);
    expect(acceptor.stderr).toMatch(/the disk holding it is full \(\d+ bytes free\)\. Free some space and restart the acceptor/);
    const acked = new Set(peer.accepted.map((m) => m.iid));
    expect(acked.size).toBeGreaterThan(50);
    expect(acked.size).toBeLessThan(sent);

    // More space, same store: everything acknowledged is still there, with its bytes.
    fs.remount('size=16384k');
    const again = await startLmdbAcceptor(dir, env, 'again.conf', sync);
    const reader = new RawPeer(again.port);
    await reader.ready;
    reader.send({ type: 'repeat', from: 1, to: sent });
    await waitFor(() => new Set(reader.accepted.map((m) => m.iid)).size >= acked.size, 10_000, 'the repeat replies');
    const kept = new Map(reader.accepted.map((m) => [m.iid, m.value]));
    for (const iid of acked) {
      const value = kept.get(iid);
      expect(value !== undefined && bytesEqual(value, valueFor(iid)), `instance ${iid} was acknowledged but is not on disk`).toBe(true);
    }
    reader.send({ type: 'accept', iid: sent + 1, ballot: 11, value: valueFor(sent + 1) });
    await waitFor(() => reader.accepted.some((m) => m.iid === sent + 1), 10_000, 'an accept after the restart');
    reader.close();
  }, 60_000);
});
