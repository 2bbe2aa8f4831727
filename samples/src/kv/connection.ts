/**
 * One memcached client connection: socket bytes → the pure protocol codec (text or binary, told
 * apart by the first byte, as memcached does) → requests carried out by a `KvChannel` → replies
 * written in the order the requests came. No policy about the log lives here: the channel decides
 * how a command is carried out; this module only keeps memcached's contract for one connection.
 *
 * - **Pipelining.** A client may send many requests before reading a reply. They are carried out
 *   concurrently (up to `maxInFlight` at once), but a request waits for the earlier requests of its
 *   connection that touch one of its keys, unless both only read (and a flush_all waits for every
 *   earlier request, and every later one waits for it). memcached executes one connection's
 *   requests one after another; what this keeps of that order is all a client can observe: a get
 *   sent after a set of the same key sees it, and two writes of one key take effect in the order
 *   sent. Requests on different keys in flight together are concurrent in real time, so any order
 *   of them is linearizable.
 * - **Replies in order**, quiet binary commands and `noreply` answered with nothing (the codec's
 *   encoding decides), errors the codec found answered in their place.
 * - **Never dropped for bad input**: the codec answers a bad line and reads on; only what
 *   memcached closes on (binary framing it can no longer trust, `quit`) closes.
 * - **Bounded**: reading pauses while more than `maxQueued` requests wait to be answered or
 *   written, or while the socket holds more than `maxUnsentBytes` of replies not yet taken by the
 *   kernel, so a client that sends without reading cannot grow the server's memory.
 */
import type { Socket } from 'node:net';
import {
  BinaryProtocol,
  TextProtocol,
  commandKeys,
  detectProtocol,
  isServerCommand,
  type CodecOptions,
  type Key,
  type KvCommand,
  type Outcome,
  type ProtocolCodec,
  type ProtocolRequest,
  type ServerCommand,
  type ServerCounters,
  type ServerReply,
} from '@libpaxos/paxos-kv';
import { KvUnavailable, type KvChannel, type ReadMode, type ReadOutcome, type WriteCommand } from './backend.js';

export interface ConnectionOptions {
  readonly codec: CodecOptions;
  readonly readMode: ReadMode;
  /** Requests of this connection carried out at once (default 128). */
  readonly maxInFlight?: number;
  /** Requests parsed but not yet written before reading pauses (default 1024). */
  readonly maxQueued?: number;
  /** Reply bytes the socket may hold unsent before reading pauses (default 4 MiB). */
  readonly maxUnsentBytes?: number;
  /** The server's counters: bytes and local reads are added here. */
  readonly counters: ServerCounters;
  /** Answers the commands the server answers itself (version, verbosity, stats, noop, quit). */
  readonly answer: (command: ServerCommand, connection: KvConnection) => ServerReply | Promise<ServerReply>;
  /** A failure that is this server's bug, not the client's or the cluster's: for the log. */
  readonly onBug?: (error: Error) => void;
  /** The connection is gone (closed by either side, or failed). */
  readonly onClose?: (connection: KvConnection) => void;
}

/** A parsed item waiting for its turn to be written. */
interface Job {
  readonly request: ProtocolRequest | undefined;
  /** The reply, once known (empty: nothing to send). */
  bytes: Uint8Array | undefined;
  /** Close the connection once this job's turn comes (after writing its bytes). */
  readonly close: boolean;
  // Scheduling, for KV commands only.
  readonly keys: ReadonlySet<Key>;
  readonly writes: boolean;
  readonly barrier: boolean;
  /** Earlier unfinished jobs this one waits for. */
  blockers: number;
  /** Later jobs that wait for this one. */
  readonly blocks: Job[];
  finished: boolean;
}

const NO_KEYS: ReadonlySet<Key> = new Set();

export class KvConnection {
  readonly protocol: 'text' | 'binary' | undefined = undefined;
  private codec: ProtocolCodec<ProtocolRequest> | undefined;
  private readonly jobs: Job[] = [];
  private head = 0;
  private readonly ready: Job[] = [];
  private readyHead = 0;
  private running = 0;
  private pumping = false;
  /** Per key: the last unfinished write, and the unfinished reads after it. */
  private readonly writer = new Map<Key, Job>();
  private readonly readers = new Map<Key, Set<Job>>();
  /** The last unfinished barrier (flush_all), and the unfinished jobs after it. */
  private barrier: Job | undefined;
  private readonly sinceBarrier = new Set<Job>();
  /** No more input is taken (a close was parsed, or the client finished sending). */
  private inputDone = false;
  private ended = false;
  private gone = false;
  private paused = false;
  private readonly maxInFlight: number;
  private readonly maxQueued: number;
  private readonly maxUnsent: number;

