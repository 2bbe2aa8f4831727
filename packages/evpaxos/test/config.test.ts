import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, formatAddress, parseConfig, readConfig, resolveConfig } from '../src/config.js';

const P = '/etc/paxos.conf';

describe('paxos.conf', () => {
  it('Replicas: three replica lines give ports 8800–8802 for both roles, and LibPaxos3 defaults', () => {
    const c = parseConfig('replica 0 127.0.0.1 8800\nreplica 1 127.0.0.1 8801\nreplica 2 127.0.0.1 8802\n', P);
    expect(c.acceptors.map((a) => a.port)).toEqual([8800, 8801, 8802]);
    expect(c.proposers.map((a) => a.port)).toEqual([8800, 8801, 8802]);
    expect(c.replicas).toBe(true);
    expect(c).toMatchObject({
      verbosity: 'info',
      tcpNodelay: true,
      learnerCatchUp: true,
      proposerTimeout: 1,
      proposerPreexecWindow: 128,
      storageBackend: 'memory',
      acceptorTrashFiles: false,
      lmdbSync: false,
      lmdbEnvPath: '/tmp/acceptor',
      lmdbMapsize: 10 * 1024 * 1024,
    });
  });

  it('reads every LibPaxos3 key, its aliases, case-insensitive keys and size units', () => {
    const c = parseConfig(
      [
        '# comment',
        '',
        'a 0 127.0.0.1 8800',
        'A 1 127.0.0.1 8801',
        'p 0 127.0.0.1 5550',
        'VERBOSITY debug',
        'tcp-nodelay no',
        'learner-catch-up no',
        'proposer-timeout 3',
        'proposer-preexec-window 16',
        'storage-backend lmdb',
        'acceptor-trash-files yes',
        'lmdb-sync yes',
        'lmdb-env-path /var/paxos/acc',
        'lmdb-mapsize 64 MB',
      ].join('\n'),
      P,
    );
    expect(c.acceptors).toHaveLength(2);
    expect(c.proposers).toEqual([{ host: '127.0.0.1', port: 5550, where: `${P}:5`, name: 'proposer-0' }]);
    expect(c.acceptors.map((a) => a.name)).toEqual(['acceptor-0', 'acceptor-1']);
    expect(c).toMatchObject({
      verbosity: 'debug',
      tcpNodelay: false,
      learnerCatchUp: false,
      proposerTimeout: 3,
      proposerPreexecWindow: 16,
      storageBackend: 'lmdb',
      acceptorTrashFiles: true,
      lmdbSync: true,
      lmdbEnvPath: '/var/paxos/acc',
      lmdbMapsize: 64 * 1024 * 1024,
    });
    expect(parseConfig('lmdb-mapsize 512kb').lmdbMapsize).toBe(512 * 1024);
    expect(parseConfig('lmdb-mapsize 2 gb').lmdbMapsize).toBe(2 * 1024 ** 3);
    expect(parseConfig('').lmdbPageSize).toBe(4096);
    expect(parseConfig('lmdb-page-size 8kb').lmdbPageSize).toBe(8192);
    expect(parseConfig('').lmdbSegmentInstances).toBe(16_384);
    expect(parseConfig('lmdb-segment-instances 256').lmdbSegmentInstances).toBe(256);
  });

  it('accepts what crashes LibPaxos3 where the meaning is clear: tabs, lines of spaces, indented comments', () => {
    const c = parseConfig('acceptor\t0\t127.0.0.1\t8800\n   \n  # indented\nverbosity\terror\n', P);
    expect(c.acceptors).toHaveLength(1);
    expect(c.verbosity).toBe('error');
  });

  it('warns when an id does not match its position, which LibPaxos3 silently ignores', () => {
    const c = parseConfig('acceptor 5 127.0.0.1 8800\n', P);
    expect(c.warnings).toEqual([`${P}:1: id 5 is ignored; as in LibPaxos3 this process is number 0, its position in the file`]);
  });

  it.each([
    ['a key without a value (crashes LibPaxos3)', 'verbosity', /:1: 'verbosity' needs a value/],
    ['a bare acceptor (crashes LibPaxos3)', 'acceptor', /:1: 'acceptor' needs '<id> <host> <port>'/],
    ['an unknown key, with a suggestion', 'proposer-timout 2', /:1: unknown key 'proposer-timout'; did you mean 'proposer-timeout'\?/],
    ['an Object.prototype name as a key', 'constructor 0 127.0.0.1 8800', /:1: unknown key 'constructor'/],
    ['__proto__ as a key', '__proto__ 1', /:1: unknown key '__proto__'/],
    ['trailing junk after a number (LibPaxos3 reads 3)', 'proposer-preexec-window 3s', /:1: proposer-preexec-window: expected a whole number of instances, got '3s'/],
    ['a unit that is not ms or s', 'proposer-timeout 3m', /:1: proposer-timeout: expected a duration such as 2 \(seconds\), 2s or 250ms, got '3m'/],
    ['a timeout under 10 ms', 'proposer-timeout 5ms', /:1: proposer-timeout: expected 10 ms to 86400 s, got '5ms'/],
    ['a negative number', 'proposer-timeout -1', /expected a duration/],
    ['window 0 (LibPaxos3 never proposes)', 'proposer-preexec-window 0', /:1: proposer-preexec-window: must be at least 1; with 0 the proposer never/],
    ['a boolean other than yes/no', 'lmdb-sync true', /:1: lmdb-sync: expected yes or no, got 'true'/],
    ['a bad size unit', 'lmdb-mapsize 10 tb', /expected a size/],
    ['segments of no instances', 'lmdb-segment-instances 0', /:1: lmdb-segment-instances: expected 1 to 16777216 instances, got 0/],
    ['pages above 8 KiB', 'lmdb-page-size 16kb', /:1: lmdb-page-size: expected 4kb or 8kb, got '16kb' \(larger pages meet a page-split failure in the LMDB that lmdb-js ships, LMDB ITS#9806\)/],
    ['a bad IPv4 address', 'acceptor 0 127.0.0.300 8800', /'127\.0\.0\.300' is not a dotted IPv4 address: four numbers from 0 to 255/],
    ['an IPv6 address without brackets', 'acceptor 0 ::1 8800', /write the IPv6 address '::1' in brackets: \[::1\]/],
    ['a bad IPv6 address', 'acceptor 0 [::g] 8800', /'\[::g\]' is not an IPv6 address in brackets/],
    ['a host name with a bad character', 'acceptor 0 db_1.example.org 8800', /'db_1\.example\.org' is neither a dotted IPv4 address .* nor a host name/],
    ['the same IPv6 address twice', 'acceptor 0 [::1] 8800\nacceptor 1 [::1] 8800', /:2: \[::1\]:8800 is already used by .*:1/],
    ['only some TLS keys', 'tls-ca ca.crt\ntls-key k.key', /:1: TLS needs tls-ca, tls-cert and tls-key together; tls-cert is missing/],
    ['an unknown log format', 'log-format xml', /:1: log-format: expected text .* or json/],
    ['a metrics port out of range', 'metrics-port 70000', /:1: metrics-port: expected a port number from 1 to 65535, got '70000'/],
    ['a port out of range', 'acceptor 0 127.0.0.1 70000', /port '70000' is not a number from 1 to 65535/],
    ['text after the port', 'acceptor 0 127.0.0.1 8800 extra', /unexpected 'extra' after the port/],
    ['an id that is not a number', 'acceptor x 127.0.0.1 8800', /id 'x' is not a whole number/],
    ['a duplicate address', 'acceptor 0 127.0.0.1 8800\nproposer 0 127.0.0.1 8800', /:2: 127.0.0.1:8800 is already used by .*:1/],
    ['an unknown verbosity', 'verbosity loud', /expected quiet, error, info or debug/],
  ])('refuses %s with path:line', (_name, text, error) => {
    expect(() => parseConfig(text, P)).toThrow(ConfigError);
    expect(() => parseConfig(text, P)).toThrow(new RegExp(`^${P}:`));
    expect(() => parseConfig(text, P)).toThrow(error);
  });

  it('leadership keys: off by default; lease and margin take seconds, 2s or 250ms, the margin a tenth of the lease by default', () => {
    const base = 'replica 0 127.0.0.1 8800\n';
    expect(parseConfig(base, P)).toMatchObject({ leader: false, leaderLeaseMs: 2000, leaderDriftMarginMs: 200 });
    expect(parseConfig(`${base}leader yes\nleader-lease 3\n`, P)).toMatchObject({ leader: true, leaderLeaseMs: 3000, leaderDriftMarginMs: 300 });
    expect(parseConfig(`${base}leader-lease 800ms\nleader-drift-margin 50ms\n`, P)).toMatchObject({ leaderLeaseMs: 800, leaderDriftMarginMs: 50 });
    expect(parseConfig(`${base}leader-lease 2s\n`, P)).toMatchObject({ leaderLeaseMs: 2000 });
    expect(() => parseConfig(`${base}leader-lease 2 minutes\n`, P)).toThrow(/paxos.conf:2: leader-lease: expected a duration such as 2 \(seconds\), 2s or 250ms, got '2 minutes'/);
    expect(() => parseConfig(`${base}leader-lease 10ms\n`, P)).toThrow(/leader-lease: expected 50 ms to 3600 s, got '10ms'/);
    expect(() => parseConfig(`${base}leader-lease 1s\nleader-drift-margin 600ms\n`, P)).toThrow(/leader-drift-margin 600 ms is more than half of leader-lease 1000 ms/);
    expect(() => parseConfig(`${base}leader maybe\n`, P)).toThrow(/leader: expected yes or no, got 'maybe'/);
  });

  it('accepted-digests: on by default, off with no, anything else refused with its line', () => {
    const base = 'replica 0 127.0.0.1 8800\n';
    expect(parseConfig(base, P)).toMatchObject({ acceptedDigests: true });
    expect(parseConfig(`${base}accepted-digests no\n`, P)).toMatchObject({ acceptedDigests: false });
    expect(parseConfig(`${base}accepted-digests yes\n`, P)).toMatchObject({ acceptedDigests: true });
    expect(() => parseConfig(`${base}accepted-digests off\n`, P)).toThrow(/paxos.conf:2: accepted-digests: expected yes or no, got 'off'/);
  });

  it('accepted-digests-min-value-size: 2 KiB by default, a size in bytes or with a unit, anything else refused with its line', () => {
    const base = 'replica 0 127.0.0.1 8800\n';
    expect(parseConfig(base, P)).toMatchObject({ acceptedDigestsMinValueSize: 2048 });
    expect(parseConfig(`${base}accepted-digests-min-value-size 256\n`, P)).toMatchObject({ acceptedDigestsMinValueSize: 256 });
    expect(parseConfig(`${base}accepted-digests-min-value-size 8 kb\n`, P)).toMatchObject({ acceptedDigestsMinValueSize: 8192 });
    expect(() => parseConfig(`${base}accepted-digests-min-value-size 0\n`, P)).toThrow(/paxos.conf:2: accepted-digests-min-value-size: size 0 is out of range/);
    expect(() => parseConfig(`${base}accepted-digests-min-value-size big\n`, P)).toThrow(/paxos.conf:2: accepted-digests-min-value-size: expected a size such as/);
  });

  it('checkpoint keys: off by default; trimming needs a checkpoint directory; a chunk fits in a message', () => {
    const base = 'replica 0 127.0.0.1 8800\n';
    expect(parseConfig(base, P)).toMatchObject({
      checkpointDir: undefined,
      checkpointInstances: 10_000,
      checkpointIntervalMs: 60_000,
      checkpointKeep: 2,
      checkpointTrim: false,
      checkpointTrimHold: 1000,
      snapshotChunkSize: 1024 * 1024,
      snapshotWindow: 4,
    });
    const on = parseConfig(`${base}checkpoint-dir /var/lib/paxos/ckpt\ncheckpoint-instances 500\ncheckpoint-interval 250ms\ncheckpoint-keep 3\ncheckpoint-trim yes\ncheckpoint-trim-hold 0\nsnapshot-chunk-size 64kb\nsnapshot-window 8\n`, P);
    expect(on).toMatchObject({ checkpointDir: '/var/lib/paxos/ckpt', checkpointInstances: 500, checkpointIntervalMs: 250, checkpointKeep: 3, checkpointTrim: true, checkpointTrimHold: 0, snapshotChunkSize: 65536, snapshotWindow: 8 });
    expect(parseConfig(`${base}checkpoint-dir /x\ncheckpoint-interval 0\n`, P).checkpointIntervalMs).toBe(0);
    expect(() => parseConfig(`${base}checkpoint-trim yes\n`, P)).toThrow(/checkpoint-trim yes needs checkpoint-dir/);
    // The first trim waits for two replicas' reports (one lost disk must not strand it); one alone
    // trims only when it is the only replica or when told so, and more than the file names never would.
    const three = 'replica 0 127.0.0.1 8800\nreplica 1 127.0.0.1 8801\nreplica 2 127.0.0.1 8802\ncheckpoint-dir /x\ncheckpoint-trim yes\n';
    expect(parseConfig(three, P).checkpointTrimReporters).toBe(2);
    expect(parseConfig(`${base}checkpoint-dir /x\ncheckpoint-trim yes\n`, P).checkpointTrimReporters).toBe(1);
    expect(parseConfig(`${three}checkpoint-trim-reporters 3\n`, P).checkpointTrimReporters).toBe(3);
    expect(parseConfig(`${three}checkpoint-trim-reporters 1\n`, P).checkpointTrimReporters).toBe(1);
    expect(() => parseConfig(`${three}checkpoint-trim-reporters 4\n`, P)).toThrow(/checkpoint-trim-reporters 4 is more than the 3 replicas this file names: the acceptors would never be trimmed/);
    expect(() => parseConfig(`${three}checkpoint-trim-reporters 0\n`, P)).toThrow(/paxos.conf:6: checkpoint-trim-reporters: expected 1 to 10 replicas, got 0/);
    // Acceptor lines do not count: they report nothing.
    expect(() => parseConfig(`replica 0 127.0.0.1 8800\nacceptor 1 127.0.0.1 8801\nacceptor 2 127.0.0.1 8802\ncheckpoint-dir /x\ncheckpoint-trim yes\ncheckpoint-trim-reporters 2\n`, P)).toThrow(/more than the 1 replica this file names/);
    expect(parseConfig(`acceptor 0 127.0.0.1 8800\nproposer 0 127.0.0.1 8801\ncheckpoint-trim-reporters 2\n`, P).warnings).toEqual([`${P}: checkpoint-trim-reporters has no effect without checkpoint-trim yes and replica lines (only replicas report checkpoints)`]);
    expect(() => parseConfig(`${base}checkpoint-dir /x\ncheckpoint-instances 0\ncheckpoint-interval 0\n`, P)).toThrow(/would never write a checkpoint/);
    expect(() => parseConfig(`${base}checkpoint-keep 0\n`, P)).toThrow(/paxos.conf:2: checkpoint-keep: expected 1 to 1000 checkpoints, got 0/);
    expect(() => parseConfig(`${base}checkpoint-instances 1e3\n`, P)).toThrow(/checkpoint-instances: expected a whole number of instances, got '1e3'/);
    // A chunk travels in one message: the default shrinks to fit max-value-size, an explicit one must fit.
    expect(parseConfig(`${base}max-value-size 64kb\n`, P).snapshotChunkSize).toBe(65536 - 4096);
    expect(() => parseConfig(`${base}checkpoint-dir /x\nmax-value-size 64kb\nsnapshot-chunk-size 64kb\n`, P)).toThrow(/snapshot-chunk-size 65536 must be at least 4 kb below max-value-size \(65536\)/);
    expect(() => parseConfig(`${base}checkpoint-dirr /x\n`, P)).toThrow(/did you mean 'checkpoint-dir'/);
  });

  it('proposer-timeout: a bare number is seconds as in LibPaxos3; 250ms and 2s are ours', () => {
    expect(parseConfig('proposer-timeout 3', P)).toMatchObject({ proposerTimeout: 3, proposerTimeoutMs: 3000 });
    expect(parseConfig('proposer-timeout 250ms', P)).toMatchObject({ proposerTimeout: 0.25, proposerTimeoutMs: 250 });
    expect(parseConfig('proposer-timeout 2s', P)).toMatchObject({ proposerTimeout: 2, proposerTimeoutMs: 2000 });
  });

  it('host names and IPv6 addresses in brackets, with a warning that C LibPaxos3 reads neither', () => {
    const c = parseConfig('replica 0 localhost 8800\nreplica 1 [::1] 8801\nreplica 2 127.0.0.1 8802\n', P);
    expect(c.acceptors.map((a) => [a.host, a.hostname, a.name])).toEqual([
      ['localhost', 'localhost', 'replica-0'],
      ['::1', undefined, 'replica-1'],
      ['127.0.0.1', undefined, 'replica-2'],
    ]);
    expect(c.resolved).toBe(false);
    expect(c.acceptors.map(formatAddress)).toEqual(['localhost:8800', '[::1]:8801', '127.0.0.1:8802']);
    expect(c.warnings).toEqual([`${P}: lines 1, 2 give host names or IPv6 addresses, which C LibPaxos3 cannot read (it takes dotted IPv4 only and would use 255.255.255.255): keep C LibPaxos3 processes out of this cluster`]);
    expect(parseConfig('replica 0 127.0.0.1 8800\n', P)).toMatchObject({ resolved: true, warnings: [] });
  });

  it('resolveConfig: names resolve once at start, a replica keeps one address for both roles, IP addresses stay as they are', async () => {
    const looked: string[] = [];
    const c = await resolveConfig(parseConfig('replica 0 node-a 8800\nreplica 1 Node-A 8801\nreplica 2 [::1] 8802\n', P), async (name) => {
      looked.push(name);
      return '10.1.2.3';
    });
    expect(looked).toEqual(['node-a', 'Node-A']);
    expect(c.acceptors.map((a) => a.host)).toEqual(['10.1.2.3', '10.1.2.3', '::1']);
    expect(c.proposers[0]).toBe(c.acceptors[0]);
    expect(c.resolved).toBe(true);
    expect(formatAddress(c.acceptors[0] as never)).toBe('node-a:8800 (10.1.2.3)');
    // The system resolver, on a name every machine has.
    const local = await resolveConfig(parseConfig('acceptor 0 localhost 8800\n', P));
    expect(['127.0.0.1', '::1']).toContain(local.acceptors[0]?.host);
  });

  it('resolveConfig: a name that does not resolve, and two names for one address, are path:line errors', async () => {
    const notFound = Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.example'), { code: 'ENOTFOUND' });
    const text = 'acceptor 0 127.0.0.1 8800\nacceptor 1 nowhere.example 8801\n';
    await expect(resolveConfig(parseConfig(text, P), () => Promise.reject(notFound))).rejects.toThrow(
      new ConfigError(`${P}:2: host name 'nowhere.example' does not resolve (no such host, ENOTFOUND); check the name or write the IP address instead`),
    );
    await expect(resolveConfig(parseConfig('acceptor 0 127.0.0.1 8800\nacceptor 1 me 8800\n', P), async () => '127.0.0.1')).rejects.toThrow(
      /^\/etc\/paxos\.conf:2: me:8800 \(127\.0\.0\.1\) is the address of \/etc\/paxos\.conf:1 \(127\.0\.0\.1:8800\); every process needs its own address$/,
    );
  });

  it('keys of ours for operating a cluster: TLS paths relative to the config, metrics port, log format', () => {
    const c = parseConfig('replica 0 127.0.0.1 8800\ntls-ca certs/ca.crt\ntls-cert /abs/<id>.crt\ntls-key certs/<id>.key\nmetrics-port 9100\nlog-format JSON\n', P);
    expect(c.tls).toEqual({
      ca: { path: '/etc/certs/ca.crt', where: `${P}:2` },
      cert: { path: '/abs/<id>.crt', where: `${P}:3` },
      key: { path: '/etc/certs/<id>.key', where: `${P}:4` },
    });
    expect(c).toMatchObject({ metricsPort: 9100, logFormat: 'json' });
    expect(parseConfig('replica 0 127.0.0.1 8800\n', P)).toMatchObject({ tls: undefined, metricsPort: undefined, logFormat: 'text' });
  });

  it('TooManyProcesses: 11 replicas are refused', () => {
    const text = Array.from({ length: 11 }, (_, i) => `replica ${i} 127.0.0.1 ${8800 + i}`).join('\n');
    expect(() => parseConfig(text, P)).toThrow(/11 acceptors; LibPaxos3 allows at most 10/);
  });

  it('Folder: a directory is not a config file; a missing file says so', () => {
    const dir = mkdtempSync(join(tmpdir(), 'paxos-conf-'));
    try {
      expect(() => readConfig(dir)).toThrow(/not a regular file/);
      expect(() => readConfig(join(dir, 'missing.conf'))).toThrow(/no such file/);
      writeFileSync(join(dir, 'ok.conf'), 'acceptor 0 127.0.0.1 8800\n');
      expect(readConfig(join(dir, 'ok.conf')).acceptors).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
