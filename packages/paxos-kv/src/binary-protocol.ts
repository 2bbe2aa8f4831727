/**
 * memcached's binary protocol (protocol_binary.h, proto_bin.c of memcached 1.6) as a pure
 * incremental codec: 24-byte headers in network order, the opaque echoed, the request's own opcode
 * in every reply (quiet ones included), quiet commands silent on success and getq/getkq silent on a
 * miss, CAS uniques in reply headers where memcapable expects them, and memcached's error statuses
 * and messages.
 *
 * As in memcached, a malformed packet (wrong extras or key length for its opcode, a key over 250
 * bytes, lengths that do not add up) is answered with an error and then the connection is closed,
 * since its framing can no longer be trusted; a bad magic byte closes it at once. An unknown opcode
 * is answered and its body skipped. One difference: memcached skips the body of an unknown opcode
 * counting its extras and key twice (it has read them already), which desynchronises the stream
 * when they are present; this codec skips exactly the body.
 */
import { ByteQueue, ByteWriter, bytesToKey, EMPTY, keyToBytes, readU16, readU32, readU64, type Key } from './bytes.js';
import { assertNever, type KvCommand, type KvResult } from './command.js';
import {
  isServerCommand,
  isServerReply,
  type CodecOptions,
  type Outcome,
  type Parsed,
  type ProtocolCodec,
  type ServerCommand,
  type ServerReply,
} from './protocol.js';
import { DEFAULT_ITEM_SIZE_MAX, itemSize, KEY_MAX_LENGTH } from './store.js';

export const REQUEST_MAGIC = 0x80;
export const RESPONSE_MAGIC = 0x81;
export const HEADER_LENGTH = 24;

export const Opcode = {
  GET: 0x00,
  SET: 0x01,
  ADD: 0x02,
  REPLACE: 0x03,
  DELETE: 0x04,
  INCREMENT: 0x05,
  DECREMENT: 0x06,
  QUIT: 0x07,
  FLUSH: 0x08,
  GETQ: 0x09,
  NOOP: 0x0a,
  VERSION: 0x0b,
  GETK: 0x0c,
  GETKQ: 0x0d,
  APPEND: 0x0e,
  PREPEND: 0x0f,
  STAT: 0x10,
  SETQ: 0x11,
  ADDQ: 0x12,
  REPLACEQ: 0x13,
  DELETEQ: 0x14,
  INCREMENTQ: 0x15,
  DECREMENTQ: 0x16,
  QUITQ: 0x17,
  FLUSHQ: 0x18,
  APPENDQ: 0x19,
  PREPENDQ: 0x1a,
  TOUCH: 0x1c,
  GAT: 0x1d,
  GATQ: 0x1e,
  GATK: 0x23,
  GATKQ: 0x24,
} as const;

export const Status = {
  SUCCESS: 0x00,
  KEY_ENOENT: 0x01,
  KEY_EEXISTS: 0x02,
  E2BIG: 0x03,
  EINVAL: 0x04,
  NOT_STORED: 0x05,
  DELTA_BADVAL: 0x06,
  UNKNOWN_COMMAND: 0x81,
  ENOMEM: 0x82,
  /** Later protocol revisions' internal error and temporary failure, for this server's own failures. */
  EINTERNAL: 0x84,
  ETMPFAIL: 0x86,
} as const;

/** write_bin_error's messages. */
const MESSAGES: Record<number, string> = {
  [Status.KEY_ENOENT]: 'Not found',
  [Status.KEY_EEXISTS]: 'Data exists for key.',
  [Status.E2BIG]: 'Too large.',
  [Status.EINVAL]: 'Invalid arguments',
  [Status.NOT_STORED]: 'Not stored.',
  [Status.DELTA_BADVAL]: 'Non-numeric server-side value for incr or decr',
  [Status.UNKNOWN_COMMAND]: 'Unknown command',
  [Status.ENOMEM]: 'Out of memory',
};

/** Quiet opcode → its loud twin (dispatch_bin_command). */
const LOUD: Record<number, number> = {
  [Opcode.SETQ]: Opcode.SET,
  [Opcode.ADDQ]: Opcode.ADD,
  [Opcode.REPLACEQ]: Opcode.REPLACE,
  [Opcode.DELETEQ]: Opcode.DELETE,
  [Opcode.INCREMENTQ]: Opcode.INCREMENT,
  [Opcode.DECREMENTQ]: Opcode.DECREMENT,
  [Opcode.QUITQ]: Opcode.QUIT,
  [Opcode.FLUSHQ]: Opcode.FLUSH,
  [Opcode.APPENDQ]: Opcode.APPEND,
  [Opcode.PREPENDQ]: Opcode.PREPEND,
  [Opcode.GETQ]: Opcode.GET,
  [Opcode.GETKQ]: Opcode.GETK,
  [Opcode.GATQ]: Opcode.GAT,
  [Opcode.GATKQ]: Opcode.GATK,
};

