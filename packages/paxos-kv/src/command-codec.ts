/**
 * Requests and results as Paxos values: compact msgpack arrays (@msgpack/msgpack), opcodes as small
 * integers, keys and values as msgpack bin. Unsigned 64-bit numbers (CAS uniques from clients,
 * incr deltas) go as msgpack integers up to 2^53 and as 8-byte big-endian bin above, so nothing is
 * rounded through a double.
 *
 * Decoding takes bytes from the log, which anyone who can reach an acceptor could have put there:
 * it checks every field and throws a KvCodecError naming what is wrong, never anything else.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import { bytesToKey, keyToBytes, readU64, type Key } from './bytes.js';
import { assertNever, type Hit, type KvCommand, type KvRequest, type KvResult, type SessionTag } from './command.js';

export class KvCodecError extends Error {
  override readonly name = 'KvCodecError';
}

const OPS = [
  'set',
  'add',
  'replace',
  'append',
  'prepend',
  'cas',
  'get',
  'gat',
  'touch',
  'delete',
  'incr',
  'decr',
  'flush_all',
  'oversized_set',
  'register',
] as const satisfies readonly KvCommand['op'][];

const STATUSES = [
  'stored',
  'not_stored',
  'exists',
  'not_found',
  'deleted',
  'touched',
  'values',
  'number',
  'non_numeric',
  'too_large',
  'ok',
  'session',
  'session_unknown',
  'session_stale',
  'session_busy',
  'invalid',
  // Added after the others, so that every earlier status keeps its code on the wire.
  'out_of_memory',
] as const satisfies readonly KvResult['status'][];

const opCode = new Map<string, number>(OPS.map((op, i) => [op, i + 1]));
const statusCode = new Map<string, number>(STATUSES.map((s, i) => [s, i + 1]));

const encoder = new Encoder({ ignoreUndefined: false });
const decoder = new Decoder();

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function u64Out(v: bigint): number | Uint8Array {
  if (v < 0n || v > 0xffffffffffffffffn) throw new RangeError(`${v} is not a uint64`);
  if (v <= MAX_SAFE) return Number(v);
  const b = new Uint8Array(8);
  let x = v;
  for (let i = 7; i >= 0; i--) {
    b[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return b;
}

// ---- encoding ----

export function encodeRequest(req: KvRequest): Uint8Array {
  return encoder.encode(requestToWire(req));
}

export function encodeResult(result: KvResult): Uint8Array {
  return encoder.encode(resultToWire(result));
}

export function requestToWire(req: KvRequest): unknown[] {
  const s = req.session;
  const head: unknown[] = [req.now, s === undefined ? null : [s.id, s.seq, s.ack], opCode.get(req.command.op)];
  const c = req.command;
  switch (c.op) {
    case 'set':
    case 'add':
    case 'replace':
    case 'append':
    case 'prepend':
      head.push(keyToBytes(c.key), c.flags, c.exptime, c.value);
      if (c.cas !== undefined) head.push(u64Out(c.cas));
      return head;
    case 'cas':
      head.push(keyToBytes(c.key), c.flags, c.exptime, c.value, u64Out(c.cas));
      return head;
    case 'get':
      head.push(c.keys.map(keyToBytes));
      if (c.nonce !== undefined) head.push(c.nonce);
      return head;
    case 'gat':
      head.push(c.exptime, c.keys.map(keyToBytes));
      return head;
    case 'touch':
      head.push(keyToBytes(c.key), c.exptime);
      return head;
    case 'delete':
      head.push(keyToBytes(c.key));
      if (c.cas !== undefined) head.push(u64Out(c.cas));
      return head;
    case 'incr':
    case 'decr':
      head.push(
        keyToBytes(c.key),
        u64Out(c.delta),
        c.initial === undefined ? null : u64Out(c.initial.value),
        c.initial === undefined ? null : c.initial.exptime,
      );
      if (c.cas !== undefined) head.push(u64Out(c.cas));
      return head;
    case 'flush_all':
      head.push(c.delay);
      return head;
    case 'oversized_set':
      head.push(keyToBytes(c.key));
      return head;
    case 'register':
      if (c.nonce !== undefined) head.push(c.nonce);
      return head;
    default:
      return assertNever(c);
  }
}

export function resultToWire(r: KvResult): unknown[] {
  const code = statusCode.get(r.status);
  switch (r.status) {
    case 'stored':
      return [code, r.cas];
    case 'not_stored':
    case 'exists':
    case 'not_found':
    case 'deleted':
    case 'touched':
    case 'non_numeric':
    case 'too_large':
    case 'out_of_memory':
    case 'ok':
      return [code];
    case 'values': {
      const out: unknown[] = [code];
      for (const h of r.hits) out.push(keyToBytes(h.key), h.flags, h.cas, h.value);
      return out;
    }
    case 'number':
      return [code, u64Out(r.value), r.cas];
    case 'session':
    case 'session_unknown':
      return [code, r.id];
    case 'session_stale':
    case 'session_busy':
      return [code, r.id, r.seq];
    case 'invalid':
      return [code, r.reason];
    default:
      return assertNever(r);
  }
}

// ---- decoding ----

function decodeBytes(bytes: Uint8Array, what: string): unknown {
  try {
    return decoder.decode(bytes);
  } catch (e) {
    throw new KvCodecError(`${what} is not valid msgpack (${e instanceof Error ? e.message : String(e)})`);
  }
}

export function decodeRequest(bytes: Uint8Array): KvRequest {
  return requestFromWire(decodeBytes(bytes, 'the KV request'));
}

export function decodeResult(bytes: Uint8Array): KvResult {
  return resultFromWire(decodeBytes(bytes, 'the KV result'));
}

/** Reads fields of one wire array in order, each checked, errors naming the field. */
class Fields {
  private i = 0;
  constructor(
    private readonly a: readonly unknown[],
    private readonly what: string,
  ) {}

