/**
 * memcached's text protocol (protocol.txt; proto_text.c of memcached 1.6) as a pure incremental
 * codec. Bytes in, in any chunking; commands, immediate replies and closes out, in order.
 *
 * It answers bad input as memcached does: `ERROR` for an unknown command or a wrong number of
 * tokens, `CLIENT_ERROR …` for a bad argument, `SERVER_ERROR object too large for cache` for an
 * oversized value (whose bytes are then swallowed, so the stream stays in step), `CLIENT_ERROR bad
 * data chunk` for a data block not followed by CRLF, and it honours `noreply` the way memcached
 * does, errors included. It never closes the connection for bad input. Two deliberate differences:
 * a line longer than the limit gets `CLIENT_ERROR line too long` and is skipped where memcached
 * closes the connection, and an HTTP request line gets `ERROR` where memcached closes.
 */
import { ByteQueue, ByteWriter, bytesToKey, type Key } from './bytes.js';
import { assertNever, type KvCommand, type KvResult } from './command.js';
import { parseI32, parseU32, parseU64 } from './numbers.js';
import {
  isServerCommand,
  isServerReply,
  oneLine,
  type CodecOptions,
  type Outcome,
  type Parsed,
  type ProtocolCodec,
  type ServerCommand,
} from './protocol.js';
import { DEFAULT_ITEM_SIZE_MAX, itemSize, KEY_MAX_LENGTH } from './store.js';

export interface TextRequest {
  readonly command: KvCommand | ServerCommand;
  /** The client asked for no reply (memcached suppresses even errors then). */
  readonly noreply: boolean;
  /** gets/gats: show CAS uniques. */
  readonly withCas: boolean;
}

/** memcached's MAX_TOKENS: a line is split into at most 23 tokens plus the rest. */
const MAX_TOKENS = 24;

const SP = 0x20;
const LF = 0x0a;
const CR = 0x0d;

const BAD_FORMAT = 'CLIENT_ERROR bad command line format';
const BAD_DELETE = 'CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]';
const BAD_EXPTIME = 'CLIENT_ERROR invalid exptime argument';
const BAD_DELTA = 'CLIENT_ERROR invalid numeric delta argument';
const TOO_LARGE = 'SERVER_ERROR object too large for cache';

type StoreOp = 'set' | 'add' | 'replace' | 'append' | 'prepend' | 'cas';

interface PendingStore {
  readonly op: StoreOp;
  readonly key: Key;
  readonly flags: number;
  readonly exptime: number;
  readonly cas: bigint;
  readonly noreply: boolean;
  readonly data: Uint8Array;
  got: number;
}

type State =
  | { readonly kind: 'line' }
  | { readonly kind: 'data'; readonly pending: PendingStore }
  | { readonly kind: 'swallow'; remaining: number }
  | { readonly kind: 'skip_line' };

/** One token of a line: bytes [start, end) of the line. */
interface Token {
  readonly start: number;
  readonly end: number;
}

export class TextProtocol implements ProtocolCodec<TextRequest> {
  readonly protocol = 'text' as const;
  private readonly input = new ByteQueue();
  private state: State = { kind: 'line' };
  private readonly itemSizeMax: number;
  private readonly maxLine: number;
  private readonly maxRetrievalLine: number;
  private out: Parsed<TextRequest>[] = [];
  /** Where to resume looking for the end of a line that has not ended yet (each byte is scanned once). */
  private scanned = 0;

  constructor(options: CodecOptions = {}) {
    this.itemSizeMax = options.itemSizeMax ?? DEFAULT_ITEM_SIZE_MAX;
    this.maxLine = options.maxLineBytes ?? 2048;
    this.maxRetrievalLine = Math.max(this.maxLine, options.maxRetrievalLineBytes ?? 1024 * 1024);
  }

  push(chunk: Uint8Array): Parsed<TextRequest>[] {
    this.input.push(chunk);
    this.out = [];
    for (;;) {
      const s = this.state;
      if (s.kind === 'line') {
        if (!this.readLine()) break;
      } else if (s.kind === 'data') {
        if (!this.readData(s.pending)) break;
      } else if (s.kind === 'swallow') {
        const n = Math.min(s.remaining, this.input.length);
        this.input.skip(n);
        s.remaining -= n;
        if (s.remaining > 0) break;
        this.state = { kind: 'line' };
      } else {
        const lf = this.input.indexOf(LF);
        if (lf < 0) {
          this.input.skip(this.input.length);
          break;
        }
        this.input.skip(lf + 1);
        this.state = { kind: 'line' };
      }
    }
    return this.out;
  }

  // ---- reading ----

  private reply(line: string): void {
    this.out.push({ type: 'reply', bytes: new ByteWriter(line.length + 2).text(line).text('\r\n').done() });
  }