export interface BinaryRequest {
  readonly command: KvCommand | ServerCommand;
  /** The opcode as the client sent it: replies carry it. */
  readonly opcode: number;
  /** Its loud twin (GETQ → GET …): decides the reply's shape. */
  readonly loud: number;
  readonly quiet: boolean;
  readonly opaque: number;
  /** The key bytes, for GETK/GATK replies. */
  readonly key: Uint8Array;
}

interface Header {
  readonly opcode: number;
  readonly keylen: number;
  readonly extlen: number;
  readonly bodylen: number;
  readonly opaque: number;
  readonly cas: bigint;
}

type State =
  | { readonly kind: 'header' }
  /** An update's extras and key, needed to judge its size before its value is read. */
  | { readonly kind: 'prefix'; readonly header: Header }
  | { readonly kind: 'body'; readonly header: Header }
  | { readonly kind: 'swallow'; remaining: number }
  | { readonly kind: 'closed' };

export class BinaryProtocol implements ProtocolCodec<BinaryRequest> {
  readonly protocol = 'binary' as const;
  private readonly input = new ByteQueue();
  private state: State = { kind: 'header' };
  private readonly itemSizeMax: number;
  private out: Parsed<BinaryRequest>[] = [];

  constructor(options: CodecOptions = {}) {
    this.itemSizeMax = options.itemSizeMax ?? DEFAULT_ITEM_SIZE_MAX;
  }

  push(chunk: Uint8Array): Parsed<BinaryRequest>[] {
    this.out = [];
    if (this.state.kind === 'closed') return this.out;
    this.input.push(chunk);
    for (;;) {
      // Each step may close the codec (the type checker cannot see through the calls).
      const s = this.state as State;
      if (s.kind === 'closed') {
        this.input.skip(this.input.length);
        break;
      }
      if (s.kind === 'swallow') {
        const n = Math.min(s.remaining, this.input.length);
        this.input.skip(n);
        s.remaining -= n;
        if (s.remaining > 0) break;
        this.state = { kind: 'header' };
      } else if (s.kind === 'header') {
        if (this.input.length < HEADER_LENGTH) break;
        this.header();
      } else if (s.kind === 'prefix') {
        if (this.input.length < s.header.extlen + s.header.keylen) break;
        this.checkSize(s.header);
      } else {
        if (this.input.length < s.header.bodylen) break;
        const body = this.input.take(s.header.bodylen);
        this.state = { kind: 'header' };
        this.dispatch(s.header, body);
      }
    }
    return this.out;
  }

  // ---- reading ----

  private error(h: Header, status: number, close: boolean, message = MESSAGES[status] ?? ''): void {
    this.out.push({ type: 'reply', bytes: errorPacket(h.opcode, h.opaque, status, message) });
    if (close) {
      this.out.push({ type: 'close' });
      this.state = { kind: 'closed' };
    }
  }

  private header(): void {
    const b = this.input.take(HEADER_LENGTH);
    if (b[0] !== REQUEST_MAGIC) {
      // try_read_command_binary: an invalid magic closes the connection without a reply.
      this.out.push({ type: 'close' });
      this.state = { kind: 'closed' };
      return;
    }
    const h: Header = {
      opcode: b[1] as number,
      keylen: readU16(b, 2),
      extlen: b[4] as number,
      bodylen: readU32(b, 8),
      opaque: readU32(b, 12),
      cas: readU64(b, 16),
    };
    if (h.keylen > h.bodylen || h.keylen + h.extlen > h.bodylen) return this.error(h, Status.UNKNOWN_COMMAND, true);
    if (h.keylen > KEY_MAX_LENGTH) return this.error(h, Status.EINVAL, true);
    const loud = LOUD[h.opcode] ?? h.opcode;
    if (!known(loud)) {
      this.error(h, Status.UNKNOWN_COMMAND, false);
      this.state = { kind: 'swallow', remaining: h.bodylen };
      return;
    }
    if (!shapeOk(loud, h)) return this.error(h, Status.EINVAL, true);
    this.state = isUpdate(loud) ? { kind: 'prefix', header: h } : { kind: 'body', header: h };
  }

