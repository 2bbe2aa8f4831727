import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig, readConfig } from '../src/config.js';

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
    expect(c.proposers).toEqual([{ host: '127.0.0.1', port: 5550, where: `${P}:5` }]);
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
    ['a bare acceptor (crashes LibPaxos3)', 'acceptor', /:1: 'acceptor' needs '<id> <ipv4> <port>'/],
    ['an unknown key, with a suggestion', 'proposer-timout 2', /:1: unknown key 'proposer-timout'; did you mean 'proposer-timeout'\?/],
    ['trailing junk after a number (LibPaxos3 reads 3)', 'proposer-timeout 3s', /:1: proposer-timeout: expected a whole number of seconds, got '3s'/],
    ['a negative number', 'proposer-timeout -1', /expected a whole number of seconds/],
    ['window 0 (LibPaxos3 never proposes)', 'proposer-preexec-window 0', /:1: proposer-preexec-window: must be at least 1; with 0 the proposer never/],
    ['a boolean other than yes/no', 'lmdb-sync true', /:1: lmdb-sync: expected yes or no, got 'true'/],
    ['a bad size unit', 'lmdb-mapsize 10 tb', /expected a size/],
    ['a hostname (LibPaxos3 uses 255.255.255.255)', 'acceptor 0 localhost 8800', /'localhost' is not a dotted IPv4 address/],
    ['a bad IPv4 address', 'acceptor 0 127.0.0.300 8800', /not a dotted IPv4 address/],
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
    expect(() => parseConfig(`${base}checkpoint-dir /x\ncheckpoint-instances 0\ncheckpoint-interval 0\n`, P)).toThrow(/would never write a checkpoint/);
    expect(() => parseConfig(`${base}checkpoint-keep 0\n`, P)).toThrow(/paxos.conf:2: checkpoint-keep: expected 1 to 1000 checkpoints, got 0/);
    expect(() => parseConfig(`${base}checkpoint-instances 1e3\n`, P)).toThrow(/checkpoint-instances: expected a whole number of instances, got '1e3'/);
    // A chunk travels in one message: the default shrinks to fit max-value-size, an explicit one must fit.
    expect(parseConfig(`${base}max-value-size 64kb\n`, P).snapshotChunkSize).toBe(65536 - 4096);
    expect(() => parseConfig(`${base}checkpoint-dir /x\nmax-value-size 64kb\nsnapshot-chunk-size 64kb\n`, P)).toThrow(/snapshot-chunk-size 65536 must be at least 4 kb below max-value-size \(65536\)/);
    expect(() => parseConfig(`${base}checkpoint-dirr /x\n`, P)).toThrow(/did you mean 'checkpoint-dir'/);
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
