import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KvStore, Rng, TextProtocol, type Parsed, type TextRequest } from '../src/index.js';
import { latin1, OneNode, str, text } from './harness.js';

const node = (opts: ConstructorParameters<typeof OneNode>[0] = {}) => new OneNode({ protocol: 'text', ...opts });
const parse = (input: string): Parsed<TextRequest>[] => new TextProtocol().push(latin1(input));

describe('text protocol: each command', () => {
  it.each([
    ['set', 'set k 1 0 2\r\nab\r\n', 'STORED\r\n'],
    ['add', 'add k 0 0 1\r\nx\r\nadd k 0 0 1\r\ny\r\n', 'STORED\r\nNOT_STORED\r\n'],
    ['replace', 'replace k 0 0 1\r\nx\r\nset k 0 0 1\r\nx\r\nreplace k 0 0 1\r\ny\r\n', 'NOT_STORED\r\nSTORED\r\nSTORED\r\n'],
    ['append/prepend', 'set k 3 0 1\r\nb\r\nappend k 0 0 1\r\nc\r\nprepend k 0 0 1\r\na\r\nget k\r\n', 'STORED\r\nSTORED\r\nSTORED\r\nVALUE k 3 3\r\nabc\r\nEND\r\n'],
    ['cas', 'set k 0 0 1\r\nx\r\ncas k 0 0 1 1\r\ny\r\ncas k 0 0 1 1\r\nz\r\ncas q 0 0 1 1\r\nz\r\n', 'STORED\r\nSTORED\r\nEXISTS\r\nNOT_FOUND\r\n'],
    ['get/gets', 'set k 7 0 1\r\nx\r\nget k q k\r\ngets k\r\n', 'STORED\r\nVALUE k 7 1\r\nx\r\nVALUE k 7 1\r\nx\r\nEND\r\nVALUE k 7 1 1\r\nx\r\nEND\r\n'],
    ['gat/gats', 'set k 0 0 1\r\nx\r\ngat 10 k\r\ngats 10 k q\r\n', 'STORED\r\nVALUE k 0 1\r\nx\r\nEND\r\nVALUE k 0 1 1\r\nx\r\nEND\r\n'],
    ['touch', 'set k 0 0 1\r\nx\r\ntouch k 10\r\ntouch q 10\r\n', 'STORED\r\nTOUCHED\r\nNOT_FOUND\r\n'],
    ['delete', 'set k 0 0 1\r\nx\r\ndelete k\r\ndelete k\r\n', 'STORED\r\nDELETED\r\nNOT_FOUND\r\n'],
    ['incr/decr', 'set k 0 0 1\r\n5\r\nincr k 10\r\ndecr k 20\r\nincr q 1\r\n', 'STORED\r\n15\r\n0\r\nNOT_FOUND\r\n'],
    ['flush_all', 'set k 0 0 1\r\nx\r\nflush_all\r\nget k\r\n', 'STORED\r\nOK\r\nEND\r\n'],
    ['version', 'version\r\n', 'VERSION 1.6.18\r\n'],
    ['verbosity', 'verbosity 1\r\n', 'OK\r\n'],
    ['stats reset', 'stats reset\r\n', 'RESET\r\n'],
  ])('%s', (_name, input, reply) => {
    expect(text(node(), input)).toBe(reply);
  });

  it('stats: STAT lines from the store and the server, then END', () => {
    const n = node();
    text(n, 'set a 0 0 1\r\nx\r\nget a b\r\n');
    const out = text(n, 'stats\r\n');
    expect(out).toMatch(/^(STAT [a-z_]+ [^\r\n]+\r\n)+END\r\n$/);
    expect(out).toContain('STAT curr_items 1\r\n');
    expect(out).toContain('STAT cmd_set 1\r\n');
    expect(out).toContain('STAT get_hits 1\r\n');
    expect(out).toContain('STAT get_misses 1\r\n');
  });

  it('quit closes after the replies before it', () => {
    const n = node();
    expect(text(n, 'version\r\nquit\r\nversion\r\n')).toBe('VERSION 1.6.18\r\n');
    expect(n.closed).toBe(true);
  });

  it('parses into the shared command language', () => {
    expect(parse('cas k 4294967296 -1 1 18446744073709551615 noreply\r\nv\r\n')).toEqual([
      { type: 'request', request: { command: { op: 'cas', key: 'k', flags: 0, exptime: -1, value: latin1('v'), cas: 2n ** 64n - 1n }, noreply: true, withCas: false } },
    ]);
    expect(parse('gats 5 a b\r\ndelete a noreply\r\nincr a 7\r\n').map((p) => p.type === 'request' && p.request)).toEqual([
      { command: { op: 'gat', exptime: 5, keys: ['a', 'b'] }, noreply: false, withCas: true },
      { command: { op: 'delete', key: 'a' }, noreply: true, withCas: false },
      { command: { op: 'incr', key: 'a', delta: 7n }, noreply: false, withCas: false },
    ]);
  });
});