  /**
   * Refuses an oversized value before reading it (process_bin_update, process_bin_append_prepend):
   * the reply goes out, the value is skipped as it arrives, and a set drops the key's old item.
   * Flags count as memcached counts them: append and prepend allocate with flags 0.
   */
  private checkSize(h: Header): void {
    const loud = LOUD[h.opcode] ?? h.opcode;
    const prefix = h.extlen + h.keylen;
    const vlen = h.bodylen - prefix;
    const head = this.input.view(0, prefix);
    const flags = loud === Opcode.APPEND || loud === Opcode.PREPEND ? 0 : readU32(head, 0);
    if (itemSize(h.keylen, flags, vlen) <= this.itemSizeMax) {
      this.state = { kind: 'body', header: h };
      return;
    }
    const key = bytesToKey(head, h.extlen, prefix);
    this.input.skip(prefix);
    this.state = { kind: 'swallow', remaining: vlen };
    if (loud === Opcode.SET) return this.request(h, loud, { op: 'oversized_set', key }, keyToBytes(key));
    return this.error(h, Status.E2BIG, false);
  }

  private request(h: Header, loud: number, command: KvCommand | ServerCommand, key: Uint8Array = EMPTY): void {
    this.out.push({ type: 'request', request: { command, opcode: h.opcode, loud, quiet: loud !== h.opcode, opaque: h.opaque, key } });
  }

  private dispatch(h: Header, body: Uint8Array): void {
    const loud = LOUD[h.opcode] ?? h.opcode;
    const ext = body.subarray(0, h.extlen);
    const keyBytes = body.subarray(h.extlen, h.extlen + h.keylen);
    const key: Key = bytesToKey(keyBytes);
    const value = body.subarray(h.extlen + h.keylen);
    switch (loud) {
      case Opcode.GET:
      case Opcode.GETK:
        return this.request(h, loud, { op: 'get', keys: [key] }, keyBytes);
      case Opcode.GAT:
      case Opcode.GATK:
        return this.request(h, loud, { op: 'gat', exptime: readU32(ext, 0), keys: [key] }, keyBytes);
      case Opcode.TOUCH:
        // A TOUCH reply carries the item's flags and CAS unique, which a get-and-touch returns.
        return this.request(h, loud, { op: 'gat', exptime: readU32(ext, 0), keys: [key] }, keyBytes);
      case Opcode.SET:
      case Opcode.ADD:
      case Opcode.REPLACE: {
        // The value is copied out of the body, so a stored item never pins a larger buffer.
        const base = { key, flags: readU32(ext, 0), exptime: readU32(ext, 4), value: value.slice() };
        // process_bin_update: any of the three with a CAS becomes a compare-and-swap.
        if (h.cas !== 0n) return this.request(h, loud, { op: 'cas', ...base, cas: h.cas }, keyBytes);
        const op = loud === Opcode.SET ? 'set' : loud === Opcode.ADD ? 'add' : 'replace';
        return this.request(h, loud, { op, ...base }, keyBytes);
      }
      case Opcode.APPEND:
      case Opcode.PREPEND: {
        const op = loud === Opcode.APPEND ? 'append' : 'prepend';
        const base = { op, key, flags: 0, exptime: 0, value: value.slice() } as const;
        return this.request(h, loud, h.cas !== 0n ? { ...base, cas: h.cas } : base, keyBytes);
      }
      case Opcode.DELETE:
        return this.request(h, loud, h.cas !== 0n ? { op: 'delete', key, cas: h.cas } : { op: 'delete', key }, keyBytes);
      case Opcode.INCREMENT:
      case Opcode.DECREMENT: {
        const op: 'incr' | 'decr' = loud === Opcode.INCREMENT ? 'incr' : 'decr';
        const delta = readU64(ext, 0);
        const initial = readU64(ext, 8);
        const expiration = readU32(ext, 16);
        // An expiration of 0xffffffff means "do not create a missing item".
        const base = expiration === 0xffffffff ? { op, key, delta } : { op, key, delta, initial: { value: initial, exptime: expiration } };
        return this.request(h, loud, h.cas !== 0n ? { ...base, cas: h.cas } : base, keyBytes);
      }
      case Opcode.FLUSH:
        return this.request(h, loud, { op: 'flush_all', delay: h.extlen === 4 ? readU32(ext, 0) : 0 });
      case Opcode.NOOP:
        return this.request(h, loud, { op: 'noop' });
      case Opcode.VERSION:
        return this.request(h, loud, { op: 'version' });
      case Opcode.STAT:
        return this.request(h, loud, { op: 'stats', group: key });
      case Opcode.QUIT:
        if (h.opcode === Opcode.QUIT) this.request(h, loud, { op: 'quit' });
        this.out.push({ type: 'close' });
        this.state = { kind: 'closed' };
        return;
      default:
        throw new Error(`binary protocol: opcode 0x${loud.toString(16)} passed the checks but has no command`);
    }
  }

