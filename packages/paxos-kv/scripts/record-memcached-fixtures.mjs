#!/usr/bin/env node
/**
 * Records what a real memcached answers to the tricky cases below, into
 * test/fixtures/memcached.json; the tests replay each case through paxos-kv's codecs and store and
 * compare byte for byte, so they need no memcached to run. Every case runs on a fresh memcached
 * (so CAS uniques count from 1 there as in a fresh store).
 *
 *   node scripts/record-memcached-fixtures.mjs [--memcached PATH] [--port N] [--only SUBSTRING]
 *
 * Needs Debian's memcached (apt-get install memcached); the port defaults to
 * $PAXOS_TEST_PORT_BASE + 11 (or 45011). Written for memcached 1.6.18 (Debian 12).
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const MEMCACHED = opt('--memcached', 'memcached');
const PORT = Number(opt('--port', String(Number(process.env.PAXOS_TEST_PORT_BASE ?? 45000) + 11)));
const ONLY = opt('--only', '');
const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'memcached.json');
/** Gap after each chunk, so that chunks reach memcached as separate reads (the replay advances its clock by it too). */
const GAP_MS = 60;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const big = (n, c = 'x') => c.repeat(n);
/** The largest value memcached 1.6 takes under a 1-byte key with flags 0: 1 MiB - (48 + 8 + 1 + 1 + 2): item header, CAS, key, its NUL, CRLF. */
const MAX_V = 1048576 - 60;

// ---- binary packets ----
const OP = { GET: 0, SET: 1, ADD: 2, REPLACE: 3, DELETE: 4, INCR: 5, DECR: 6, QUIT: 7, FLUSH: 8, GETQ: 9, NOOP: 10, VERSION: 11, GETK: 12, GETKQ: 13, APPEND: 14, PREPEND: 15, STAT: 16, SETQ: 17, ADDQ: 18, REPLACEQ: 19, DELETEQ: 20, INCRQ: 21, DECRQ: 22, QUITQ: 23, FLUSHQ: 24, APPENDQ: 25, PREPENDQ: 26, TOUCH: 28, GAT: 29, GATQ: 30, GATK: 35, GATKQ: 36 };
function pkt(opcode, { key = '', extras = Buffer.alloc(0), value = '', opaque = 0xdeadbeef, cas = 0n, magic = 0x80, keylen, extlen, bodylen } = {}) {
  const k = Buffer.from(key, 'latin1');
  const v = Buffer.from(value, 'latin1');
  const h = Buffer.alloc(24);
  h[0] = magic;
  h[1] = opcode;
  h.writeUInt16BE(keylen ?? k.length, 2);
  h[4] = extlen ?? extras.length;
  h.writeUInt32BE(bodylen ?? extras.length + k.length + v.length, 8);
  h.writeUInt32BE(opaque, 12);
  h.writeBigUInt64BE(BigInt(cas), 16);
  return Buffer.concat([h, extras, k, v]).toString('latin1');
}
const u32 = (...xs) => Buffer.concat(xs.map((x) => { const b = Buffer.alloc(4); b.writeUInt32BE(x >>> 0); return b; }));
const u64 = (x) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt.asUintN(64, BigInt(x))); return b; };
const setx = (flags, exp) => u32(flags, exp);
const arith = (delta, initial, exp) => Buffer.concat([u64(delta), u64(initial), u32(exp)]);
const b = {
  set: (key, value, o = {}) => pkt(OP.SET, { key, value, extras: setx(o.flags ?? 0, o.exp ?? 0), ...o }),
  setq: (key, value, o = {}) => pkt(OP.SETQ, { key, value, extras: setx(o.flags ?? 0, o.exp ?? 0), ...o }),
  add: (key, value, o = {}) => pkt(OP.ADD, { key, value, extras: setx(o.flags ?? 0, o.exp ?? 0), ...o }),
  addq: (key, value, o = {}) => pkt(OP.ADDQ, { key, value, extras: setx(o.flags ?? 0, o.exp ?? 0), ...o }),
  replace: (key, value, o = {}) => pkt(OP.REPLACE, { key, value, extras: setx(o.flags ?? 0, o.exp ?? 0), ...o }),
  replaceq: (key, value, o = {}) => pkt(OP.REPLACEQ, { key, value, extras: setx(o.flags ?? 0, o.exp ?? 0), ...o }),
  get: (key, o = {}) => pkt(OP.GET, { key, ...o }),
  getq: (key, o = {}) => pkt(OP.GETQ, { key, ...o }),
  getk: (key, o = {}) => pkt(OP.GETK, { key, ...o }),
  getkq: (key, o = {}) => pkt(OP.GETKQ, { key, ...o }),
  del: (key, o = {}) => pkt(OP.DELETE, { key, ...o }),
  delq: (key, o = {}) => pkt(OP.DELETEQ, { key, ...o }),
  incr: (key, d, i, e, o = {}) => pkt(OP.INCR, { key, extras: arith(d, i, e), ...o }),
  incrq: (key, d, i, e, o = {}) => pkt(OP.INCRQ, { key, extras: arith(d, i, e), ...o }),
  decr: (key, d, i, e, o = {}) => pkt(OP.DECR, { key, extras: arith(d, i, e), ...o }),
  decrq: (key, d, i, e, o = {}) => pkt(OP.DECRQ, { key, extras: arith(d, i, e), ...o }),
  append: (key, value, o = {}) => pkt(OP.APPEND, { key, value, ...o }),
  appendq: (key, value, o = {}) => pkt(OP.APPENDQ, { key, value, ...o }),
  prepend: (key, value, o = {}) => pkt(OP.PREPEND, { key, value, ...o }),
  prependq: (key, value, o = {}) => pkt(OP.PREPENDQ, { key, value, ...o }),
  touch: (key, exp, o = {}) => pkt(OP.TOUCH, { key, extras: u32(exp), ...o }),
  gat: (key, exp, o = {}) => pkt(OP.GAT, { key, extras: u32(exp), ...o }),
  gatq: (key, exp, o = {}) => pkt(OP.GATQ, { key, extras: u32(exp), ...o }),
  gatk: (key, exp, o = {}) => pkt(OP.GATK, { key, extras: u32(exp), ...o }),
  gatkq: (key, exp, o = {}) => pkt(OP.GATKQ, { key, extras: u32(exp), ...o }),
  flush: (o = {}) => pkt(OP.FLUSH, o),
  flushDelay: (d, o = {}) => pkt(OP.FLUSH, { extras: u32(d), ...o }),
  flushq: (o = {}) => pkt(OP.FLUSHQ, o),
  noop: (o = {}) => pkt(OP.NOOP, o),
  version: (o = {}) => pkt(OP.VERSION, o),
  quit: (o = {}) => pkt(OP.QUIT, o),
  quitq: (o = {}) => pkt(OP.QUITQ, o),
  stat: (key = '', o = {}) => pkt(OP.STAT, { key, ...o }),
};