  private fail(field: string, want: string, got: unknown): never {
    const shown = got instanceof Uint8Array ? `${got.length} bytes` : typeof got === 'string' ? JSON.stringify(got.slice(0, 40)) : String(got);
    throw new KvCodecError(`${this.what}: field ${this.i} (${field}) should be ${want}, not ${shown}`);
  }

  get remaining(): number {
    return this.a.length - this.i;
  }

  raw(): unknown {
    return this.a[this.i++];
  }

  int(field: string, min: number, max: number): number {
    const v = this.a[this.i];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(field, `an integer in ${min}..${max}`, v);
    this.i++;
    return v;
  }

  /** A finite number (times). */
  time(field: string): number {
    const v = this.a[this.i];
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(field, 'a finite number', v);
    this.i++;
    return v;
  }

  bin(field: string): Uint8Array {
    const v = this.a[this.i];
    if (!(v instanceof Uint8Array)) this.fail(field, 'bytes', v);
    this.i++;
    return v;
  }

  key(field: string): Key {
    const b = this.bin(field);
    if (b.length > 65535) this.fail(field, 'a key of at most 65535 bytes', b);
    return bytesToKey(b);
  }

  u64(field: string): bigint {
    const v = this.a[this.i];
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) {
      this.i++;
      return BigInt(v);
    }
    if (v instanceof Uint8Array && v.length === 8) {
      this.i++;
      return readU64(v, 0);
    }
    return this.fail(field, 'a uint64', v);
  }

  optU64(field: string): bigint | undefined {
    if (this.i >= this.a.length || this.a[this.i] === null) {
      this.i++;
      return undefined;
    }
    return this.u64(field);
  }

  isNil(): boolean {
    return this.i >= this.a.length || this.a[this.i] === null;
  }

  str(field: string): string {
    const v = this.a[this.i];
    if (typeof v !== 'string') this.fail(field, 'a string', v);
    this.i++;
    return v;
  }

  array(field: string): readonly unknown[] {
    const v = this.a[this.i];
    if (!Array.isArray(v)) this.fail(field, 'an array', v);
    this.i++;
    return v;
  }

  end(): void {
    while (this.i < this.a.length && this.a[this.i] === null) this.i++;
    if (this.i < this.a.length) throw new KvCodecError(`${this.what}: ${this.a.length - this.i} unexpected trailing field(s)`);
  }
}

const U32 = 0xffffffff;
/** Text exptimes are int32, binary ones uint32. */
const EXP_MIN = -0x80000000;