describe('text protocol: each error, as memcached answers it', () => {
  it.each([
    ['unknown command', 'bogus\r\n', 'ERROR\r\n'],
    ['a command of one letter', 'g\r\n', 'ERROR\r\n'],
    ['upper case', 'GET k\r\n', 'ERROR\r\n'],
    ['an empty line', '\r\n', 'ERROR\r\n'],
    ['too few tokens', 'set k 0 0\r\n', 'ERROR\r\n'],
    ['get without keys', 'get\r\n', 'ERROR\r\n'],
    ['a key over 250 bytes', `delete ${'k'.repeat(251)}\r\n`, 'CLIENT_ERROR bad command line format\r\n'],
    ['bad flags', 'set k x 0 1\r\nv\r\n', 'CLIENT_ERROR bad command line format\r\nERROR\r\n'],
    ['a negative length', 'set k 0 0 -1\r\n', 'CLIENT_ERROR bad command line format\r\n'],
    ['a bad cas unique', 'cas k 0 0 1 x\r\nv\r\n', 'CLIENT_ERROR bad command line format\r\nERROR\r\n'],
    ['a bad data chunk', 'set k 0 0 1\r\nvv\r\n', 'CLIENT_ERROR bad data chunk\r\nERROR\r\n'],
    ['a bad exptime', 'touch k x\r\n', 'CLIENT_ERROR invalid exptime argument\r\n'],
    ['a bad gat exptime', 'gat x k\r\n', 'CLIENT_ERROR invalid exptime argument\r\n'],
    ['a bad flush delay', 'flush_all x\r\n', 'CLIENT_ERROR invalid exptime argument\r\n'],
    ['a bad delta', 'incr k -1\r\n', 'CLIENT_ERROR invalid numeric delta argument\r\n'],
    ['incr of a non-number', 'set k 0 0 1\r\nx\r\nincr k 1\r\n', 'STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n'],
    ['delete with a hold time', 'delete k 5\r\n', 'CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n'],
    ['bad verbosity', 'verbosity x\r\n', 'CLIENT_ERROR bad command line format\r\n'],
    ['an unknown stats group', 'stats slabs\r\n', 'ERROR\r\n'],
    ['a value over the limit', `set k 0 0 ${1 << 20}\r\n${'x'.repeat(1 << 20)}\r\nversion\r\n`, 'SERVER_ERROR object too large for cache\r\nVERSION 1.6.18\r\n'],
  ])('%s', (_name, input, reply) => {
    expect(text(node(), input)).toBe(reply);
  });

  it('noreply silences errors too, except the server’s own failures', () => {
    expect(text(node(), 'set k x 0 1 noreply\r\nincr k -1 noreply\r\nversion\r\n')).toBe('VERSION 1.6.18\r\n');
  });

  it('meta commands are not served: ERROR (memcached 1.6 has them; memcapable does not use them)', () => {
    expect(text(node(), 'mn\r\nmg k v\r\n')).toBe('ERROR\r\nERROR\r\n');
  });

  it('deviation: a line over the limit gets CLIENT_ERROR line too long and is skipped (memcached closes)', () => {
    const n = node();
    expect(text(n, `set ${'k'.repeat(3000)}`)).toBe('CLIENT_ERROR line too long\r\n');
    expect(text(n, ' 0 0 1\r\nversion\r\n')).toBe('VERSION 1.6.18\r\n');
    expect(n.closed).toBe(false);
    // Complete lines are judged the same way, however they arrive.
    expect(text(node(), `touch ${'k'.repeat(3000)} 1\r\nversion\r\n`)).toBe('CLIENT_ERROR line too long\r\nVERSION 1.6.18\r\n');
  });

  it('multi-key gets may be long lines', () => {
    const keys = Array.from({ length: 2000 }, (_, i) => `key-number-${i}`);
    const n = node();
    text(n, 'set key-number-1999 0 0 1\r\nx\r\n');
    expect(text(n, `get ${keys.join(' ')}\r\n`)).toBe('VALUE key-number-1999 0 1\r\nx\r\nEND\r\n');
  });

  it('deviation: an HTTP request line gets ERROR (memcached closes)', () => {
    const n = node();
    expect(text(n, 'GET / HTTP/1.1\r\nversion\r\n')).toBe('ERROR\r\nVERSION 1.6.18\r\n');
  });

  it('deviation: a long key in a get fails that get only (memcached also drops replies queued before it in the same read)', () => {
    expect(text(node(), `set a 0 0 1\r\nx\r\nget a ${'k'.repeat(251)}\r\nget a\r\n`)).toBe('STORED\r\nCLIENT_ERROR bad command line format\r\nVALUE a 0 1\r\nx\r\nEND\r\n');
  });

  it('shows session failures despite noreply (they are the server’s, not the client’s)', () => {
    const p = new TextProtocol();
    const req: TextRequest = { command: { op: 'set', key: 'k', flags: 0, exptime: 0, value: latin1('x') }, noreply: true, withCas: false };
    expect(str(p.encode(req, { status: 'session_busy', id: 3, seq: 9 }))).toBe('SERVER_ERROR session 3 has too many unacknowledged requests; nothing was applied\r\n');
    expect(str(p.encode(req, { status: 'stored', cas: 1 }))).toBe('');
    expect(() => p.encode(req, { kind: 'ok' })).toThrow(/answered with a server reply/);
  });

  it('uses the configured item size limit', () => {
    const n = node({ itemSizeMax: 100 });
    expect(text(n, `set k 0 0 41\r\n${'x'.repeat(41)}\r\nset k 0 0 40\r\n${'x'.repeat(40)}\r\n`)).toBe('SERVER_ERROR object too large for cache\r\nSTORED\r\n');
  });

  it('out of memory with evictions off (-M): memcached\'s words for a store and for a counter, none with noreply', () => {
    // Two items of 100 bytes by memcached's accounting fill the 200: a (a 1-byte key, 40 bytes) and
    // a counter of 19 nines under a 22-byte key.
    const n = node({ itemSizeMax: 100, memoryLimit: 200, evictions: false });
    const forty = 'x'.repeat(40);
    const counter = 'n'.repeat(22);
    expect(text(n, `set a 0 0 40\r\n${forty}\r\nset ${counter} 0 0 19\r\n${'9'.repeat(19)}\r\nset c 0 0 1\r\nx\r\nset c 0 0 1 noreply\r\nx\r\n`)).toBe(
      'STORED\r\nSTORED\r\nSERVER_ERROR out of memory storing object\r\n',
    );
    // Plus one is 20 digits: a new item, a byte larger.
    expect(text(n, `incr ${counter} 1\r\nstats\r\n`)).toMatch(/^SERVER_ERROR out of memory\r\n[^]*STAT limit_maxbytes 200\r\n[^]*STAT evictions 0\r\n/);
  });

  it('evictions show in stats', () => {
    const n = node({ itemSizeMax: 100, memoryLimit: 200 });
    const forty = 'x'.repeat(40);
    expect(text(n, `set a 0 0 40\r\n${forty}\r\nset b 0 0 40\r\n${forty}\r\nset c 0 0 40\r\n${forty}\r\nget a c\r\n`)).toBe(`STORED\r\nSTORED\r\nSTORED\r\nVALUE c 0 40\r\n${forty}\r\nEND\r\n`);
    expect(text(n, 'stats\r\n')).toMatch(/STAT bytes 200\r\n[^]*STAT evictions 1\r\n/);
  });
});