// ---- the cases: each a list of steps {send, sleep?}; a bare string is one step ----
const K250 = big(250, 'k');
const K251 = big(251, 'k');
const textCases = {
  'storage commands and retrieval, CAS uniques from 1': [
    'set a 0 0 1\r\n1\r\nset b 5 0 2\r\n22\r\nadd a 0 0 1\r\nx\r\nadd c 7 0 0\r\n\r\nreplace nope 0 0 1\r\nx\r\nreplace b 9 0 3\r\n333\r\ngets a b c nope a\r\nget c\r\n',
  ],
  'multi-get with a missing key and a repeated key': ['set k1 0 0 2\r\nv1\r\nset k2 3 0 2\r\nv2\r\nget k1 missing k2 k1\r\ngets k2\r\n'],
  'noreply on every storage command, then version': [
    'set a 0 0 1 noreply\r\n1\r\nadd a 0 0 1 noreply\r\n2\r\nreplace a 0 0 1 noreply\r\n3\r\nappend a 0 0 1 noreply\r\n4\r\nprepend a 0 0 1 noreply\r\n5\r\ncas a 0 0 1 99 noreply\r\n6\r\nget a\r\nversion\r\n',
  ],
  'noreply on delete incr decr touch flush_all verbosity': [
    'set n 0 0 1\r\n5\r\nincr n 3 noreply\r\ndecr n 1 noreply\r\ntouch n 100 noreply\r\nget n\r\ndelete n noreply\r\ndelete n noreply\r\nincr n 1 noreply\r\nflush_all noreply\r\nverbosity 1 noreply\r\nversion\r\n',
  ],
  'bad data chunk: the bytes read are gone, parsing resumes after them': ['set k 0 0 1\r\nabc\r\nget k\r\n'],
  'bad data chunk under noreply is silent': ['set k 0 0 1 noreply\r\nabc\r\nget k\r\n'],
  'data block split across reads': ['set k 0 0 11\r\nhel', 'lo wor', 'ld\r', '\nget k\r\n'],
  'bad data chunk split across reads': ['set k 0 0 10\r\nhel', 'lo wor', 'ld\r', '\nget k\r\n'],
  'command line split across reads': ['se', 't k 0 0 1\r', '\nx', '\r\ng', 'et k\r\n'],
  'LF-only line ends': ['set k 0 0 1\nx\r\nget k\nversion\n'],
  'key of 250 bytes is fine': [`set ${K250} 0 0 1\r\nv\r\nget ${K250}\r\n`],
  'key of 251 bytes: set refused without reading its data, which is then a command': [`set ${K251} 0 0 5\r\nhello\r\n`],
  // A retrieval that fails for a long key makes memcached drop the unsent replies of the commands
  // before it in the same read (conn_release_items), so it gets a read of its own here.
  'key of 251 bytes in get, delete, incr, touch, gat': ['set a 0 0 1\r\nx\r\n', `get a ${K251}\r\n`, `delete ${K251}\r\nincr ${K251} 1\r\ntouch ${K251} 1\r\n`, `gat 1 ${K251}\r\nget a\r\n`],
  'wrong token counts are ERROR': [
    'set k 0 0\r\nset k 0 0 1 2 3\r\ncas k 0 0 1\r\nincr k\r\ntouch k\r\ndecr k 1 2 3\r\nget\r\ngets\r\ngat\r\nverbosity\r\nverbosity 1 2 3\r\nflush_all 1 2 3\r\n',
  ],
  'delete forms': ['set a 0 0 1\r\nx\r\ndelete\r\ndelete a b c d e\r\ndelete a 0\r\ndelete a 1\r\ndelete a noreply\r\ndelete a 0 noreply\r\ndelete a 1 noreply\r\ndelete a 0 1\r\ndelete a\r\nversion\r\n'],
  'gat with no key answers END': ['gat 10\r\ngats 10\r\n'],
  'bad flags': ['set k -1 0 1\r\nx\r\nset k abc 0 1\r\nx\r\nset k 1x 0 1\r\nx\r\n'],
  'flags cut to 32 bits': ['set k 4294967296 0 1\r\na\r\ngets k\r\nset k 18446744073709551615 0 1\r\nb\r\ngets k\r\nset k 4294967295 0 1\r\nc\r\nget k\r\nset k -0 0 1\r\nd\r\nget k\r\n'],
  'bad exptime and length': ['set k 0 abc 1\r\nx\r\nset k 0 0 -1\r\nx\r\nset k 0 0 abc\r\nx\r\nset k 0 0 99999999999999999999\r\nx\r\n'],
  'bad cas unique': ['set k 0 0 1\r\nx\r\ncas k 0 0 1 abc\r\ny\r\ncas k 0 0 1 -1\r\ny\r\ncas k 0 0 1 18446744073709551616\r\ny\r\nget k\r\n'],
  'numbers with leading whitespace, a sign, trailing whitespace': ['set k +3 \t0 1\r\nx\r\ngets k\r\nset j 0 0 +2\r\nyy\r\nget j\r\n'],
  'exptime cut to 32 bits: 4294967297 is one second': ['set k 0 4294967297 1\r\nx\r\nget k\r\n', { send: 'get k\r\n', sleep: 2200 }],
  'bad delta, bad exptime arguments': ['set n 0 0 1\r\n1\r\nincr n -1\r\nincr n abc\r\nincr n 18446744073709551616\r\ndecr n 1x\r\ntouch n x\r\ngat x n\r\nflush_all x\r\nverbosity x\r\nverbosity noreply\r\nget n\r\n'],
  'incr and decr: padding, wrap, floor': [
    'set n 0 0 2\r\n10\r\ndecr n 1\r\nget n\r\nincr n 1\r\nget n\r\ndecr n 100\r\ngets n\r\nset m 0 0 1\r\n9\r\nincr m 1\r\ngets m\r\nset w 0 0 20\r\n18446744073709551615\r\nincr w 1\r\nget w\r\nincr w 18446744073709551615\r\nget w\r\n',
  ],
  'incr on odd values': [
    'set s 0 0 3\r\nabc\r\nincr s 1\r\nset e 0 0 0\r\n\r\nincr e 1\r\nset t 0 0 4\r\n12 a\r\nincr t 1\r\nget t\r\nset u 0 0 3\r\n 12\r\nincr u 1\r\nset p 0 0 2\r\n+5\r\nincr p 1\r\nset neg 0 0 2\r\n-1\r\nincr neg 1\r\nset z 0 0 2\r\n-0\r\nincr z 1\r\nset ov 0 0 20\r\n18446744073709551616\r\nincr ov 0\r\nincr nope 1\r\ndecr nope 1\r\n',
  ],
  'incr keeps flags and exptime': ['set n 42 100 1\r\n7\r\nincr n 5\r\nincr n 100\r\ngets n\r\n'],
  'cas: match, stale, missing, zero': ['set a 5 0 1\r\nx\r\ngets a\r\ncas a 6 0 1 1\r\ny\r\ncas a 0 0 1 1\r\nz\r\ncas nope 0 0 1 1\r\nz\r\ncas a 0 0 1 0\r\nz\r\ngets a\r\ncas a 0 0 1 2 noreply\r\nw\r\ngets a\r\n'],
  'append and prepend keep flags and exptime': ['append nope 0 0 1\r\nx\r\nprepend nope 0 0 1\r\nx\r\nset h 7 0 5\r\nhello\r\nappend h 9 100 6\r\n world\r\nprepend h 9 0 1\r\n>\r\ngets h\r\n'],
  'touch, gat, gats': ['set a 1 0 1\r\nx\r\nset b 2 0 1\r\ny\r\ntouch a 100\r\ntouch nope 100\r\ngat 100 a nope b\r\ngats 0 b a\r\n'],
  'negative exptime: stored but already expired; touch and gat with -1': ['set x 0 -1 1\r\nx\r\nget x\r\nset y 0 0 1\r\ny\r\ntouch y -1\r\nget y\r\nset z 0 0 1\r\nz\r\ngat -1 z\r\nget z\r\n'],
  'absolute exptime in the past and in the future': ['set past 0 1000000000 1\r\nx\r\nset future 0 4000000000 1\r\ny\r\nget past future\r\n'],
  'relative expiry': ['set k 0 2 1\r\nx\r\nset forever 0 0 1\r\nf\r\nget k\r\n', { send: 'get k forever\r\n', sleep: 3200 }],
  'touch extends and shortens expiry': ['set a 0 2 1\r\nx\r\nset b 0 100 1\r\ny\r\ntouch a 100\r\ntouch b 2\r\n', { send: 'get a b\r\n', sleep: 3200 }],
  'flush_all at once, with 0, with -1, and its effect on CAS uniques': ['set a 0 0 1\r\nx\r\nflush_all\r\nget a\r\nset b 0 0 1\r\ny\r\ngets b\r\nflush_all 0\r\nget b\r\nset c 0 0 1\r\nz\r\nflush_all -1\r\nget c\r\nset d 0 0 1\r\nw\r\ngets d\r\n'],
  'flush_all 1 is at once': ['set a 0 0 1\r\nx\r\nflush_all 1\r\nget a\r\n'],
  'delayed flush_all also removes items stored while pending': ['set a 0 0 1\r\nx\r\nflush_all 3\r\nget a\r\n', { send: 'set b 0 0 1\r\ny\r\nget a b\r\n', sleep: 1200 }, { send: 'get a b\r\nset c 0 0 1\r\nz\r\nget c\r\n', sleep: 2500 }],
  'flush_all forms': ['flush_all\r\nflush_all 0\r\nflush_all noreply\r\nflush_all x\r\nflush_all -1\r\nflush_all 10 noreply\r\nflush_all 1 2\r\nflush_all 1 2 3\r\nflush_all noreply 10\r\nversion\r\n'],
  'verbosity forms': ['verbosity\r\nverbosity 1\r\nverbosity noreply\r\nverbosity foo bar my\r\nverbosity foo\r\nverbosity 1 noreply\r\nverbosity 4294967296\r\nversion\r\n'],
  'unknown commands and case': ['GET k\r\nfoo\r\ng\r\nxy\r\n\r\n\n \r\nsets k\r\ngetx k\r\nversion\r\n'],
  'stats groups we both lack, and stats reset': ['stats noreply\r\nstats nonsense\r\nstats reset\r\nversion\r\n'],
  'quit ends the connection after earlier replies': ['set a 0 0 1\r\nx\r\nget a\r\nquit\r\nget a\r\n'],
  'bget is get': ['set a 0 0 1\r\nx\r\nbget a nope\r\n'],
  'a NUL ends the line': ['set a 0 0 1\r\nx\r\nget a\0 junk\r\n'],
  'tab is not a separator': ['set a 0 0 1\r\nx\r\nget\ta\r\nget a\t\r\n'],
  'many keys in one get (past the 24-token tokenizer window)': ['set k3 0 0 1\r\n3\r\nset k29 0 0 2\r\n29\r\n' + 'get ' + Array.from({ length: 30 }, (_, i) => `k${i}`).join(' ') + '\r\n'],
  'storage command with more than 24 tokens': ['set k 0 0 1' + ' x'.repeat(25) + '\r\nv\r\n'],
  'pipelined mix in one read': ['set a 0 0 1\r\n1\r\nincr a 1\r\nget a\r\ndelete a\r\nget a\r\nadd a 0 0 2\r\n10\r\ndecr a 3\r\ngets a\r\n'],
  'value at the size limit is stored': [`set k 0 0 ${MAX_V}\r\n${big(MAX_V)}\r\nset f 1 0 ${MAX_V - 4}\r\n${big(MAX_V - 4)}\r\nversion\r\n`],
  'value one byte over the limit: SERVER_ERROR, swallowed, old item of a set dropped': [`set k 0 0 1\r\nv\r\nset k 0 0 ${MAX_V + 1}\r\n${big(MAX_V + 1)}\r\nget k\r\nset f 0 0 1\r\nv\r\nset f 1 0 ${MAX_V - 3}\r\n${big(MAX_V - 3)}\r\nget f\r\n`],
  'oversized add, replace, append, cas keep the old item': [`set k 0 0 1\r\nv\r\nadd k 0 0 ${MAX_V + 1}\r\n${big(MAX_V + 1)}\r\nreplace k 0 0 ${MAX_V + 1}\r\n${big(MAX_V + 1)}\r\nappend k 0 0 ${MAX_V + 1}\r\n${big(MAX_V + 1)}\r\ncas k 0 0 ${MAX_V + 1} 1\r\n${big(MAX_V + 1)}\r\nget k\r\n`],
  'oversized set under noreply is silent but still drops the old item': [`set k 0 0 1\r\nv\r\nset k 0 0 ${MAX_V + 1} noreply\r\n${big(MAX_V + 1)}\r\nget k\r\n`],
  'oversized value arriving in pieces is swallowed': ['set k 0 0 2000000\r\n', big(700000), big(700000), big(600002) + 'get k\r\n'],
  'append past the size limit is NOT_STORED': [`set k 0 0 ${MAX_V - 10}\r\n${big(MAX_V - 10)}\r\nappend k 0 0 11\r\n${big(11, 'y')}\r\nappend k 0 0 10\r\n${big(10, 'y')}\r\nversion\r\n`],
};

