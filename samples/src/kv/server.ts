/**
 * The memcached listener(s) of one replica: accepts connections on the main port (linearizable
 * reads) and, if asked, on a stale-read port (kvproxy's read/write split, phxkv's GetLocal), hands
 * each to a `KvConnection` with its own channel into the backend, keeps the server's counters, and
 * answers the commands that never touch the replicated state (`version`, `verbosity`, `stats`).
 *
 * Limits, with memcached's replies: at most `maxConnections` open at once (a connection beyond
 * gets `ERROR Too many open connections` and is closed, as memcached's maxconns_fast does, and is
 * counted in `rejected_connections`); items up to `itemSizeMax` (the codec answers a larger one
 * with memcached's SERVER_ERROR and swallows it).
 */
import { createServer, type Server, type Socket } from 'node:net';
import {
  MEMCACHED_VERSION,
  newServerCounters,
  statsEntries,
  type CodecOptions,
  type ServerCommand,
  type ServerCounters,
  type ServerReply,
  type StatEntry,
} from '@libpaxos/paxos-kv';
import type { BackendStatus, KvBackend, ReadMode } from './backend.js';
import { KvConnection } from './connection.js';

/** What `version` answers: memcapable and clients judge features by the memcached release. */
export const SERVER_VERSION = `${MEMCACHED_VERSION}-paxos-kv`;

export interface KvServerOptions {
  readonly backend: KvBackend;
  /** Address to listen on (default 127.0.0.1). */
  readonly host?: string;
  /** Port for linearizable reads (0: any free one). */
  readonly port: number;
  /** A second port whose gets read this replica's state as it is (stale reads). */
  readonly stalePort?: number;
  /** memcached's -c (default 1024). */
  readonly maxConnections?: number;
  /** The codec's limits; `itemSizeMax` must equal the state machine's. */
  readonly codec?: CodecOptions;
  /** Requests of one connection carried out at once. */
  readonly maxInFlight?: number;
  /** Reply bytes a connection may hold unsent before it stops reading (default 4 MiB). */
  readonly maxUnsentBytes?: number;
  /** This replica's id, for `stats`. */
  readonly replicaId?: number;
  /** A line for the log (connections refused, bugs). */
  readonly log?: (level: 'info' | 'error', line: string) => void;
}

export class KvServer {
  readonly counters: ServerCounters = newServerCounters();
  private rejected = 0;
  private readonly connections = new Set<KvConnection>();
  private readonly servers: Server[] = [];
  private readonly started = performance.now();
  private closing: Promise<void> | undefined;
  private readonly maxConnections: number;
  private readonly host: string;
  /** The ports listened on: [main, stale?] (real ports when 0 was asked for). */
  readonly ports: { port: number; stalePort: number | undefined } = { port: 0, stalePort: undefined };

  private constructor(private readonly o: KvServerOptions) {
    this.maxConnections = o.maxConnections ?? 1024;
    this.host = o.host ?? '127.0.0.1';
  }

