/**
 * What memcached's two protocol codecs share: bytes in → a sequence of parsed items (requests to
 * execute, replies to send as they are, a close); a request plus its outcome → reply bytes. The
 * server executes requests in any way (through the log, a lease read) but must write replies in
 * the order the items came, which is memcached's pipelining contract.
 */
import type { KvCommand, KvResult } from './command.js';
import type { StatEntry } from './stats.js';

/** Commands the server answers itself: they never touch the replicated state. */
export type ServerCommand =
  | { readonly op: 'version' }
  | { readonly op: 'verbosity'; readonly level: number }
  /** `group` is "" for the general stats, else the group (text `stats <group…>`, binary STAT key). */
  | { readonly op: 'stats'; readonly group: string }
  /** Binary NOOP: a barrier that quiet commands leave the only reply. */
  | { readonly op: 'noop' }
  /** Binary QUIT (replies, then the connection closes; a `close` item follows). */
  | { readonly op: 'quit' };

export type ServerReply =
  | { readonly kind: 'version'; readonly version: string }
  | { readonly kind: 'ok' }
  | { readonly kind: 'stats'; readonly entries: readonly StatEntry[] }
  /** `stats reset` done. */
  | { readonly kind: 'reset' }
  /** A stats group this server does not have. */
  | { readonly kind: 'unknown' }
  /**
   * The server could not carry out a request (no quorum in time, shutting down…): the answer to
   * any request, store commands included. Shown despite noreply or a quiet opcode, as memcached's
   * out_errstring shows severe errors; `temporary` says a retry may succeed (binary ETMPFAIL,
   * else EINTERNAL). The message says whether the request may have taken effect.
   */
  | { readonly kind: 'server_error'; readonly message: string; readonly temporary: boolean };

export type Outcome = KvResult | ServerReply;

export interface ProtocolRequest {
  readonly command: KvCommand | ServerCommand;
}

export type Parsed<R extends ProtocolRequest> =
  | { readonly type: 'request'; readonly request: R }
  /** A reply the codec could give at once (a protocol error); send it in its place in the order. */
  | { readonly type: 'reply'; readonly bytes: Uint8Array }
  /** Close the connection once everything before this item has been answered and sent. */
  | { readonly type: 'close' };

export interface ProtocolCodec<R extends ProtocolRequest> {
  readonly protocol: 'text' | 'binary';
  /** Feeds bytes as they arrive, in any chunking; returns what they completed, in order. */
  push(chunk: Uint8Array): Parsed<R>[];
  /** The reply bytes for a request given its outcome (empty when the request asked for none). */
  encode(request: R, outcome: Outcome): Uint8Array;
}

export function isServerCommand(c: KvCommand | ServerCommand): c is ServerCommand {
  return c.op === 'version' || c.op === 'verbosity' || c.op === 'stats' || c.op === 'noop' || c.op === 'quit';
}

export function isServerReply(o: Outcome): o is ServerReply {
  return 'kind' in o;
}

/** A server error line must stay one line: no CR or LF inside it. */
export function oneLine(message: string): string {
  return message.replace(/[\r\n]+/g, ' ');
}

/**
 * The memcached release whose protocols these codecs follow. A server should answer `version`
 * with a string that starts with it (say `1.6.18-paxos-kv`): clients and memcapable judge what a
 * server supports by its version (memcapable expects 1.6's `version foo` to answer VERSION).
 */
export const MEMCACHED_VERSION = '1.6.18';

/** memcached picks a connection's protocol from its first byte: 0x80 is the binary request magic. */
export function detectProtocol(firstByte: number): 'text' | 'binary' {
  return firstByte === 0x80 ? 'binary' : 'text';
}

export interface CodecOptions {
  /** The store's item size limit (memcached's -I): must match the state machine's. Default 1 MiB. */
  readonly itemSizeMax?: number;
  /**
   * Text protocol: the longest command line other than get/gets/gat/gats (memcached's 2048).
   * Longer lines get `CLIENT_ERROR line too long` and are skipped to their end.
   */
  readonly maxLineBytes?: number;
  /** Text protocol: the longest get/gets/gat/gats line (many keys); default 1 MiB. */
  readonly maxRetrievalLineBytes?: number;
}