const binaryCases = {
  'set, get, getk, getq, getkq, hit and miss': [b.set('a', 'hello', { flags: 7 }) + b.get('a') + b.getk('a') + b.getq('a') + b.getkq('a') + b.get('nope') + b.getk('nope') + b.getq('nope') + b.getkq('nope') + b.noop()],
  'add, replace, delete: their error statuses': [b.add('a', '1') + b.add('a', '2') + b.replace('nope', 'x') + b.replace('a', '3') + b.del('nope') + b.del('a') + b.get('a')],
  'set with a CAS: match, mismatch, missing key': [b.set('a', '1') + b.set('a', '2', { cas: 1n }) + b.set('a', '3', { cas: 1n }) + b.set('nope', 'x', { cas: 5n }) + b.add('a', '4', { cas: 2n }) + b.replace('a', '5', { cas: 3n }) + b.get('a')],
  'incr and decr: seed, count, floor, no-create, non-numeric, wrap': [
    b.incr('c', 1, 0, 0) + b.incr('c', 1, 0, 0) + b.incr('c', 10, 0, 0) + b.decr('d', 1, 9, 0) + b.decr('d', 100, 9, 0) + b.decr('d', 1, 9, 0) +
      b.incr('none', 1, 5, 0xffffffff) + b.set('s', 'abc') + b.incr('s', 1, 0, 0) + b.set('w', '18446744073709551615') + b.incr('w', 2, 0, 0) + b.get('w') + b.get('c'),
  ],
  'incr with a CAS': [b.set('n', '5') + b.incr('n', 1, 0, 0, { cas: 1n }) + b.incr('n', 1, 0, 0, { cas: 1n }) + b.incr('n', 1, 0, 0, { cas: 2n })],
  'append and prepend: ok, missing, CAS mismatch': [b.set('a', 'hello', { flags: 3 }) + b.append('a', ' world') + b.prepend('a', '>') + b.get('a') + b.append('nope', 'x') + b.prepend('nope', 'x') + b.append('a', 'z', { cas: 1n }) + b.append('a', '!', { cas: 3n }) + b.get('a')],
  'quiet commands are silent on success, loud on failure': [
    b.setq('a', '1') + b.addq('a', '2') + b.replaceq('nope', '3') + b.appendq('a', '4') + b.prependq('a', '0') + b.incrq('n', 1, 5, 0) + b.decrq('n', 1, 0, 0) + b.delq('nope') + b.delq('a') + b.appendq('nope', 'x') + b.get('n') + b.flushq() + b.get('n') + b.noop(),
  ],
  'version and noop': [b.version() + b.noop({ opaque: 7 })],
  'flush with and without a delay': [b.set('a', '1') + b.flush() + b.get('a') + b.set('b', '2') + b.flushDelay(2) + b.get('b'), { send: b.get('b') + b.set('c', '3') + b.get('c'), sleep: 2200 }],
  'touch, gat, gatk and their quiet forms': [b.set('a', 'v', { flags: 9 }) + b.touch('a', 100) + b.touch('nope', 1) + b.gat('a', 100) + b.gatk('a', 100) + b.gatq('a', 0) + b.gatkq('a', 0) + b.gat('nope', 1) + b.gatk('nope', 1) + b.gatq('nope', 1) + b.gatkq('nope', 1) + b.noop()],
  'touch to -1 (0xffffffff: far future) and gat to 1 second': [b.set('a', 'v') + b.touch('a', 0xffffffff) + b.set('b', 'w') + b.gat('b', 1), { send: b.get('a') + b.get('b'), sleep: 2200 }],
  'delete with a CAS': [b.set('a', '1') + b.del('a', { cas: 5n }) + b.del('a', { cas: 1n }) + b.get('a')],
  'unknown opcodes are answered and skipped': [pkt(0x1b) + pkt(0x50) + pkt(0x20) + b.version()],
  'set with wrong extras: EINVAL, then closed': [pkt(1, { key: 'a', extras: u32(0), value: 'x' }) + b.version()],
  'get with a value: EINVAL, then closed': [pkt(0, { key: 'a', value: 'x' }) + b.version()],
  'key over 250 bytes: EINVAL, then closed': [b.get(K251) + b.version()],
  'key length beyond the body: unknown command, then closed': [pkt(0, { keylen: 5, bodylen: 3, key: 'abc' }) + b.version()],
  // A first byte other than 0x80 would make the connection a text one: start with a NOOP.
  'bad magic closes at once': [b.noop() + pkt(0, { magic: 0x81, key: 'a' }) + b.version()],
  'value over the limit: E2BIG, swallowed; a set drops the old item': [b.set('k', 'v') + b.set('k', big(MAX_V + 1)) + b.get('k') + b.set('f', 'w') + b.add('f', big(MAX_V + 1)) + b.append('f', big(MAX_V + 4)) + b.get('f') + b.set('m', big(MAX_V)) + b.noop()],
  'quit replies then closes; quitq closes silently': [b.noop() + b.quit() + b.noop()],
  'quitq closes silently': [b.noop() + b.quitq() + b.noop()],
  'stat groups: unknown and reset': [b.stat('nonsense') + b.stat('reset') + b.noop()],
  'packets split across reads': [b.set('a', 'hello').slice(0, 10), b.set('a', 'hello').slice(10, 30) , b.set('a', 'hello').slice(30) + b.get('a').slice(0, 23), b.get('a').slice(23)],
};

