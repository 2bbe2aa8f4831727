import { readFileSync } from 'node:fs';
import { connect as tlsConnect, createServer as createTlsServer, type Server } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Prng } from '@libpaxos/paxos-core';
import { ConfigError, FrameDecoder, VERSION, decodeExtension, encodeExtension, encodeMessage, parseConfig, startLearner, startReplica, type Logger, type PaxosConfig, type PaxosHandle, type ReplicaHandle } from '../src/index.js';
import { TestCerts } from './certs.js';
import { ports, waitFor, withFreePorts } from './ports.js';

let certs: TestCerts;
beforeAll(() => {
  certs = new TestCerts();
  for (const name of ['replica-0', 'replica-1', 'replica-2', 'learner', 'client']) certs.make(name, name);
  // Signed by another CA, naming a process of the cluster.
  certs.make('foreign-learner', 'learner', { ca: 'other' });
  // Signed by the cluster's CA, naming processes that are not this cluster's, or none.
  certs.make('replica-7', 'replica-7');
  certs.make('nobody', 'db1.example.org');
}, 60_000);
afterAll(() => certs.remove());

const handles: PaxosHandle[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(handles.splice(0).map((h) => h.close()));
  for (const s of servers.splice(0)) s.close();
});

/** A logger that keeps every line, for the assertions. */
function capture(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, error: (t) => lines.push(`E ${t}`), info: (t) => lines.push(`I ${t}`), debug: () => undefined };
}

const text = (s: string) => new TextEncoder().encode(s);

/** Three replicas with TLS on, each logging to its own capture. */
async function tlsReplicas(extra: string[] = []) {
  const logs = [capture(), capture(), capture()];
  const delivered: string[][] = [[], [], []];
  const { config, rs } = await withFreePorts(3, async (p) => {
    const config = parseConfig([...p.map((port, i) => `replica ${i} 127.0.0.1 ${port}`), ...certs.lines(), ...extra].join('\n'), 'tls.conf');
    const rs: ReplicaHandle[] = [];
    try {
      for (let id = 0; id < 3; id++) rs.push(await startReplica({ id, config, log: logs[id] as Logger, onDeliver: (_iid, v) => delivered[id]?.push(new TextDecoder().decode(v)) }));
    } catch (e) {
      await Promise.all(rs.map((r) => r.close()));
      throw e;
    }
    handles.push(...rs);
    return { config, rs };
  });
  return { config, rs, logs, delivered };
}

const port = (c: PaxosConfig, k: number) => c.acceptors[k]?.port as number;