  // ---- replies ----

  encode(req: BinaryRequest, outcome: Outcome): Uint8Array {
    const cmd = req.command;
    if (isServerReply(outcome) && outcome.kind === 'server_error') {
      return errorPacket(req.opcode, req.opaque, outcome.temporary ? Status.ETMPFAIL : Status.EINTERNAL, outcome.message);
    }
    if (isServerCommand(cmd)) {
      if (!isServerReply(outcome)) throw new Error(`binary protocol: ${cmd.op} answered with a store result (${outcome.status})`);
      return this.encodeServer(req, outcome);
    }
    if (isServerReply(outcome)) throw new Error(`binary protocol: ${cmd.op} answered with a server reply (${outcome.kind})`);
    return encodeResult(req, outcome);
  }

  private encodeServer(req: BinaryRequest, r: ServerReply): Uint8Array {
    switch (r.kind) {
      case 'version':
        return packet(req.opcode, req.opaque, Status.SUCCESS, 0n, EMPTY, EMPTY, asciiBytes(r.version));
      case 'ok':
        return req.quiet ? EMPTY : packet(req.opcode, req.opaque, Status.SUCCESS, 0n, EMPTY, EMPTY, EMPTY);
      case 'stats': {
        const w = new ByteWriter();
        for (const [name, value] of r.entries) w.bytes(packet(req.opcode, req.opaque, Status.SUCCESS, 0n, EMPTY, asciiBytes(name), asciiBytes(value)));
        return w.bytes(packet(req.opcode, req.opaque, Status.SUCCESS, 0n, EMPTY, EMPTY, EMPTY)).done();
      }
      case 'reset':
        return packet(req.opcode, req.opaque, Status.SUCCESS, 0n, EMPTY, EMPTY, EMPTY);
      case 'unknown':
        return errorPacket(req.opcode, req.opaque, Status.KEY_ENOENT, MESSAGES[Status.KEY_ENOENT] as string);
      case 'server_error':
        return errorPacket(req.opcode, req.opaque, r.temporary ? Status.ETMPFAIL : Status.EINTERNAL, r.message);
      default:
        return assertNever(r);
    }
  }
}

function known(loud: number): boolean {
  switch (loud) {
    case Opcode.GET:
    case Opcode.SET:
    case Opcode.ADD:
    case Opcode.REPLACE:
    case Opcode.DELETE:
    case Opcode.INCREMENT:
    case Opcode.DECREMENT:
    case Opcode.QUIT:
    case Opcode.FLUSH:
    case Opcode.NOOP:
    case Opcode.VERSION:
    case Opcode.GETK:
    case Opcode.APPEND:
    case Opcode.PREPEND:
    case Opcode.STAT:
    case Opcode.TOUCH:
    case Opcode.GAT:
    case Opcode.GATK:
      return true;
    default:
      return false;
  }
}

function isUpdate(loud: number): boolean {
  return loud === Opcode.SET || loud === Opcode.ADD || loud === Opcode.REPLACE || loud === Opcode.APPEND || loud === Opcode.PREPEND;
}

/** dispatch_bin_command's checks of extras, key and body lengths per opcode. */
function shapeOk(loud: number, h: Header): boolean {
  const { extlen, keylen, bodylen } = h;
  switch (loud) {
    case Opcode.VERSION:
    case Opcode.NOOP:
    case Opcode.QUIT:
      return extlen === 0 && keylen === 0 && bodylen === 0;
    case Opcode.FLUSH:
      return keylen === 0 && bodylen === extlen && (extlen === 0 || extlen === 4);
    case Opcode.SET:
    case Opcode.ADD:
    case Opcode.REPLACE:
      return extlen === 8 && keylen !== 0 && bodylen >= keylen + 8;
    case Opcode.GET:
    case Opcode.GETK:
      return extlen === 0 && bodylen === keylen && keylen > 0;
    case Opcode.DELETE:
      return keylen > 0 && extlen === 0 && bodylen === keylen;
    case Opcode.INCREMENT:
    case Opcode.DECREMENT:
      return keylen > 0 && extlen === 20 && bodylen === keylen + extlen;
    case Opcode.APPEND:
    case Opcode.PREPEND:
      return keylen > 0 && extlen === 0;
    case Opcode.STAT:
      // memcached reads a STAT's key and would parse any further body bytes as the next request;
      // a STAT with a value is refused instead.
      return extlen === 0 && bodylen === keylen;
    case Opcode.TOUCH:
    case Opcode.GAT:
    case Opcode.GATK:
      return extlen === 4 && keylen !== 0;
    default:
      return false;
  }
}