export function requestFromWire(x: unknown): KvRequest {
  if (!Array.isArray(x)) throw new KvCodecError('the KV request should be a msgpack array');
  const f = new Fields(x, 'the KV request');
  const now = f.time('time');
  let session: SessionTag | undefined;
  if (!f.isNil()) {
    const s = new Fields(f.array('session'), 'the KV request session');
    session = { id: s.int('id', 1, Number.MAX_SAFE_INTEGER), seq: s.int('seq', 1, Number.MAX_SAFE_INTEGER), ack: s.int('ack', 0, Number.MAX_SAFE_INTEGER) };
    s.end();
  } else {
    f.raw();
  }
  const op = OPS[f.int('opcode', 1, OPS.length) - 1] as KvCommand['op'];
  let command: KvCommand;
  switch (op) {
    case 'set':
    case 'add':
    case 'replace':
    case 'append':
    case 'prepend': {
      const key = f.key('key');
      const flags = f.int('flags', 0, U32);
      const exptime = f.int('exptime', EXP_MIN, U32);
      const value = f.bin('value');
      const cas = f.optU64('cas');
      command = cas === undefined ? { op, key, flags, exptime, value } : { op, key, flags, exptime, value, cas };
      break;
    }
    case 'cas':
      command = { op, key: f.key('key'), flags: f.int('flags', 0, U32), exptime: f.int('exptime', EXP_MIN, U32), value: f.bin('value'), cas: f.u64('cas') };
      break;
    case 'get': {
      const keys = f.array('keys').map((k, i) => new Fields([k], `the KV request key ${i}`).key('key'));
      command = f.isNil() ? { op, keys } : { op, keys, nonce: f.int('nonce', 0, Number.MAX_SAFE_INTEGER) };
      break;
    }
    case 'gat': {
      const exptime = f.int('exptime', EXP_MIN, U32);
      const keys = f.array('keys').map((k, i) => new Fields([k], `the KV request key ${i}`).key('key'));
      command = { op, exptime, keys };
      break;
    }
    case 'touch':
      command = { op, key: f.key('key'), exptime: f.int('exptime', EXP_MIN, U32) };
      break;
    case 'delete': {
      const key = f.key('key');
      const cas = f.optU64('cas');
      command = cas === undefined ? { op, key } : { op, key, cas };
      break;
    }
    case 'incr':
    case 'decr': {
      const key = f.key('key');
      const delta = f.u64('delta');
      const initial = f.optU64('initial');
      let initialExptime: number | undefined;
      if (f.isNil()) f.raw();
      else initialExptime = f.int('initial exptime', 0, U32);
      const cas = f.optU64('cas');
      const base = initial === undefined ? { op, key, delta } : { op, key, delta, initial: { value: initial, exptime: initialExptime ?? 0 } };
      command = cas === undefined ? base : { ...base, cas };
      break;
    }
    case 'flush_all':
      command = { op, delay: f.int('delay', EXP_MIN, U32) };
      break;
    case 'oversized_set':
      command = { op, key: f.key('key') };
      break;
    case 'register': {
      if (f.isNil()) {
        command = { op };
        break;
      }
      command = { op, nonce: f.int('nonce', 0, Number.MAX_SAFE_INTEGER) };
      break;
    }
    default:
      return assertNever(op);
  }
  f.end();
  return session === undefined ? { now, command } : { now, session, command };
}

export function resultFromWire(x: unknown): KvResult {
  if (!Array.isArray(x)) throw new KvCodecError('the KV result should be a msgpack array');
  const f = new Fields(x, 'the KV result');
  const status = STATUSES[f.int('status', 1, STATUSES.length) - 1] as KvResult['status'];
  let r: KvResult;
  switch (status) {
    case 'stored':
      r = { status, cas: f.int('cas', 0, Number.MAX_SAFE_INTEGER) };
      break;
    case 'not_stored':
    case 'exists':
    case 'not_found':
    case 'deleted':
    case 'touched':
    case 'non_numeric':
    case 'too_large':
    case 'out_of_memory':
    case 'ok':
      r = { status };
      break;
    case 'values': {
      const hits: Hit[] = [];
      while (f.remaining > 0) {
        hits.push({ key: f.key('key'), flags: f.int('flags', 0, U32), cas: f.int('cas', 0, Number.MAX_SAFE_INTEGER), value: f.bin('value') });
      }
      r = { status, hits };
      break;
    }
    case 'number':
      r = { status, value: f.u64('value'), cas: f.int('cas', 0, Number.MAX_SAFE_INTEGER) };
      break;
    case 'session':
    case 'session_unknown':
      r = { status, id: f.int('id', 0, Number.MAX_SAFE_INTEGER) };
      break;
    case 'session_stale':
    case 'session_busy':
      r = { status, id: f.int('id', 0, Number.MAX_SAFE_INTEGER), seq: f.int('seq', 0, Number.MAX_SAFE_INTEGER) };
      break;
    case 'invalid':
      r = { status, reason: f.str('reason') };
      break;
    default:
      return assertNever(status);
  }
  f.end();
  return r;
}
