import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeMessage } from '@libpaxos/evpaxos';
import { makeCert, makeClusterCerts } from '../src/certs.js';
import { Proc, cleanUp, ports, sleep, startListening, tempDir, waitFor, writeConfig } from './procs.js';
import { family, observations, scrape, value } from './prometheus.js';

afterEach(cleanUp);

const listening = (p: Proc) => /listening on/.test(p.stderr);
const conf = (lines: string[]) => `${lines.join('\n')}\n`;

/** Three replica processes on 127.0.0.1 with `extra` config lines and flags; retried on a taken port. */
async function replicas(extra: string[] = [], flags: (id: number, p: number[]) => string[] = () => []) {
  const dir = tempDir();
  return startListening(
    3,
    (p) => {
      const path = writeConfig(dir, conf([...p.map((port, i) => `replica ${i} 127.0.0.1 ${port}`), ...extra]));
      const rs = [0, 1, 2].map((i) => new Proc('replica', [String(i), path, ...flags(i, p)]));
      return { procs: rs, value: { dir, path, rs, p } };
    },
    listening,
  );
}

function client(path: string, seconds: number, extra: string[] = []): Proc {
  return new Proc('client', [path, '-o', '10', '-v', '32', '--duration', String(seconds), ...extra]);
}

const summary = (c: Proc) => Number(/Summary: (\d+) values/.exec(c.stdout)?.[1]);