  /** A reply unless noreply (memcached's out_string). */
  private replyUnless(noreply: boolean, line: string): void {
    if (!noreply) this.reply(line);
  }

  private request(command: KvCommand | ServerCommand, noreply = false, withCas = false): void {
    this.out.push({ type: 'request', request: { command, noreply, withCas } });
  }

  /** Handles one complete line if there is one; false when more bytes are needed. */
  private readLine(): boolean {
    const q = this.input;
    const lf = q.indexOf(LF, this.scanned);
    const limit = this.lineLimit();
    if (lf < 0) {
      if (q.length > limit) {
        this.reply('CLIENT_ERROR line too long');
        q.skip(q.length);
        this.scanned = 0;
        this.state = { kind: 'skip_line' };
        return true;
      }
      this.scanned = q.length;
      return false;
    }
    this.scanned = 0;
    if (lf > limit) {
      this.reply('CLIENT_ERROR line too long');
      q.skip(lf + 1);
      return true;
    }
    // memcached strips the CR before LF only when the line has more than that CR.
    let end = lf > 1 && q.at(lf - 1) === CR ? lf - 1 : lf;
    const line = q.view(0, end);
    // It reads the line as a C string: a NUL ends it.
    const nul = line.indexOf(0);
    if (nul >= 0) end = nul;
    const copy = line.slice(0, end);
    q.skip(lf + 1);
    this.command(copy);
    return true;
  }

  /** How long the line being read may grow: longer for retrieval lines (many keys). */
  private lineLimit(): number {
    const q = this.input;
    if (q.length <= this.maxLine) return this.maxLine;
    let i = 0;
    while (i < q.length && q.at(i) === SP) i++;
    const word = (w: string): boolean => {
      if (i + w.length > q.length) return false;
      for (let j = 0; j < w.length; j++) if (q.at(i + j) !== w.charCodeAt(j)) return false;
      return true;
    };
    return word('get ') || word('gets ') || word('gat ') || word('gats ') ? this.maxRetrievalLine : this.maxLine;
  }

  private readData(p: PendingStore): boolean {
    const q = this.input;
    const n = Math.min(p.data.length - p.got, q.length);
    if (n > 0) {
      p.data.set(q.view(0, n), p.got);
      q.skip(n);
      p.got += n;
    }
    if (p.got < p.data.length) return false;
    this.state = { kind: 'line' };
    const len = p.data.length - 2;
    if (p.data[len] !== CR || p.data[len + 1] !== LF) {
      // complete_nread_ascii: nothing is stored; the bytes read are gone, and parsing goes on
      // right after them.
      this.replyUnless(p.noreply, 'CLIENT_ERROR bad data chunk');
      return true;
    }
    const value = p.data.subarray(0, len);
    const base = { key: p.key, flags: p.flags, exptime: p.exptime, value };
    const command: KvCommand = p.op === 'cas' ? { op: 'cas', ...base, cas: p.cas } : { op: p.op, ...base };
    this.request(command, p.noreply);
    return true;
  }

  // ---- commands (proto_text.c: process_command_ascii) ----