function asciiBytes(s: string): Uint8Array {
  return new ByteWriter(s.length).text(s).done();
}

/** A response packet. */
export function packet(opcode: number, opaque: number, status: number, cas: bigint | number, extras: Uint8Array, key: Uint8Array, value: Uint8Array): Uint8Array {
  return new ByteWriter(HEADER_LENGTH + extras.length + key.length + value.length)
    .u8(RESPONSE_MAGIC)
    .u8(opcode)
    .u16(key.length)
    .u8(extras.length)
    .u8(0)
    .u16(status)
    .u32(extras.length + key.length + value.length)
    .u32(opaque)
    .u64(cas)
    .bytes(extras)
    .bytes(key)
    .bytes(value)
    .done();
}

/** An error response: no extras, no key, CAS 0, the message as the body (write_bin_error). */
function errorPacket(opcode: number, opaque: number, status: number, message: string): Uint8Array {
  return packet(opcode, opaque, status, 0n, EMPTY, EMPTY, asciiBytes(message));
}

function flagsExtras(flags: number): Uint8Array {
  return new ByteWriter(4).u32(flags).done();
}

function encodeResult(req: BinaryRequest, r: KvResult): Uint8Array {
  const { opcode, opaque, quiet, loud } = req;
  const err = (status: number): Uint8Array => errorPacket(opcode, opaque, status, MESSAGES[status] ?? '');
  const ok = (cas: bigint | number, extras = EMPTY, key = EMPTY, value = EMPTY): Uint8Array =>
    packet(opcode, opaque, Status.SUCCESS, cas, extras, key, value);
  switch (r.status) {
    case 'values': {
      const hit = r.hits[0];
      const withKey = loud === Opcode.GETK || loud === Opcode.GATK;
      if (hit === undefined) {
        if (quiet) return EMPTY;
        // A GETK miss carries the key as its body and no message (write_bin_miss_response).
        if (withKey) return packet(opcode, opaque, Status.KEY_ENOENT, 0n, EMPTY, req.key, EMPTY);
        return err(Status.KEY_ENOENT);
      }
      return ok(hit.cas, flagsExtras(hit.flags), withKey ? req.key : EMPTY, loud === Opcode.TOUCH ? EMPTY : hit.value);
    }
    case 'touched':
      return quiet ? EMPTY : ok(0n);
    case 'stored':
      return quiet ? EMPTY : ok(r.cas);
    case 'deleted':
    case 'ok':
      return quiet ? EMPTY : ok(0n);
    case 'number':
      return quiet ? EMPTY : ok(r.cas, EMPTY, EMPTY, new ByteWriter(8).u64(r.value).done());
    case 'not_found':
      return err(Status.KEY_ENOENT);
    case 'exists':
      return err(Status.KEY_EEXISTS);
    case 'not_stored':
      // complete_update_bin: a failed add means the key exists, a failed replace that it does not.
      return err(loud === Opcode.ADD ? Status.KEY_EEXISTS : loud === Opcode.REPLACE ? Status.KEY_ENOENT : Status.NOT_STORED);
    case 'non_numeric':
      return err(Status.DELTA_BADVAL);
    case 'too_large':
      return err(Status.E2BIG);
    case 'out_of_memory':
      return err(Status.ENOMEM);
    case 'session_unknown':
      return errorPacket(opcode, opaque, Status.EINTERNAL, `session ${r.id} expired or is unknown; nothing was applied`);
    case 'session_stale':
      return errorPacket(opcode, opaque, Status.EINTERNAL, `request ${r.seq} of session ${r.id} was already acknowledged; nothing was applied`);
    case 'session_busy':
      return errorPacket(opcode, opaque, Status.ETMPFAIL, `session ${r.id} has too many unacknowledged requests; nothing was applied`);
    case 'invalid':
      return errorPacket(opcode, opaque, Status.EINVAL, r.reason);
    case 'session':
      return errorPacket(opcode, opaque, Status.EINTERNAL, `unexpected session ${r.id} for a memcached command`);
    default:
      return assertNever(r);
  }
}