describe('operating a cluster: TLS, metrics and health, JSON logs, names and IPv6', () => {
  it('a TLS cluster of processes: replicas, the client and a learner, every connection mutual TLS', async () => {
    const certDir = tempDir();
    const certs = makeClusterCerts(certDir, ['replica-0', 'replica-1', 'replica-2', 'client', 'learner']);
    const { path, rs } = await replicas([...certs.configLines]);
    for (const r of rs) expect(r.stderr).toMatch(/listening on 127\.0\.0\.1:\d+ \(mutual TLS\)/);
    const learner = new Proc('learner', [path]);
    const c = client(path, 2);
    expect(await c.exit, c.stderr).toBe(0);
    expect(summary(c)).toBeGreaterThan(50);
    await waitFor(() => learner.lines.length >= summary(c), 10_000, 'the TLS learner to deliver the client values');
    for (const p of [...rs, learner, c]) expect(p.stderr).not.toMatch(/Refused|failed:/);
  }, 60_000);

  it('a TLS cluster refuses a foreign certificate and a certificate naming a process not in the config, naming the address', async () => {
    const certDir = tempDir();
    const certs = makeClusterCerts(certDir, ['replica-0', 'replica-1', 'replica-2', 'client']);
    makeCert(certDir, 'replica-9');
    // A second CA, and a certificate from it that names a process of this cluster.
    makeClusterCerts(`${certDir}/foreign`, ['client']);
    const { path, rs, p } = await replicas([...certs.configLines]);
    const attempt = (file: string) =>
      new Promise<void>((resolve) => {
        const s = tlsConnect({ host: '127.0.0.1', port: p[0] as number, ca: readFileSync(`${certDir}/ca.crt`), cert: readFileSync(`${file}.crt`), key: readFileSync(`${file}.key`), checkServerIdentity: () => undefined });
        s.on('secureConnect', () => s.write(encodeMessage({ type: 'prepare', iid: 1, ballot: 4_000_000_000 })));
        s.on('error', () => resolve());
        s.on('close', () => resolve());
      });
    await attempt(`${certDir}/foreign/client`);
    await attempt(`${certDir}/replica-9`);
    const r0 = rs[0] as Proc;
    await waitFor(() => /names replica-9/.test(r0.stderr) && /not signed/.test(r0.stderr), 10_000, 'replica 0 to refuse both');
    expect(r0.stderr).toMatch(/Refused a connection from 127\.0\.0\.1:\d+: its certificate is not signed by this cluster's CA \(tls-ca\) \(client, DNS:client\)/);
    expect(r0.stderr).toMatch(/Refused a connection from 127\.0\.0\.1:\d+: its certificate names replica-9, which is not in this cluster's config/);
    // The prepare at the highest ballot never reached the acceptor: the cluster still decides.
    const c = client(path, 2);
    expect(await c.exit, c.stderr).toBe(0);
    // A client whose certificate is another process's does not start.
    const wrongDir = tempDir();
    makeClusterCerts(wrongDir, ['client']);
    const wrong = writeConfig(wrongDir, conf([...p.map((port, i) => `replica ${i} 127.0.0.1 ${port}`), `tls-ca ${certDir}/ca.crt`, `tls-cert ${certDir}/replica-1.crt`, `tls-key ${certDir}/replica-1.key`]), 'wrong.conf');
    const w = new Proc('client', [wrong, '--duration', '1']);
    expect(await w.exit).toBe(1);
    expect(w.stderr).toMatch(/wrong\.conf:5: .*replica-1\.crt names replica-1 \(CN=replica-1, DNS:replica-1\), but this process is client/);
  }, 60_000);

  it('metrics: --metrics-port and the metrics-port key serve Prometheus text a parser reads; /healthz answers', async () => {
    const [base] = ports(1) as [number];
    // metrics-port in the config: replica k serves on base + k.
    const { path, rs } = await replicas([`metrics-port ${base}`, 'proposer-batch-max-values 1024']);
    for (const [k, r] of rs.entries()) expect(r.stderr).toContain(`Metrics on http://127.0.0.1:${base + k}/metrics, health on http://127.0.0.1:${base + k}/healthz`);
    const [learnerPort] = ports(1) as [number];
    const learner = new Proc('learner', [path, '--metrics-port', `127.0.0.1:${learnerPort}`]);
    await waitFor(() => /Metrics on/.test(learner.stderr), 10_000, 'the learner metrics');
    const c = client(path, 2);
    expect(await c.exit).toBe(0);
    const m = await scrape(`http://127.0.0.1:${base}`);
    expect(family(m, 'paxos_process_info')[0]?.labels).toEqual({ role: 'replica', id: '0', name: 'replica-0', tls: 'off' });
    expect(value(m, 'paxos_proposer_values_proposed_total')).toBeGreaterThanOrEqual(summary(c));
    expect(value(m, 'paxos_learner_values_delivered_total')).toBeGreaterThanOrEqual(summary(c));
    expect(observations(m, 'paxos_proposer_phase2_seconds')).toBeGreaterThan(0);
    expect(observations(m, 'paxos_storage_commit_seconds')).toBeGreaterThan(0);
    expect(value(m, 'paxos_messages_received_total', { type: 'client_value' })).toBeGreaterThanOrEqual(summary(c));
    expect(value(m, 'paxos_peer_connected', { peer: 'replica-2' })).toBe(1);
    const health = await fetch(`http://127.0.0.1:${base + 1}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ready', reasons: [], name: 'replica-1' });
    const l = await scrape(`http://127.0.0.1:${learnerPort}`);
    expect(value(l, 'paxos_learner_values_delivered_total')).toBeGreaterThanOrEqual(summary(c));
    // A replica whose peers are gone is not ready, and says why.
    await rs[1]?.kill('SIGTERM');
    await rs[2]?.kill('SIGTERM');
    let h = await fetch(`http://127.0.0.1:${base}/healthz`);
    for (let i = 0; i < 100 && h.status === 200; i++) {
      await sleep(50);
      h = await fetch(`http://127.0.0.1:${base}/healthz`);
    }
    expect(h.status).toBe(503);
    expect(((await h.json()) as { reasons: string[] }).reasons).toEqual(['connected to 1 of 3 acceptors, a quorum is 2 (not connected: replica-1, replica-2)']);
  }, 60_000);

  it('JSON logs: every stderr line of every role is one JSON object with time, level, role, id, message and fields', async () => {
    const dir = tempDir();
    const { path, acceptors, proposer } = await startListening(
      4,
      (p) => {
        const path = writeConfig(dir, conf([...p.slice(0, 3).map((port, i) => `acceptor ${i} 127.0.0.1 ${port}`), `proposer 0 127.0.0.1 ${p[3]}`, 'log-format json']));
        // Two of the three acceptors are a quorum; the missing one makes lines about a peer that cannot be reached.
        const acceptors = [0, 1].map((i) => new Proc('acceptor', [String(i), path]));
        const proposer = new Proc('proposer', ['0', path, '--log-format', 'json']);
        return { procs: [...acceptors, proposer], value: { path, acceptors, proposer } };
      },
      (p) => /listening on/.test(p.stderr),
    );
    const c = client(path, 2);
    expect(await c.exit).toBe(0);
    const bad = new Proc('acceptor', ['7', path, '--log-format', 'json']);
    expect(await bad.exit).toBe(1);
    for (const p of [...acceptors, proposer]) p.child.kill('SIGTERM');
    await Promise.all([...acceptors, proposer].map((p) => p.exit));
    const roles = new Map<string, Record<string, unknown>[]>();
    const labelled: [string, Proc][] = [['acceptor-0', acceptors[0] as Proc], ['acceptor-1', acceptors[1] as Proc], ['proposer', proposer], ['client', c], ['acceptor-bad', bad]];
    for (const [label, p] of labelled) {
      const lines = p.stderr.split('\n').filter((l) => l !== '');
      expect(lines.length, `${p.name} wrote no log line`).toBeGreaterThan(0);
      const objs = lines.map((l) => {
        let o: Record<string, unknown>;
        try {
          o = JSON.parse(l) as Record<string, unknown>;
        } catch {
          throw new Error(`${p.name} wrote a line that is not JSON: ${l}`);
        }
        expect(Object.keys(o)).toEqual(['time', 'level', 'role', 'id', 'message', 'fields']);
        expect(o.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        expect(['error', 'info', 'debug']).toContain(o.level);
        expect(typeof o.message).toBe('string');
        expect(typeof o.fields).toBe('object');
        return o;
      });
      roles.set(label, objs);
    }
    const acceptor0 = roles.get('acceptor-0') ?? [];
    expect(acceptor0.find((o) => String(o.message).startsWith('Acceptor 0 listening'))).toMatchObject({ level: 'info', role: 'acceptor', id: 0, fields: { name: 'acceptor-0', storage: 'memory', tls: false } });
    expect(roles.get('proposer')?.some((o) => o.role === 'proposer' && o.id === 0 && o.message === 'Caught signal 15')).toBe(true);
    expect(roles.get('client')?.every((o) => o.role === 'client' && o.id === null)).toBe(true);
    expect(roles.get('acceptor-bad')?.map((o) => o.message)).toEqual([expect.stringMatching(/there is no acceptor 7/), 'Could not start the acceptor!']);
  }, 60_000);

  it('host names and IPv6 in a config: a process warns that C LibPaxos3 cannot take part', async () => {
    // Servers in tests listen on 127.0.0.1 only: acceptor 0 does, and acceptors dial no one, so the
    // other lines are only read. (A cluster running on names resolved to 127.0.0.1 is evpaxos's
    // replica.e2e test; IPv6 forms and lookups are config.test.ts's.)
    const dir = tempDir();
    const acceptor = await startListening(
      1,
      (p) => {
        const path = writeConfig(dir, conf([`acceptor 0 127.0.0.1 ${p[0]}`, `acceptor 1 localhost ${Number(p[0]) + 1}`, `acceptor 2 [::1] ${Number(p[0]) + 2}`]));
        const a = new Proc('acceptor', ['0', path]);
        return { procs: [a], value: a };
      },
      listening,
    );
    expect(acceptor.stderr).toMatch(/lines 2, 3 give host names or IPv6 addresses, which C LibPaxos3 cannot read/);
    expect(acceptor.stderr).toMatch(/Acceptor 0 listening on 127\.0\.0\.1:\d+/);
  }, 30_000);
});