  constructor(
    readonly socket: Socket,
    private readonly channel: KvChannel,
    private readonly o: ConnectionOptions,
  ) {
    this.maxInFlight = o.maxInFlight ?? 128;
    this.maxQueued = o.maxQueued ?? 1024;
    this.maxUnsent = o.maxUnsentBytes ?? 4 * 1024 * 1024;
    socket.on('data', (chunk: Buffer) => this.received(chunk));
    // The client finished sending (a half-close, as `nc -N` or a pipe does): answer what it sent,
    // then close.
    socket.on('end', () => this.endOfInput());
    socket.on('drain', () => this.flowControl());
    socket.on('error', () => this.lost());
    socket.on('close', () => this.lost());
  }

  /** Requests parsed and not yet answered on the socket. */
  get queued(): number {
    return this.jobs.length - this.head;
  }

  get readMode(): ReadMode {
    return this.o.readMode;
  }

  /** Stops taking requests and closes once every reply already due has been written. */
  shutdown(): void {
    this.endOfInput();
  }

  /** Closes at once, unwritten replies dropped (the server is stopping and waited long enough). */
  destroy(): void {
    this.socket.destroy();
    this.lost();
  }

  // ---- input ----

  private received(chunk: Buffer): void {
    if (this.inputDone || this.gone) return;
    this.o.counters.bytes_read += chunk.length;
    const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.codec === undefined) {
      const binary = detectProtocol(bytes[0] as number) === 'binary';
      this.codec = (binary ? new BinaryProtocol(this.o.codec) : new TextProtocol(this.o.codec)) as ProtocolCodec<ProtocolRequest>;
      (this as { protocol: 'text' | 'binary' | undefined }).protocol = binary ? 'binary' : 'text';
    }
    for (const item of this.codec.push(bytes)) {
      if (item.type === 'reply') this.add({ bytes: item.bytes });
      else if (item.type === 'close') {
        this.add({ close: true });
        this.inputDone = true;
        break;
      } else this.addRequest(item.request);
    }
    this.pump();
    this.flush();
  }

  private endOfInput(): void {
    if (this.inputDone) return;
    this.inputDone = true;
    this.add({ close: true });
    this.flush();
  }

  private add(j: { request?: ProtocolRequest; bytes?: Uint8Array; close?: boolean; keys?: ReadonlySet<Key>; writes?: boolean; barrier?: boolean }): Job {
    const job: Job = {
      request: j.request,
      bytes: j.bytes,
      close: j.close ?? false,
      keys: j.keys ?? NO_KEYS,
      writes: j.writes ?? false,
      barrier: j.barrier ?? false,
      blockers: 0,
      blocks: [],
      finished: j.request === undefined,
    };
    this.jobs.push(job);
    return job;
  }

  private addRequest(request: ProtocolRequest): void {
    const cmd = request.command;
    if (isServerCommand(cmd)) {
      // Answered now, written in its turn: these read no replicated state that a pipelined
      // request before them could change, except `stats`, whose counters may lag by those requests.
      const job = this.add({ request });
      const reply = this.serverReply(cmd);
      if (!(reply instanceof Promise)) {
        job.bytes = this.encode(request, reply);
        return;
      }
      // `stats paxos` on a large store: the replies after it wait for it, as they wait for a write.
      void reply
        .catch((e: unknown) => this.failure(e))
        .then((r) => {
          job.bytes = this.encode(request, r);
          this.flush();
        });
      return;
    }
    const barrier = cmd.op === 'flush_all';
    const job = this.add({ request, keys: new Set(commandKeys(cmd)), writes: cmd.op !== 'get', barrier });
    job.finished = false;
    this.schedule(job);
  }

  // ---- scheduling: per-key order within the connection ----

  private waitFor(job: Job, earlier: Job | undefined): void {
    if (earlier === undefined || earlier.finished || earlier === job || earlier.blocks.includes(job)) return;
    earlier.blocks.push(job);
    job.blockers++;
  }

  private schedule(job: Job): void {
    this.waitFor(job, this.barrier);
    if (job.barrier) {
      for (const earlier of this.sinceBarrier) this.waitFor(job, earlier);
      this.sinceBarrier.clear();
      this.barrier = job;
    } else {
      for (const key of job.keys) {
        this.waitFor(job, this.writer.get(key));
        let readers = this.readers.get(key);
        if (job.writes) {
          if (readers !== undefined) for (const r of readers) this.waitFor(job, r);
          this.writer.set(key, job);
          this.readers.delete(key);
        } else {
          if (readers === undefined) this.readers.set(key, (readers = new Set()));
          readers.add(job);
        }
      }
      this.sinceBarrier.add(job);
    }
    if (job.blockers === 0) this.ready.push(job);
  }

  private release(job: Job): void {
    job.finished = true;
    if (this.barrier === job) this.barrier = undefined;
    this.sinceBarrier.delete(job);
    for (const key of job.keys) {
      if (this.writer.get(key) === job) this.writer.delete(key);
      const readers = this.readers.get(key);
      if (readers !== undefined && readers.delete(job) && readers.size === 0) this.readers.delete(key);
    }
    for (const later of job.blocks) if (--later.blockers === 0) this.ready.push(later);
  }

  /** Starts ready jobs while there is room; loops instead of recursing when jobs finish at once. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      // A connection that is gone starts nothing more: what it had not sent on is dropped, as
      // memcached drops the unread requests of a closed connection.
      while (!this.gone && this.running < this.maxInFlight && this.readyHead < this.ready.length) {
        const job = this.ready[this.readyHead++] as Job;
        this.start(job);
      }
      if (this.readyHead > 1024 && this.readyHead * 2 > this.ready.length) {
        this.ready.splice(0, this.readyHead);
        this.readyHead = 0;
      }
    } finally {
      this.pumping = false;
    }
  }

  private start(job: Job): void {
    this.running++;
    let outcome: Outcome | Promise<Outcome>;
    try {
      outcome = this.execute((job.request as ProtocolRequest).command as KvCommand);
    } catch (e) {
      outcome = this.failure(e);
    }
    if (outcome instanceof Promise) {
      outcome.then(
        (o) => this.finish(job, o),
        (e: unknown) => this.finish(job, this.failure(e)),
      );
    } else {
      this.finish(job, outcome);
    }
  }

  private execute(cmd: KvCommand): Outcome | Promise<Outcome> {
    if (cmd.op === 'get') {
      const r = this.channel.read(cmd, this.o.readMode);
      return r instanceof Promise ? r.then((x) => this.counted(cmd.keys.length, x)) : this.counted(cmd.keys.length, r);
    }
    if (cmd.op === 'register') throw new Error('a client request cannot open a session');
    return this.channel.write(cmd as WriteCommand);
  }

  /** Counts a read this server answered from its own state (the store counts the others). */
  private counted(keys: number, r: ReadOutcome): Outcome {
    if (r.local && r.result.status === 'values') {
      const c = this.o.counters;
      c.local_get += keys;
      c.local_get_hits += r.result.hits.length;
      c.local_get_misses += keys - r.result.hits.length;
    }
    return r.result;
  }

  private failure(e: unknown): ServerReply {
    if (e instanceof KvUnavailable) return { kind: 'server_error', message: e.message, temporary: e.temporary };
    const err = e instanceof Error ? e : new Error(String(e));
    this.o.onBug?.(err);
    return { kind: 'server_error', message: `internal error: ${err.message}`, temporary: false };
  }

  private finish(job: Job, outcome: Outcome): void {
    this.running--;
    job.bytes = this.encode(job.request as ProtocolRequest, outcome);
    this.release(job);
    this.pump();
    this.flush();
  }

  private serverReply(cmd: ServerCommand): ServerReply | Promise<ServerReply> {
    try {
      return this.o.answer(cmd, this);
    } catch (e) {
      return this.failure(e);
    }
  }

  private encode(request: ProtocolRequest, outcome: Outcome): Uint8Array {
    try {
      return (this.codec as ProtocolCodec<ProtocolRequest>).encode(request, outcome);
    } catch (e) {
      // A codec that refuses an outcome is a bug here; the client still gets its turn answered.
      const err = e instanceof Error ? e : new Error(String(e));
      this.o.onBug?.(err);
      return (this.codec as ProtocolCodec<ProtocolRequest>).encode(request, { kind: 'server_error', message: `internal error: ${err.message}`, temporary: false });
    }
  }

  // ---- output ----

  /** Writes the replies that are due, in order, and closes when a close comes up. */
  private flush(): void {
    if (this.gone || this.ended) return;
    const s = this.socket;
    let corked = false;
    while (this.head < this.jobs.length) {
      const job = this.jobs[this.head] as Job;
      if (job.bytes === undefined && !job.close) break;
      this.head++;
      if (job.bytes !== undefined && job.bytes.length > 0) {
        if (!corked) {
          s.cork();
          corked = true;
        }
        this.o.counters.bytes_written += job.bytes.length;
        s.write(job.bytes);
      }
      if (job.close) {
        this.ended = true;
        break;
      }
    }
    if (corked) s.uncork();
    if (this.head > 1024 && this.head * 2 > this.jobs.length) {
      this.jobs.splice(0, this.head);
      this.head = 0;
    }
    if (this.ended) {
      s.end();
      return;
    }
    this.flowControl();
  }

  private flowControl(): void {
    if (this.gone || this.ended) return;
    const full = this.queued > this.maxQueued || this.socket.writableLength > this.maxUnsent;
    if (full && !this.paused) {
      this.paused = true;
      this.socket.pause();
    } else if (!full && this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private lost(): void {
    if (this.gone) return;
    this.gone = true;
    this.inputDone = true;
    // Requests already carried to the channel go on in the cluster; their replies are dropped.
    this.channel.close();
    this.o.onClose?.(this);
  }
}
