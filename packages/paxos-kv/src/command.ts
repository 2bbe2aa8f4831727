/**
 * The KV service's one command language: both memcached protocols parse into these commands, the
 * state machine applies them, and they travel through the Paxos log (encoded by command-codec.ts).
 * Plain readonly objects, discriminated by `op` (commands) and `status` (results).
 */
import type { Key } from './bytes.js';

/** set/add/replace/append/prepend. `cas` (binary protocol only) makes append/prepend conditional. */
export interface StoreCommand {
  readonly op: 'set' | 'add' | 'replace' | 'append' | 'prepend';
  readonly key: Key;
  /** Client flags, uint32 (append/prepend keep the item's own). */
  readonly flags: number;
  /** memcached exptime in seconds: 0 never, up to 30 days relative, beyond that unix time, negative expired. */
  readonly exptime: number;
  readonly value: Uint8Array;
  readonly cas?: bigint;
}

/** Store only if the item's CAS unique is `cas` (text `cas`; a binary set/add/replace with a CAS). */
export interface CasCommand {
  readonly op: 'cas';
  readonly key: Key;
  readonly flags: number;
  readonly exptime: number;
  readonly value: Uint8Array;
  readonly cas: bigint;
}

/**
 * get/gets (the protocol decides whether to show CAS uniques): the hits, in request order. A get
 * read through the log carries a `nonce` (a number the gateway picks, ignored by the store), for the
 * reason register does: the replication layer matches a proposal to its delivery by bytes, and a
 * gateway whose get matched an equal get another gateway proposed earlier (same keys, same stamp)
 * would answer from that get's place in the log, which may precede writes acknowledged before its
 * own get was sent: a stale read served as linearizable. With no keys, a get changes nothing but
 * the clock: the leader's way to put its time into the log.
 */
export interface GetCommand {
  readonly op: 'get';
  readonly keys: readonly Key[];
  readonly nonce?: number;
}

/** gat/gats: get and set a new exptime on every hit. */
export interface GatCommand {
  readonly op: 'gat';
  readonly exptime: number;
  readonly keys: readonly Key[];
}

export interface TouchCommand {
  readonly op: 'touch';
  readonly key: Key;
  readonly exptime: number;
}

/** delete; `cas` (binary protocol only) makes it conditional. */
export interface DeleteCommand {
  readonly op: 'delete';
  readonly key: Key;
  readonly cas?: bigint;
}

/**
 * incr/decr by an unsigned 64-bit delta. With `initial` (binary protocol) a missing item is created
 * holding `initial` with `exptime`; `cas` (binary) makes it conditional.
 */
export interface ArithmeticCommand {
  readonly op: 'incr' | 'decr';
  readonly key: Key;
  readonly delta: bigint;
  readonly initial?: { readonly value: bigint; readonly exptime: number };
  readonly cas?: bigint;
}

/** flush_all: invalidate every item now (delay 0 or negative) or `delay` seconds from now. */
export interface FlushCommand {
  readonly op: 'flush_all';
  readonly delay: number;
}

/**
 * A `set` whose value was too large: the codec swallowed the value, and memcached then removes the
 * key's old item ("avoid stale data persisting in cache because we failed alloc"), which changes
 * state, so it goes through the log like any write.
 */
export interface OversizedSetCommand {
  readonly op: 'oversized_set';
  readonly key: Key;
}

/**
 * Opens an exactly-once client session; the result carries its id. `nonce` (a number the gateway
 * picks, ignored by the store) makes two gateways' registrations different bytes: the replication
 * layer matches a proposal to its delivery by bytes, and two gateways whose equal registrations
 * matched the same delivery would share one session, and so each other's sequence numbers.
 */
export interface RegisterCommand {
  readonly op: 'register';
  readonly nonce?: number;
}

export type KvCommand =
  | StoreCommand
  | CasCommand
  | GetCommand
  | GatCommand
  | TouchCommand
  | DeleteCommand
  | ArithmeticCommand
  | FlushCommand
  | OversizedSetCommand
  | RegisterCommand;

/** Whether a command can change the state (a `get` through the log changes nothing). */
export function isWrite(cmd: KvCommand): boolean {
  return cmd.op !== 'get';
}

/** The key(s) a command touches (none for flush_all and register). */
export function commandKeys(cmd: KvCommand): readonly Key[] {
  switch (cmd.op) {
    case 'get':
    case 'gat':
      return cmd.keys;
    case 'flush_all':
    case 'register':
      return [];
    case 'set':
    case 'add':
    case 'replace':
    case 'append':
    case 'prepend':
    case 'cas':
    case 'touch':
    case 'delete':
    case 'incr':
    case 'decr':
    case 'oversized_set':
      return [cmd.key];
    default:
      return assertNever(cmd);
  }
}

/**
 * A request as the leader proposes it: the command, the time it stamped on it (ms since the unix
 * epoch, the only clock the state machine knows) and, for exactly-once, the client session.
 */
export interface KvRequest {
  readonly now: number;
  readonly session?: SessionTag;
  readonly command: KvCommand;
}

/**
 * `seq` numbers a session's requests 1, 2, 3…; `ack` says the client has every result up to and
 * including that seq, so the state machine may forget them.
 */
export interface SessionTag {
  readonly id: number;
  readonly seq: number;
  readonly ack: number;
}

export interface Hit {
  readonly key: Key;
  readonly flags: number;
  readonly cas: number;
  readonly value: Uint8Array;
}

export type KvResult =
  | { readonly status: 'stored'; readonly cas: number }
  | { readonly status: 'not_stored' }
  | { readonly status: 'exists' }
  | { readonly status: 'not_found' }
  | { readonly status: 'deleted' }
  | { readonly status: 'touched' }
  /** get/gat: the hits in request order (a key asked twice is there twice). */
  | { readonly status: 'values'; readonly hits: readonly Hit[] }
  /** incr/decr: the new value and the item's new CAS unique. */
  | { readonly status: 'number'; readonly value: bigint; readonly cas: number }
  | { readonly status: 'non_numeric' }
  | { readonly status: 'too_large' }
  /** The item does not fit in the memory limit and evictions are off (memcached's -M). */
  | { readonly status: 'out_of_memory' }
  /** flush_all */
  | { readonly status: 'ok' }
  | { readonly status: 'session'; readonly id: number }
  /** The session expired, was evicted or never existed: nothing was applied; open a new one. */
  | { readonly status: 'session_unknown'; readonly id: number }
  /** The seq is at or below what the client acknowledged: its result is gone, nothing was applied. */
  | { readonly status: 'session_stale'; readonly id: number; readonly seq: number }
  /** Too many unacknowledged results in this session: nothing was applied; retry after acking. */
  | { readonly status: 'session_busy'; readonly id: number; readonly seq: number }
  /** The request itself is malformed (bad bytes in the log, a key too long…): nothing was applied. */
  | { readonly status: 'invalid'; readonly reason: string };

export type KvStatus = KvResult['status'];

export function assertNever(x: never): never {
  throw new Error(`unexpected variant: ${JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v))}`);
}
