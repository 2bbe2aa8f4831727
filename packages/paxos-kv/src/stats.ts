/**
 * memcached's `stats`, split by who can know each counter:
 * - the store's counters count what the log applied, so every replica has the same ones, and they
 *   are kept in the state machine and its snapshots (items, bytes, writes, hits and misses of
 *   writes);
 * - the server's counters count what one server answered (connections, reads served locally under
 *   a lease, bytes on its sockets), differ between replicas and live in the server.
 * `statsEntries` merges both into memcached's names and order for the `stats` reply.
 */

/** Counters kept in the replicated state (memcached's names). */
export interface StoreCounters {
  cmd_set: number;
  cmd_flush: number;
  cmd_touch: number;
  total_items: number;
  /** Reads that went through the log (get/gets as commands; local reads are the server's). */
  cmd_get: number;
  get_hits: number;
  get_misses: number;
  delete_misses: number;
  delete_hits: number;
  incr_misses: number;
  incr_hits: number;
  decr_misses: number;
  decr_hits: number;
  cas_misses: number;
  cas_hits: number;
  cas_badval: number;
  touch_hits: number;
  touch_misses: number;
  expired_unfetched: number;
  reclaimed: number;
  /** Items evicted to make room for others (under the memory limit). */
  evictions: number;
}

export const STORE_COUNTER_NAMES: readonly (keyof StoreCounters)[] = [
  'cmd_set',
  'cmd_flush',
  'cmd_touch',
  'total_items',
  'cmd_get',
  'get_hits',
  'get_misses',
  'delete_misses',
  'delete_hits',
  'incr_misses',
  'incr_hits',
  'decr_misses',
  'decr_hits',
  'cas_misses',
  'cas_hits',
  'cas_badval',
  'touch_hits',
  'touch_misses',
  'expired_unfetched',
  'reclaimed',
  // Added after the others: a snapshot's counters are listed in this order, and an older
  // snapshot's shorter list leaves the new ones at 0.
  'evictions',
];

export function newStoreCounters(): StoreCounters {
  const c = {} as Record<keyof StoreCounters, number>;
  for (const name of STORE_COUNTER_NAMES) c[name] = 0;
  return c;
}

/** The store's view for `stats`: its counters plus what it holds now. */
export interface StoreStats {
  readonly counters: Readonly<StoreCounters>;
  readonly curr_items: number;
  /** Bytes the items take by memcached's accounting (item header, key, suffix, value, CRLF). */
  readonly bytes: number;
  /** The memory limit (memcached's -m, in bytes). */
  readonly limit_maxbytes: number;
  /** Whether a store that does not fit evicts (memcached's `evictions` setting; off with -M). */
  readonly evictions_on: boolean;
  readonly item_size_max: number;
  readonly sessions: number;
  readonly cas_unique: number;
}

/** Counters of one server (not replicated). */
export interface ServerCounters {
  curr_connections: number;
  total_connections: number;
  /** Reads this server answered itself (a lease read, or a stale read on request). */
  local_get: number;
  local_get_hits: number;
  local_get_misses: number;
  bytes_read: number;
  bytes_written: number;
}

export function newServerCounters(): ServerCounters {
  return {
    curr_connections: 0,
    total_connections: 0,
    local_get: 0,
    local_get_hits: 0,
    local_get_misses: 0,
    bytes_read: 0,
    bytes_written: 0,
  };
}

/** What only the running server knows (process, time, role). */
export interface ServerInfo {
  readonly pid: number;
  /** Seconds since the server started. */
  readonly uptime: number;
  /** Unix time in seconds. */
  readonly time: number;
  readonly version: string;
  /** Whether this replica holds the lease now. */
  readonly leader: boolean;
  /** The last Paxos instance applied to the store. */
  readonly lastApplied: number;
}

export type StatEntry = readonly [name: string, value: string];

/**
 * memcached's general stats, in its order where both have them: get counters add the reads that
 * went through the log and the reads this server served itself, as a client of one memcached would
 * expect.
 */
export function statsEntries(store: StoreStats, server: Readonly<ServerCounters>, info: ServerInfo): StatEntry[] {
  const c = store.counters;
  const e: [string, string | number][] = [
    ['pid', info.pid],
    ['uptime', info.uptime],
    ['time', info.time],
    ['version', info.version],
    ['pointer_size', 64],
    ['curr_connections', server.curr_connections],
    ['total_connections', server.total_connections],
    ['cmd_get', c.cmd_get + server.local_get],
    ['cmd_set', c.cmd_set],
    ['cmd_flush', c.cmd_flush],
    ['cmd_touch', c.cmd_touch],
    ['get_hits', c.get_hits + server.local_get_hits],
    ['get_misses', c.get_misses + server.local_get_misses],
    ['get_expired', 0],
    ['get_flushed', 0],
    ['delete_misses', c.delete_misses],
    ['delete_hits', c.delete_hits],
    ['incr_misses', c.incr_misses],
    ['incr_hits', c.incr_hits],
    ['decr_misses', c.decr_misses],
    ['decr_hits', c.decr_hits],
    ['cas_misses', c.cas_misses],
    ['cas_hits', c.cas_hits],
    ['cas_badval', c.cas_badval],
    ['touch_hits', c.touch_hits],
    ['touch_misses', c.touch_misses],
    ['bytes_read', server.bytes_read],
    ['bytes_written', server.bytes_written],
    ['limit_maxbytes', store.limit_maxbytes],
    ['threads', 1],
    ['bytes', store.bytes],
    ['curr_items', store.curr_items],
    ['total_items', c.total_items],
    ['expired_unfetched', c.expired_unfetched],
    ['evictions', c.evictions],
    ['reclaimed', c.reclaimed],
    ['item_size_max', store.item_size_max],
    ['paxos_leader', info.leader ? 1 : 0],
    ['paxos_last_applied', info.lastApplied],
    ['paxos_sessions', store.sessions],
    ['paxos_cas_unique', store.cas_unique],
  ];
  return e.map(([k, v]) => [k, String(v)] as const);
}