describe('mutual TLS', () => {
  it('a TLS cluster decides values, and a learner with the cluster\'s certificate follows it', async () => {
    const { config, rs, logs, delivered } = await tlsReplicas();
    expect(logs[0]?.lines.join('\n')).toMatch(/Replica 0 listening on 127\.0\.0\.1:\d+ \(mutual TLS\)/);
    await waitFor(() => rs[0]?.submit(text('probe')) === true, 5000, 'replica 0 to connect');
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => (rs[i % 3] as ReplicaHandle).propose(text(`v${i}`))));
    expect(results).toHaveLength(50);
    const learned: string[] = [];
    const learner = await startLearner({ config, log: capture(), onDeliver: (_iid, v) => learned.push(new TextDecoder().decode(v)) });
    handles.push(learner);
    await waitFor(() => learned.length >= 51 && delivered.every((d) => d.length >= 51), 10_000, 'the learner and every replica to deliver 51 values');
    expect(learned).toEqual(delivered[0]);
    expect(delivered[1]).toEqual(delivered[0]);
    for (const l of logs) expect(l.lines.filter((x) => x.startsWith('E '))).toEqual([]);
  }, 60_000);

  it('refuses a foreign certificate: the cluster names the address and the reason, and the foreign process refuses the cluster', async () => {
    const { config, logs } = await tlsReplicas();
    const foreignConfig = parseConfig(
      [...config.acceptors.map((a, i) => `replica ${i} ${a.host} ${a.port}`), `tls-ca ${certs.path('other.crt')}`, `tls-cert ${certs.path('foreign-<id>.crt')}`, `tls-key ${certs.path('foreign-<id>.key')}`].join('\n'),
      'foreign.conf',
    );
    const log = capture();
    let learned = 0;
    const foreign = await startLearner({ config: foreignConfig, log, onDeliver: () => learned++ });
    handles.push(foreign);
    // The foreign learner checks the cluster's certificates first (TLS 1.3: the server proves
    // itself first) and refuses them; the cluster sees it hang up during the handshake.
    await waitFor(() => log.lines.some((l) => l.startsWith('E Refused acceptor 0')), 10_000, 'the foreign learner to refuse the cluster');
    expect(log.lines.join('\n')).toMatch(
      // The cluster's processes send their CA along, so the chain ends in a CA the learner does not trust.
      new RegExp(`E Refused acceptor 0 \\(127\\.0\\.0\\.1:${port(config, 0)}\\): its certificate chain ends in a CA that is not this cluster's \\(tls-ca\\) \\(SELF_SIGNED_CERT_IN_CHAIN\\); not connecting`),
    );
    await waitFor(() => logs[0]?.lines.some((l) => /I A connection from 127\.0\.0\.1:\d+ failed: it closed the connection during the TLS handshake/.test(l)) === true, 10_000, 'replica 0 to see the foreign learner hang up');
    expect(learned).toBe(0);
    // A foreign process that trusts the cluster's CA gets as far as presenting its certificate.
    await new Promise<void>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port: port(config, 0), ca: readFileSync(certs.path('ca.crt')), cert: readFileSync(certs.path('foreign-learner.crt')), key: readFileSync(certs.path('foreign-learner.key')), checkServerIdentity: () => undefined });
      s.on('secureConnect', () => s.write(encodeMessage({ type: 'repeat', from: 1, to: 10 })));
      s.on('data', () => expect.fail('a refused peer was answered'));
      s.on('error', () => resolve());
      s.on('close', () => resolve());
    });
    await waitFor(() => logs[0]?.lines.some((l) => /Refused a connection/.test(l)) === true, 10_000, 'replica 0 to refuse the foreign certificate');
    expect(logs[0]?.lines.join('\n')).toMatch(/E Refused a connection from 127\.0\.0\.1:\d+: its certificate is not signed by this cluster's CA \(tls-ca\) \(learner, DNS:learner\)/);
  }, 60_000);

  it('refuses a wrong id: a dialled peer that is not the process of its config line, and an incoming certificate naming a process not in the config', async () => {
    const log = capture();
    const [p0, p1] = ports(2) as [number, number];
    // Acceptor 1's address answers with replica-2's certificate: an impostor (or a mix-up).
    const impostor = createTlsServer({ ca: readFileSync(certs.path('ca.crt')), cert: readFileSync(certs.path('replica-2.crt')), key: readFileSync(certs.path('replica-2.key')), requestCert: true }, (s) => s.on('error', () => undefined));
    servers.push(impostor);
    await new Promise<void>((r) => impostor.listen(p1, '127.0.0.1', () => r()));
    const config = parseConfig([`replica 0 127.0.0.1 ${p0}`, `replica 1 127.0.0.1 ${p1}`, ...certs.lines()].join('\n'), 'tls.conf');
    const r0 = await startReplica({ id: 0, config, log });
    handles.push(r0);
    await waitFor(() => log.lines.some((l) => l.startsWith('E Refused acceptor 1')), 10_000, 'replica 0 to refuse the impostor');
    expect(log.lines.join('\n')).toContain(`E Refused acceptor 1 (127.0.0.1:${p1}): its certificate names replica-2, not replica-1, the process of that config line; not connecting`);
    // Incoming: certificates of the cluster's CA that name no process of this config.
    for (const [file, why] of [
      ['replica-7', /its certificate names replica-7, which is not in this cluster's config/],
      ['nobody', /its certificate names no process \(CN=db1\.example\.org, DNS:db1\.example\.org\)/],
    ] as const) {
      await new Promise<void>((resolve) => {
        const s = tlsConnect({ host: '127.0.0.1', port: p0, ca: readFileSync(certs.path('ca.crt')), cert: readFileSync(certs.path(`${file}.crt`)), key: readFileSync(certs.path(`${file}.key`)), checkServerIdentity: () => undefined });
        s.on('secureConnect', () => s.write(encodeMessage({ type: 'prepare', iid: 1, ballot: 4_000_000_000 })));
        s.on('error', () => resolve());
        s.on('close', () => resolve());
      });
      await waitFor(() => log.lines.some((l) => why.test(l)), 5000, `replica 0 to refuse ${file}`);
      expect(log.lines.find((l) => why.test(l))).toMatch(/^E Refused a connection from 127\.0\.0\.1:\d+: /);
    }
    // A peer without a certificate.
    await new Promise<void>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port: p0, ca: readFileSync(certs.path('ca.crt')), checkServerIdentity: () => undefined });
      s.on('error', () => resolve());
      s.on('close', () => resolve());
    });
    await waitFor(() => log.lines.some((l) => /it presented no certificate/.test(l)), 5000, 'replica 0 to refuse a peer without a certificate');
  }, 60_000);

  it('TLS on one side only: both sides say what is wrong', async () => {
    const [p0] = ports(1) as [number];
    const plainLog = capture();
    const plain = await startReplica({ id: 0, config: parseConfig(`replica 0 127.0.0.1 ${p0}`, 'plain.conf'), log: plainLog });
    handles.push(plain);
    const tlsLog = capture();
    const learner = await startLearner({ config: parseConfig([`replica 0 127.0.0.1 ${p0}`, ...certs.lines()].join('\n'), 'tls.conf'), log: tlsLog, onDeliver: () => undefined });
    handles.push(learner);
    await waitFor(() => tlsLog.lines.some((l) => l.startsWith('E Refused acceptor 0')) && plainLog.lines.some((l) => /TLS handshake/.test(l)), 10_000, 'both sides to say it');
    expect(tlsLog.lines.find((l) => l.startsWith('E Refused acceptor 0'))).toMatch(/it closed the connection during the TLS handshake \(TLS off in its config, or it refused our certificate: see its log\)/);
    expect(plainLog.lines.join('\n')).toMatch(/sent bytes that are not a LibPaxos3 message \(expected a msgpack array, got byte 0x16; it looks like a TLS handshake: TLS is off in this process's config\)/);
  }, 30_000);

  it('a process whose own TLS files are wrong does not start, with the config line and the file', async () => {
    const base = [`replica 0 127.0.0.1 ${ports(1)[0]}`];
    const start = (lines: string[]) => startReplica({ id: 0, config: parseConfig([...base, ...lines].join('\n'), 'tls.conf'), log: capture() });
    await expect(start(certs.lines('other'))).rejects.toThrow(new RegExp(`^tls\\.conf:3: .*replica-0\\.crt is not signed by the CA in .*other\\.crt`));
    await expect(start([`tls-ca ${certs.path('ca.crt')}`, `tls-cert ${certs.path('learner.crt')}`, `tls-key ${certs.path('learner.key')}`])).rejects.toThrow(
      /^tls\.conf:3: .*learner\.crt names learner \(CN=learner, DNS:learner\), but this process is replica-0; give it a certificate naming replica-0$/,
    );
    await expect(start([`tls-ca ${certs.path('ca.crt')}`, `tls-cert ${certs.path('<id>.crt')}`, `tls-key ${certs.path('learner.key')}`])).rejects.toThrow(/^tls\.conf:4: .*learner\.key is not the key of .*replica-0\.crt$/);
    await expect(start([`tls-ca ${certs.path('ca.crt')}`, `tls-cert ${certs.path('missing-<id>.crt')}`, `tls-key ${certs.path('<id>.key')}`])).rejects.toThrow(ConfigError);
    await expect(start([`tls-ca ${certs.path('ca.crt')}`, `tls-cert ${certs.path('missing-<id>.crt')}`, `tls-key ${certs.path('<id>.key')}`])).rejects.toThrow(/cannot read the certificate \(tls-cert\) of replica-0, .*missing-replica-0\.crt \(no such file\)/);
  }, 30_000);

  it('a client certificate submits values but cannot run Paxos: its prepare at the highest ballot is dropped', async () => {
    const { config, rs, logs, delivered } = await tlsReplicas();
    await waitFor(() => rs[0]?.submit(text('probe')) === true, 5000, 'replica 0 to connect');
    await new Promise<void>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port: port(config, 0), ca: readFileSync(certs.path('ca.crt')), cert: readFileSync(certs.path('client.crt')), key: readFileSync(certs.path('client.key')), checkServerIdentity: () => undefined });
      s.on('secureConnect', () => {
        s.write(encodeMessage({ type: 'prepare', iid: 2, ballot: 4_000_000_000 }));
        s.write(encodeMessage({ type: 'accept', iid: 3, ballot: 4_000_000_000, value: text('forged') }));
        s.write(encodeMessage({ type: 'client_value', value: text('from a client') }));
        setTimeout(() => s.end(), 200);
      });
      s.on('data', () => undefined);
      s.on('error', () => resolve());
      s.on('close', () => resolve());
    });
    await waitFor(() => delivered.every((d) => d.includes('from a client')), 10_000, 'the client value to be delivered everywhere');
    expect(logs[0]?.lines.join('\n')).toMatch(/E peer 127\.0\.0\.1:\d+ \(client\) sent a prepare, which a client does not send; dropped/);
    expect(logs[0]?.lines.join('\n')).toMatch(/E peer 127\.0\.0\.1:\d+ \(client\) sent an accept, which a client does not send; dropped/);
    // The forged prepare promised nothing: instances go on being decided at ordinary ballots.
    await Promise.all(Array.from({ length: 10 }, (_, i) => (rs[1] as ReplicaHandle).propose(text(`later ${i}`))));
    expect(delivered[0]).not.toContain('forged');
  }, 60_000);

  it("a client certificate cannot use the replicas' extension messages: no rejoin answers, no checkpoint chunks", async () => {
    const { config, rs, logs } = await tlsReplicas();
    await waitFor(() => rs[0]?.submit(text('probe')) === true, 5000, 'replica 0 to connect');
    const got: string[] = [];
    await new Promise<void>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port: port(config, 0), ca: readFileSync(certs.path('ca.crt')), cert: readFileSync(certs.path('client.crt')), key: readFileSync(certs.path('client.key')), checkServerIdentity: () => undefined });
      const decoder = new FrameDecoder(1 << 20);
      s.on('secureConnect', () => {
        s.write(encodeExtension({ type: 'hello', version: VERSION, role: 'replica', id: 1, features: [] }));
        s.write(encodeExtension({ type: 'rejoin_query' }));
        s.write(encodeExtension({ type: 'snapshot_get', iid: 1, sum: new Uint8Array(32), offset: 0, length: 100 }));
        setTimeout(() => s.end(), 500);
      });
      s.on('data', (chunk: Buffer) => {
        for (const f of decoder.push(chunk)) got.push(f.type === 'extension' ? (decodeExtension(f.code, f.payload)?.type ?? '?') : f.type);
      });
      s.on('error', () => resolve());
      s.on('close', () => resolve());
    });
    // It is answered hello (anyone may greet), and nothing else.
    expect(got.filter((t) => t !== 'accepted' && t !== 'acceptor_state')).toEqual(['hello']);
    const l0 = logs[0]?.lines.join('\n') ?? '';
    expect(l0).toMatch(/E peer 127\.0\.0\.1:\d+ \(client\) sent a rejoin_query, which a client does not send; dropped/);
    expect(l0).toMatch(/E peer 127\.0\.0\.1:\d+ \(client\) sent a snapshot_get, which a client does not send; dropped/);
  }, 60_000);

  it('hostile bytes over an authenticated TLS connection close only that connection; the cluster serves on', async () => {
    const { config, rs, logs, delivered } = await tlsReplicas();
    const rng = new Prng(14);
    for (let c = 0; c < 20; c++) {
      await new Promise<void>((resolve) => {
        const s = tlsConnect({ host: '127.0.0.1', port: port(config, c % 3), ca: readFileSync(certs.path('ca.crt')), cert: readFileSync(certs.path('client.crt')), key: readFileSync(certs.path('client.key')), checkServerIdentity: () => undefined });
        s.on('secureConnect', () => {
          for (let i = 0; i < 50; i++) s.write(Uint8Array.from({ length: 1 + rng.below(64) }, () => rng.below(256)));
          setTimeout(() => s.destroy(), 30);
        });
        s.on('data', () => undefined);
        s.on('error', () => resolve());
        s.on('close', () => resolve());
      });
    }
    expect(logs.some((l) => l.lines.some((x) => /peer 127\.0\.0\.1:\d+ \(client\) sent bytes that are not a LibPaxos3 message/.test(x)))).toBe(true);
    await Promise.all(Array.from({ length: 20 }, (_, i) => (rs[0] as ReplicaHandle).propose(text(`after-${i}`))));
    await waitFor(() => delivered.every((d) => d.filter((v) => v.startsWith('after-')).length === 20), 10_000, 'every replica to deliver the values sent after the attack');
  }, 60_000);
});