// ---- recording ----
function startMemcached() {
  const argv = ['-l', '127.0.0.1', '-p', String(PORT), '-U', '0', '-m', '64', '-t', '1'];
  if (process.getuid?.() === 0) argv.push('-u', 'nobody');
  const child = spawn(MEMCACHED, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  return { child, err: () => err };
}

async function connect() {
  for (let i = 0; i < 100; i++) {
    const sock = await new Promise((resolve) => {
      const s = net.connect(PORT, '127.0.0.1');
      s.once('connect', () => resolve(s));
      s.once('error', () => resolve(null));
    });
    if (sock) return sock;
    await sleep(20);
  }
  throw new Error(`memcached did not accept connections on 127.0.0.1:${PORT}`);
}

async function runCase(steps) {
  const mc = startMemcached();
  try {
    const sock = await connect();
    const got = [];
    let closed = false;
    sock.on('data', (d) => got.push(d));
    sock.on('close', () => (closed = true));
    sock.on('error', () => {});
    for (const step of steps) {
      if (step.sleep) await sleep(step.sleep);
      if (!closed) sock.write(Buffer.from(step.send, 'latin1'));
      await sleep(GAP_MS);
    }
    // Wait until memcached has said all it will (or closed).
    let last = -1;
    for (let i = 0; i < 100 && !closed; i++) {
      await sleep(150);
      const n = got.reduce((a, c) => a + c.length, 0);
      if (n === last) break;
      last = n;
    }
    sock.destroy();
    return { reply: Buffer.concat(got).toString('latin1'), closed };
  } finally {
    mc.child.kill('SIGTERM');
    await new Promise((r) => (mc.child.exitCode !== null ? r() : mc.child.once('exit', r)));
  }
}

/** Long runs of one char are stored as [char, count] to keep the file small. */
function pack(s) {
  const parts = [];
  let i = 0;
  let lit = '';
  while (i < s.length) {
    let j = i;
    while (j < s.length && s[j] === s[i]) j++;
    if (j - i >= 64) {
      if (lit) parts.push(lit);
      lit = '';
      parts.push([s[i], j - i]);
    } else lit += s.slice(i, j);
    i = j;
  }
  if (lit || parts.length === 0) parts.push(lit);
  return parts;
}

const version = execFileSync(MEMCACHED, ['-V']).toString().trim();
const cases = [];
// With --only, the other cases keep what was recorded before.
const kept = ONLY && existsSync(OUT) ? JSON.parse(readFileSync(OUT, 'utf8')).cases : [];
for (const [protocol, table] of [['text', textCases], ['binary', binaryCases]]) {
  for (const [name, raw] of Object.entries(table)) {
    if (ONLY && !name.includes(ONLY)) {
      const old = kept.find((c) => c.protocol === protocol && c.name === name);
      if (old) cases.push(old);
      continue;
    }
    const steps = raw.map((s) => (typeof s === 'string' ? { send: s } : s));
    const { reply, closed } = await runCase(steps);
    cases.push({ protocol, name, steps: steps.map((s) => ({ ...(s.sleep ? { sleep: s.sleep } : {}), send: pack(s.send) })), reply: pack(reply), closed });
    process.stderr.write(`${protocol} ${name}: ${reply.length} bytes${closed ? ', closed' : ''}\n`);
  }
}
writeFileSync(
  OUT,
  JSON.stringify({ recordedWith: version, note: 'Recorded by scripts/record-memcached-fixtures.mjs: each case on a fresh memcached (-m 64 -t 1 -U 0, default -I 1m). Strings are latin1; [c, n] is c repeated n times.', gapMs: GAP_MS, cases }, null, 1) + '\n',
);
process.stderr.write(`wrote ${cases.length} cases to ${OUT}\n`);