  static async start(o: KvServerOptions): Promise<KvServer> {
    const s = new KvServer(o);
    try {
      s.ports.port = await s.listen(o.port, 'linearizable');
      if (o.stalePort !== undefined) s.ports.stalePort = await s.listen(o.stalePort, 'stale');
    } catch (e) {
      await s.close();
      throw e;
    }
    return s;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  private listen(port: number, mode: ReadMode): Promise<number> {
    // Half-open: a client that sends its requests and then finishes sending (a pipe into nc)
    // still gets every reply before the connection closes.
    const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket, mode));
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => {
        const where = `${this.host}:${port}`;
        reject(
          new Error(
            e.code === 'EADDRINUSE'
              ? `kv-server cannot listen on ${where}: another process is using that port; pick another with --port${mode === 'stale' ? ' / --stale-port' : ''}`
              : `kv-server cannot listen on ${where}: ${e.message}`,
          ),
        );
      });
      server.listen(port, this.host, () => {
        server.on('error', (e) => this.o.log?.('error', `kv-server listener on ${this.host}:${port}: ${e.message}`));
        const a = server.address();
        resolve(typeof a === 'object' && a !== null ? a.port : port);
      });
    });
  }

  private accept(socket: Socket, mode: ReadMode): void {
    if (this.closing !== undefined || this.connections.size >= this.maxConnections) {
      this.rejected++;
      socket.on('error', () => undefined);
      socket.end(this.closing !== undefined ? 'SERVER_ERROR the server is shutting down\r\n' : 'ERROR Too many open connections\r\n');
      return;
    }
    this.counters.curr_connections++;
    this.counters.total_connections++;
    const conn = new KvConnection(socket, this.o.backend.open(), {
      codec: this.o.codec ?? {},
      readMode: mode,
      ...(this.o.maxInFlight !== undefined ? { maxInFlight: this.o.maxInFlight } : {}),
      ...(this.o.maxUnsentBytes !== undefined ? { maxUnsentBytes: this.o.maxUnsentBytes } : {}),
      counters: this.counters,
      answer: (cmd) => this.answer(cmd),
      onBug: (e) => this.o.log?.('error', `kv-server bug answering ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}: ${e.stack ?? e.message}`),
      onClose: (c) => {
        if (this.connections.delete(c)) this.counters.curr_connections--;
      },
    });
    this.connections.add(conn);
  }

  /** The commands the server answers itself (`stats paxos` after the digest, which may take turns). */
  answer(cmd: ServerCommand): ServerReply | Promise<ServerReply> {
    switch (cmd.op) {
      case 'version':
        return { kind: 'version', version: SERVER_VERSION };
      case 'verbosity':
      case 'noop':
      case 'quit':
        return { kind: 'ok' };
      case 'stats':
        return this.stats(cmd.group);
    }
  }

  private stats(group: string): ServerReply | Promise<ServerReply> {
    switch (group) {
      case '':
        return { kind: 'stats', entries: this.general() };
      case 'reset': {
        // Only this server's own counters: the store's are replicated state, changed only by the log.
        const { curr_connections } = this.counters;
        Object.assign(this.counters, newServerCounters(), { curr_connections });
        this.rejected = 0;
        return { kind: 'reset' };
      }
      case 'settings':
        return { kind: 'stats', entries: this.settings() };
      case 'paxos': {
        // Read together, at the request: the digest is of the state as of paxos_last_applied.
        const st = this.o.backend.status();
        const digest = st.digest();
        const entries: StatEntry[] = [...this.paxos(st), ['paxos_last_applied', String(st.lastApplied)], ['paxos_leader', st.leader ? '1' : '0']];
        const reply = (d: string): ServerReply => ({ kind: 'stats', entries: [...entries, ['paxos_digest', d]] });
        return typeof digest === 'string' ? reply(digest) : digest.then(reply);
      }
      default:
        return { kind: 'unknown' };
    }
  }

  private general(): StatEntry[] {
    const st = this.o.backend.status();
    const usage = process.resourceUsage();
    const entries = statsEntries(st.store, this.counters, {
      pid: process.pid,
      uptime: Math.floor((performance.now() - this.started) / 1000),
      time: Math.floor(Date.now() / 1000),
      version: SERVER_VERSION,
      leader: st.leader,
      lastApplied: st.lastApplied,
    });
    const cpu = (us: number) => `${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}`;
    // memcached's fields that statsEntries leaves to the server, at their place in memcached's list.
    const at = entries.findIndex(([k]) => k === 'curr_connections');
    entries.splice(
      at < 0 ? entries.length : at,
      0,
      ['rusage_user', cpu(usage.userCPUTime)],
      ['rusage_system', cpu(usage.systemCPUTime)],
      ['max_connections', String(this.maxConnections)],
    );
    const after = entries.findIndex(([k]) => k === 'total_connections');
    entries.splice(after < 0 ? entries.length : after + 1, 0, ['rejected_connections', String(this.rejected)]);
    return [...entries, ...this.paxos(st)];
  }

  private settings(): StatEntry[] {
    const store = this.o.backend.status().store;
    return [
      ['maxbytes', String(store.limit_maxbytes)],
      ['maxconns', String(this.maxConnections)],
      ['tcpport', String(this.ports.port)],
      ['interface', this.host],
      ['item_size_max', String(store.item_size_max)],
      ['evictions', store.evictions_on ? 'on' : 'off'],
      ['cas_enabled', 'yes'],
      ['binding_protocol', 'auto-negotiate'],
      ['paxos_stale_port', String(this.ports.stalePort ?? 0)],
    ];
  }

  /** Our own fields in `stats`: who leads, and the store's clock (`stats paxos` adds where the log is and the state's digest). */
  private paxos(st: BackendStatus): StatEntry[] {
    return [
      ['paxos_replica', String(this.o.replicaId ?? 0)],
      ['paxos_leader_id', st.leaderId === undefined ? '-1' : String(st.leaderId)],
      ['paxos_clock_ms', String(st.clock)],
    ];
  }

  /**
   * Stops listening, lets every connection write the replies already due (at most `graceMs`), then
   * closes what is left. The backend is the caller's to close afterwards.
   */
  close(graceMs = 2000): Promise<void> {
    this.closing ??= (async () => {
      // net.Server.close() calls back only once every connection is gone: stop accepting first,
      // then let the connections finish, then wait for the listeners.
      const closed = this.servers.map((s) => new Promise<void>((r) => (s.listening ? s.close(() => r()) : r())));
      for (const c of this.connections) c.shutdown();
      const deadline = performance.now() + graceMs;
      while (this.connections.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      for (const c of [...this.connections]) c.destroy();
      await Promise.all(closed);
    })();
    return this.closing;
  }
}
