/**
 * @libpaxos/paxos-kv: a memcached-compatible KV service's pure half. The state machine
 * (KvStore / KvStateMachine), memcached's text and binary protocols as incremental codecs, the
 * encoding of requests and results as Paxos values, and a linearizability checker with a memcached
 * model. No I/O, no clock, no randomness: the server part drives them.
 */
export * from './bytes.js';
export * from './numbers.js';
export * from './command.js';
export * from './command-codec.js';
export * from './expiry.js';
export * from './sessions.js';
export * from './stats.js';
export * from './store.js';
export * from './snapshot.js';
export * from './digest.js';
export * from './machine.js';
export * from './protocol.js';
export * from './text-protocol.js';
export * from './binary-protocol.js';
export * from './linearizability/model.js';
export * from './linearizability/checker.js';
export * from './linearizability/memcached-model.js';
export * from './linearizability/generate.js';