describe('text protocol: pipelining and chunking', () => {
  const pipeline = (rng: Rng): string => {
    const parts: string[] = [];
    for (let i = 0; i < 30; i++) {
      const k = `k${rng.int(4)}`;
      const v = 'x'.repeat(rng.int(5));
      parts.push(
        rng.pick([
          `set ${k} ${rng.int(3)} 0 ${v.length}\r\n${v}\r\n`,
          `append ${k} 0 0 ${v.length} noreply\r\n${v}\r\n`,
          `get ${k} k0\r\n`,
          `gets ${k}\r\n`,
          `incr ${k} 3\r\n`,
          `delete ${k}\r\n`,
          `set ${k} 0 0 1\r\nbad\r\n`,
          `bogus line\r\n`,
          `set ${k} 0 0 ${300}\r\n${'y'.repeat(300)}\r\n`,
          `touch ${k} 5 noreply\r\n`,
        ]),
      );
    }
    return parts.join('');
  };

  it('gives the same replies whatever the chunk boundaries', () => {
    fc.assert(
      fc.property(fc.integer(), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 50 }), (seed, sizes) => {
        const input = latin1(pipeline(new Rng(seed)));
        const whole = str(new OneNode({ protocol: 'text' }).send(input));
        const n = new OneNode({ protocol: 'text' });
        let out = '';
        let at = 0;
        for (let i = 0; at < input.length; i++) {
          const size = sizes[i % sizes.length] as number;
          out += str(n.send(input.subarray(at, at + size)));
          at += size;
        }
        expect(out).toBe(whole);
      }),
      { numRuns: 100 },
    );
  });

  it('swallows an oversized value arriving in many chunks without holding it', () => {
    const n = new OneNode({ protocol: 'text' }, new KvStore());
    // The reply can go at once (memcached sends it once the value is swallowed; the order is the same).
    expect(text(n, 'set k 0 0 5000000\r\n')).toBe('SERVER_ERROR object too large for cache\r\n');
    for (let i = 0; i < 50; i++) expect(text(n, 'z'.repeat(100_000))).toBe('');
    expect(text(n, '\r\nversion\r\n')).toBe('VERSION 1.6.18\r\n');
  });
});