  private command(line: Uint8Array): void {
    const all = tokenize(line);
    // memcached's ntokens: at most 23 tokens plus its terminal token.
    const ntokens = Math.min(all.length, MAX_TOKENS - 1) + 1;
    const tok = (i: number): Token | undefined => (i < ntokens - 1 ? all[i] : undefined);
    const text = (i: number): string => {
      const t = tok(i);
      return t === undefined ? '' : bytesToKey(line, t.start, t.end);
    };
    const first = all[0];
    if (first === undefined || first.end - first.start < 2) return this.reply('ERROR');
    const name = text(0);
    // set_noreply_maybe: the token before the terminal one.
    const noreplyToken = (): boolean => text(ntokens - 2) === 'noreply';
    const wantOr = (a: number, b: number): boolean => ntokens === a || ntokens === b;

    switch (name) {
      case 'get':
      case 'gets':
      case 'gat':
      case 'gats':
      case 'bget':
        if (ntokens < 3) return this.reply('ERROR');
        return this.retrieval(line, all, name === 'gets' || name === 'gats', name === 'gat' || name === 'gats');
      case 'set':
      case 'add':
      case 'replace':
      case 'append':
      case 'prepend':
        if (!wantOr(6, 7)) return this.reply('ERROR');
        return this.update(line, tok, name, noreplyToken());
      case 'cas':
        if (!wantOr(7, 8)) return this.reply('ERROR');
        return this.update(line, tok, 'cas', noreplyToken());
      case 'incr':
      case 'decr': {
        if (!wantOr(4, 5)) return this.reply('ERROR');
        const noreply = noreplyToken();
        const key = tok(1) as Token;
        if (key.end - key.start > KEY_MAX_LENGTH) return this.replyUnless(noreply, BAD_FORMAT);
        const delta = parseToken(parseU64, line, tok(2));
        if (delta === null) return this.replyUnless(noreply, BAD_DELTA);
        return this.request({ op: name, key: bytesToKey(line, key.start, key.end), delta }, noreply);
      }
      case 'delete': {
        if (ntokens < 3 || ntokens > 5) return this.reply('ERROR');
        let noreply = false;
        if (ntokens > 3) {
          const holdIsZero = text(2) === '0';
          noreply = noreplyToken();
          const valid = (ntokens === 4 && (holdIsZero || noreply)) || (ntokens === 5 && holdIsZero && noreply);
          if (!valid) return this.replyUnless(noreply, BAD_DELETE);
        }
        const key = tok(1) as Token;
        if (key.end - key.start > KEY_MAX_LENGTH) return this.replyUnless(noreply, BAD_FORMAT);
        return this.request({ op: 'delete', key: bytesToKey(line, key.start, key.end) }, noreply);
      }
      case 'touch': {
        if (!wantOr(4, 5)) return this.reply('ERROR');
        const noreply = noreplyToken();
        const key = tok(1) as Token;
        if (key.end - key.start > KEY_MAX_LENGTH) return this.replyUnless(noreply, BAD_FORMAT);
        const exptime = parseToken(parseI32, line, tok(2));
        if (exptime === null) return this.replyUnless(noreply, BAD_EXPTIME);
        return this.request({ op: 'touch', key: bytesToKey(line, key.start, key.end), exptime }, noreply);
      }
      case 'flush_all': {
        if (ntokens < 2 || ntokens > 4) return this.reply('ERROR');
        const noreply = noreplyToken();
        let delay = 0;
        if (ntokens !== (noreply ? 3 : 2)) {
          const d = parseToken(parseI32, line, tok(1));
          if (d === null) return this.replyUnless(noreply, BAD_EXPTIME);
          delay = d;
        }
        return this.request({ op: 'flush_all', delay }, noreply);
      }
      case 'verbosity': {
        if (!wantOr(3, 4)) return this.reply('ERROR');
        const noreply = noreplyToken();
        const level = parseToken(parseU32, line, tok(1));
        if (level === null) return this.replyUnless(noreply, BAD_FORMAT);
        return this.request({ op: 'verbosity', level }, noreply);
      }
      case 'version':
        return this.request({ op: 'version' });
      case 'stats': {
        const group: string[] = [];
        for (let i = 1; i < all.length; i++) {
          const t = all[i] as Token;
          group.push(bytesToKey(line, t.start, t.end));
        }
        return this.request({ op: 'stats', group: group.join(' ') });
      }
      case 'quit':
        this.out.push({ type: 'close' });
        return;
      default:
        // Meta commands (mg, ms, …) and memcached's admin commands are not served here.
        return this.reply('ERROR');
    }
  }

  private retrieval(line: Uint8Array, all: readonly Token[], withCas: boolean, touch: boolean): void {
    let from = 1;
    let exptime = 0;
    if (touch) {
      const e = parseToken(parseI32, line, all[1]);
      if (e === null) return this.reply(BAD_EXPTIME);
      exptime = e;
      from = 2;
    }
    const keys: Key[] = [];
    for (let i = from; i < all.length; i++) {
      const t = all[i] as Token;
      // One key too long fails the whole command, and memcached drops the hits it had gathered.
      if (t.end - t.start > KEY_MAX_LENGTH) return this.reply(BAD_FORMAT);
      keys.push(bytesToKey(line, t.start, t.end));
    }
    this.request(touch ? { op: 'gat', exptime, keys } : { op: 'get', keys }, false, withCas);
  }

  private update(line: Uint8Array, tok: (i: number) => Token | undefined, op: StoreOp, noreply: boolean): void {
    const key = tok(1) as Token;
    const nkey = key.end - key.start;
    if (nkey > KEY_MAX_LENGTH) return this.replyUnless(noreply, BAD_FORMAT);
    const flags = parseToken(parseU32, line, tok(2));
    const exptime = parseToken(parseI32, line, tok(3));
    const vlen = parseToken(parseI32, line, tok(4));
    if (flags === null || exptime === null || vlen === null) return this.replyUnless(noreply, BAD_FORMAT);
    let cas = 0n;
    if (op === 'cas') {
      const c = parseToken(parseU64, line, tok(5));
      if (c === null) return this.replyUnless(noreply, BAD_FORMAT);
      cas = c;
    }
    if (vlen < 0 || vlen > 0x7fffffff - 2) return this.replyUnless(noreply, BAD_FORMAT);
    const k = bytesToKey(line, key.start, key.end);
    if (itemSize(nkey, flags, vlen) > this.itemSizeMax) {
      // process_update_command: reply, swallow the data block, and for a set drop the old item.
      this.state = { kind: 'swallow', remaining: vlen + 2 };
      if (op === 'set') return this.request({ op: 'oversized_set', key: k }, noreply);
      return this.replyUnless(noreply, TOO_LARGE);
    }
    this.state = { kind: 'data', pending: { op, key: k, flags, exptime, cas, noreply, data: new Uint8Array(vlen + 2), got: 0 } };
  }

