/**
 * Helpers for the kv-server tests: a raw memcached socket client that reads until a reply is
 * complete (bounded in time), and in-process servers on ports from this package's port block.
 */
import { connect, type Socket } from 'node:net';
import { KvServer, type KvServerOptions } from '../src/kv/server.js';
import { ports } from './procs.js';

/** Starts a KvServer on ports from the block (port 0 would draw from other checkouts' blocks), retrying on EADDRINUSE. */
export async function startKvServer(o: Omit<KvServerOptions, 'port' | 'stalePort'> & { stale?: boolean }): Promise<KvServer> {
  for (let attempt = 1; ; attempt++) {
    const [port, stalePort] = ports(2) as [number, number];
    try {
      return await KvServer.start({ ...o, port, ...(o.stale === true ? { stalePort } : {}) });
    } catch (e) {
      if (attempt >= 5 || !/another process is using that port/.test((e as Error).message)) throw e;
    }
  }
}

export function latin1(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i) & 0xff;
  return b;
}

export function str(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode(...b.subarray(i, i + 4096));
  return s;
}

/** A memcached client on one socket: sends bytes, reads replies, with a deadline on every wait. */
export class RawClient {
  /** Received and not yet taken: `store[0, size)` (grown by doubling, so a long stream costs O(n)). */
  private store = new Uint8Array(4096);
  private size = 0;
  closed = false;
  private waiters: (() => void)[] = [];

  private get buf(): Uint8Array {
    return this.store.subarray(0, this.size);
  }

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      if (this.size + d.length > this.store.length) {
        const n = new Uint8Array(Math.max(this.store.length * 2, this.size + d.length));
        n.set(this.buf);
        this.store = n;
      }
      this.store.set(d, this.size);
      this.size += d.length;
      this.wake();
    });
    socket.on('end', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host }, () => {
        s.off('error', reject);
        resolve(new RawClient(s));
      });
      s.once('error', reject);
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  send(data: string | Uint8Array): void {
    this.socket.write(typeof data === 'string' ? latin1(data) : data);
  }

  /** Waits until `done(received)` is true (or the peer closes), then takes and returns what came. */
  async until(done: (received: Uint8Array) => boolean, ms = 10_000, what = 'a reply'): Promise<Uint8Array> {
    const deadline = Date.now() + ms;
    while (!done(this.buf) && !this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms waiting for ${what}; got ${JSON.stringify(str(this.buf).slice(-300))}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    const out = this.buf.slice();
    this.size = 0;
    return out;
  }

  /** Text: sends and waits for `lines` complete reply lines ending in `terminator` (default: any line). */
  async ask(data: string, terminator: RegExp = /\r\n$/, ms?: number): Promise<string> {
    this.send(data);
    return str(await this.until((b) => terminator.test(str(b)), ms, `a reply matching ${terminator}`));
  }

  /** Waits for the server to close the connection. */
  async closedByServer(ms = 5000): Promise<string> {
    return str(await this.until(() => false, ms, 'the server to close the connection'));
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** The text replies for `input`, one line or data block per entry ("VALUE …\r\ndata" kept together). */
export function countLines(text: string, line: RegExp): number {
  return text.split('\r\n').filter((l) => line.test(l)).length;
}