describe('text protocol: cost', () => {
  it('scans a line that arrives a byte at a time once, not once per byte', () => {
    // A 1 MiB multi-get dripped in 4-byte pieces: quadratic rescanning would take minutes.
    const line = latin1(`get ${Array.from({ length: 80_000 }, (_, i) => `k${i}`).join(' ')}\r\n`);
    const p = new TextProtocol();
    let items: Parsed<TextRequest>[] = [];
    for (let i = 0; i < line.length; i += 4) items = items.concat(p.push(line.subarray(i, i + 4)));
    expect(items).toHaveLength(1);
    expect(items[0]?.type === 'request' && items[0].request.command.op).toBe('get');
  });
});

describe("text protocol: the server's own failures", () => {
  it('answer any request with one SERVER_ERROR line, despite noreply, with CR and LF taken out of the message', () => {
    const p = new TextProtocol();
    const items = p.push(latin1('set k 0 0 1 noreply\r\nx\r\nget k\r\n'));
    const out = items.map((it) => (it.type === 'request' ? str(p.encode(it.request, { kind: 'server_error', message: 'no quorum\r\nfor 5 s', temporary: true })) : ''));
    expect(out).toEqual(['SERVER_ERROR no quorum for 5 s\r\n', 'SERVER_ERROR no quorum for 5 s\r\n']);
  });
});