  // ---- replies ----

  encode(request: TextRequest, outcome: Outcome): Uint8Array {
    const cmd = request.command;
    if (isServerReply(outcome) && outcome.kind === 'server_error') return encodeServerReply(outcome, request.noreply);
    if (isServerCommand(cmd)) {
      if (!isServerReply(outcome)) throw new Error(`text protocol: ${cmd.op} answered with a store result (${outcome.status})`);
      return encodeServerReply(outcome, request.noreply);
    }
    if (isServerReply(outcome)) throw new Error(`text protocol: ${cmd.op} answered with a server reply (${outcome.kind})`);
    return encodeResult(outcome, request.noreply, request.withCas, cmd.op === 'incr' || cmd.op === 'decr');
  }
}

function encodeServerReply(r: Exclude<Outcome, KvResult>, noreply: boolean): Uint8Array {
  const w = new ByteWriter();
  switch (r.kind) {
    case 'version':
      return w.text(`VERSION ${r.version}\r\n`).done();
    case 'ok':
      return noreply ? new Uint8Array(0) : w.text('OK\r\n').done();
    case 'stats':
      for (const [name, value] of r.entries) w.text(`STAT ${name} ${value}\r\n`);
      return w.text('END\r\n').done();
    case 'reset':
      return w.text('RESET\r\n').done();
    case 'unknown':
      return w.text('ERROR\r\n').done();
    case 'server_error':
      return w.text(`SERVER_ERROR ${oneLine(r.message)}\r\n`).done();
    default:
      return assertNever(r);
  }
}

function line(s: string): Uint8Array {
  return new ByteWriter(s.length + 2).text(s).text('\r\n').done();
}

function encodeResult(r: KvResult, noreply: boolean, withCas: boolean, arithmetic: boolean): Uint8Array {
  switch (r.status) {
    case 'values': {
      const w = new ByteWriter(64);
      for (const h of r.hits) {
        w.text('VALUE ').text(h.key).text(` ${h.flags} ${h.value.length}`);
        if (withCas) w.text(` ${h.cas}`);
        w.text('\r\n').bytes(h.value).text('\r\n');
      }
      return w.text('END\r\n').done();
    }
    // The session and validity failures are the server's, not the client's: always shown, as
    // memcached's out_errstring shows severe errors despite noreply.
    case 'session_unknown':
      return line(`SERVER_ERROR session ${r.id} expired or is unknown; nothing was applied`);
    case 'session_stale':
      return line(`SERVER_ERROR request ${r.seq} of session ${r.id} was already acknowledged; nothing was applied`);
    case 'session_busy':
      return line(`SERVER_ERROR session ${r.id} has too many unacknowledged requests; nothing was applied`);
    case 'invalid':
      return line(`SERVER_ERROR ${r.reason}`);
    case 'session':
      return line(`SERVER_ERROR unexpected session ${r.id} for a memcached command`);
    default:
      break;
  }
  if (noreply) return new Uint8Array(0);
  switch (r.status) {
    case 'stored':
      return line('STORED');
    case 'not_stored':
      return line('NOT_STORED');
    case 'exists':
      return line('EXISTS');
    case 'not_found':
      return line('NOT_FOUND');
    case 'deleted':
      return line('DELETED');
    case 'touched':
      return line('TOUCHED');
    case 'number':
      return line(r.value.toString());
    case 'non_numeric':
      return line('CLIENT_ERROR cannot increment or decrement non-numeric value');
    case 'too_large':
      return line(TOO_LARGE);
    case 'out_of_memory':
      // process_arithmetic_command's and process_update_command's words for a failed allocation.
      return line(arithmetic ? 'SERVER_ERROR out of memory' : 'SERVER_ERROR out of memory storing object');
    case 'ok':
      return line('OK');
    default:
      return assertNever(r);
  }
}

/** memcached's tokenize_command: tokens are separated by spaces only (tabs belong to tokens). */
function tokenize(line: Uint8Array): Token[] {
  const tokens: Token[] = [];
  let s = 0;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === SP) {
      if (i > s) tokens.push({ start: s, end: i });
      s = i + 1;
    }
  }
  if (line.length > s) tokens.push({ start: s, end: line.length });
  return tokens;
}

function parseToken<T>(parse: (b: Uint8Array, s: number, e: number) => T | null, line: Uint8Array, t: Token | undefined): T | null {
  return t === undefined ? null : parse(line, t.start, t.end);
}
