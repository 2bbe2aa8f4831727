/**
 * A one-node memcached made of this package's parts, for tests: bytes go through a protocol codec,
 * commands through a KvStore at a fake clock, results back through the codec. It is what the
 * server will do minus sockets and the log.
 */
import {
  BinaryProtocol,
  detectProtocol,
  KvStore,
  isServerCommand,
  newServerCounters,
  statsEntries,
  TextProtocol,
  type BinaryRequest,
  type KvStoreOptions,
  type Outcome,
  type Parsed,
  type ProtocolCodec,
  type ProtocolRequest,
  type ServerCommand,
  type ServerReply,
  type TextRequest,
} from '../src/index.js';

export const T0 = 1_700_000_000_000;

export interface Served {
  readonly reply: Uint8Array;
  readonly closed: boolean;
}

export class OneNode {
  readonly store: KvStore;
  now = T0;
  private codec: ProtocolCodec<ProtocolRequest> | undefined;
  private out: number[] = [];
  closed = false;

  constructor(
    readonly options: KvStoreOptions & { version?: string; protocol?: 'text' | 'binary' } = {},
    store?: KvStore,
  ) {
    this.store = store ?? new KvStore(options);
    if (options.protocol === 'text') this.codec = new TextProtocol(options) as ProtocolCodec<ProtocolRequest>;
    if (options.protocol === 'binary') this.codec = new BinaryProtocol(options) as ProtocolCodec<ProtocolRequest>;
  }

  /** Feeds bytes; returns the reply bytes they produced. */
  send(bytes: Uint8Array | string): Uint8Array {
    const chunk = typeof bytes === 'string' ? latin1(bytes) : bytes;
    const start = this.out.length;
    if (this.closed || chunk.length === 0) return new Uint8Array(0);
    if (this.codec === undefined) {
      this.codec = (detectProtocol(chunk[0] as number) === 'binary' ? new BinaryProtocol(this.options) : new TextProtocol(this.options)) as ProtocolCodec<ProtocolRequest>;
    }
    for (const item of this.codec.push(chunk)) {
      if (this.closed) break;
      this.handle(item);
    }
    return Uint8Array.from(this.out.slice(start));
  }

  private handle(item: Parsed<ProtocolRequest>): void {
    const codec = this.codec as ProtocolCodec<ProtocolRequest>;
    switch (item.type) {
      case 'reply':
        this.write(item.bytes);
        return;
      case 'close':
        this.closed = true;
        return;
      case 'request': {
        const cmd = item.request.command;
        const outcome: Outcome = isServerCommand(cmd) ? this.answer(cmd) : this.store.apply({ now: this.now, command: cmd });
        this.write(codec.encode(item.request, outcome));
        return;
      }
    }
  }

  private answer(cmd: ServerCommand): ServerReply {
    switch (cmd.op) {
      case 'version':
        return { kind: 'version', version: this.options.version ?? '1.6.18' };
      case 'verbosity':
      case 'noop':
      case 'quit':
        return { kind: 'ok' };
      case 'stats':
        if (cmd.group === '') {
          const info = { pid: 1, uptime: 1, time: Math.floor(this.now / 1000), version: '1.6.18', leader: true, lastApplied: 0 };
          return { kind: 'stats', entries: statsEntries(this.store.stats(), newServerCounters(), info) };
        }
        return cmd.group === 'reset' ? { kind: 'reset' } : { kind: 'unknown' };
    }
  }

  private write(b: Uint8Array): void {
    for (const x of b) this.out.push(x);
  }
}

export function latin1(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i) & 0xff;
  return b;
}

export function str(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return s;
}

/** One text exchange: the reply to `input` as a string. */
export function text(node: OneNode, input: string): string {
  return str(node.send(input));
}

export type { BinaryRequest, TextRequest };
