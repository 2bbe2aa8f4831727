import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PeerCertificate } from 'node:tls';
import { MESSAGE_CODE, type MessageType } from '@libpaxos/paxos-core';
import type { ExtensionType } from './extensions.js';
import { ConfigError, type ConfigPath, type PaxosConfig } from './config.js';

/**
 * Who a process is, as log lines, metrics and TLS certificates name it: the name of its config
 * line (`acceptor-0`, `proposer-1`, `replica-2`), or `learner` / `client` for processes without
 * one. A certificate names its process in a DNS entry of its subjectAltName or in its CN.
 */
export const ANONYMOUS_NAMES = ['learner', 'client'] as const;

const PROCESS_NAME = /^(?:(?:acceptor|proposer|replica)-\d+|learner|client)$/;

/** Every name a process of this cluster can have: the config's lines, `learner` and `client`. */
export function memberNames(config: PaxosConfig): Set<string> {
  return new Set([...config.acceptors.map((a) => a.name), ...config.proposers.map((a) => a.name), ...ANONYMOUS_NAMES]);
}

/** What a certificate says of itself: its subject's CN values and subjectAltName entries. */
export interface CertificateIdentity {
  readonly cn: readonly string[];
  readonly dns: readonly string[];
}

/** From a PEM certificate or a peer's certificate as `tls` reports it (`getPeerCertificate()`). */
export function certificateIdentity(cert: X509Certificate | PeerCertificate): CertificateIdentity {
  let cn: string[];
  let san: string | undefined;
  if (cert instanceof X509Certificate) {
    cn = cert.subject
      .split('\n')
      .filter((l) => l.startsWith('CN='))
      .map((l) => l.slice(3));
    san = cert.subjectAltName;
  } else {
    // Several CNs come as an array, whatever the types say.
    const v = (cert.subject as { CN?: unknown } | undefined)?.CN;
    cn = Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : [];
    san = cert.subjectaltname;
  }
  const dns = (san ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
  return { cn, dns };
}

/** The process names a certificate carries (names of other shapes, such as host names, are not process names). */
export function processNamesOf(id: CertificateIdentity): string[] {
  return [...new Set([...id.dns, ...id.cn])].filter((n) => PROCESS_NAME.test(n));
}

function describe(id: CertificateIdentity): string {
  const parts = [...id.cn.map((c) => `CN=${c}`), ...id.dns.map((d) => `DNS:${d}`)];
  return parts.length > 0 ? parts.join(', ') : 'no name at all';
}

/** Why a dialled peer is not the process `expected` (undefined: it is). */
export function wrongPeer(id: CertificateIdentity, expected: string): string | undefined {
  const names = processNamesOf(id);
  if (names.includes(expected)) return undefined;
  if (names.length === 0) return `its certificate names no process of a cluster (${describe(id)}), expected ${expected}`;
  return `its certificate names ${names.join(', ')}, not ${expected}, the process of that config line`;
}

/** Why an incoming peer may not join (undefined: it may): every process name it carries must be one of the cluster's. */
export function foreignPeer(id: CertificateIdentity, members: ReadonlySet<string>): string | undefined {
  const names = processNamesOf(id);
  if (names.length === 0) return `its certificate names no process (${describe(id)}); certificates name one such as acceptor-0, replica-1, learner or client`;
  const unknown = names.filter((n) => !members.has(n));
  if (unknown.length > 0) return `its certificate names ${unknown.join(', ')}, which ${unknown.length === 1 ? 'is' : 'are'} not in this cluster's config`;
  return undefined;
}

const mask = (...types: MessageType[]) => types.reduce((m, t) => m | (1 << MESSAGE_CODE[t]), 0);
/** Every message type. */
export const ANY_MESSAGE = mask('prepare', 'promise', 'accept', 'accepted', 'preempted', 'repeat', 'trim', 'acceptor_state', 'client_value');

/**
 * What a peer authenticated by TLS may send on a connection it opened, as a bit mask over
 * MESSAGE_CODE, from the names its certificate carries: proposers and replicas run Paxos (every
 * type); a learner asks for repeats and trims (LibPaxos3's learner API); a client submits values
 * and its learner asks for repeats. So a `client` certificate, which many applications may hold,
 * cannot send a prepare or accept (a prepare at the highest ballot would stall the instances it
 * names). Without TLS every peer may send anything, as in LibPaxos3.
 */
export function allowedMessages(names: readonly string[]): number {
  let m = 0;
  for (const n of names) {
    if (/^(proposer|replica)-\d+$/.test(n)) m |= ANY_MESSAGE;
    else if (n === 'learner') m |= mask('repeat', 'trim');
    else if (n === 'client') m |= mask('client_value', 'repeat');
  }
  return m;
}

/**
 * Which of our extension messages (extensions.ts) a peer authenticated by TLS may send on a
 * connection it opened, from the names its certificate carries. Anyone may say hello. A replica
 * takes part in everything: snapshot transfer both ways and rejoins. A learner fetches
 * checkpoints (asks for offers and chunks) and serves none, and rejoins nobody. Clients, and
 * acceptors and proposers (which keep no checkpoints), send nothing else: a `client`
 * certificate cannot read a replica's state through snapshot_get, nor make it answer rejoin
 * queries. Answers (offers, chunks, rejoin_info) come on connections this process dialled,
 * where the peer is the one its config names. Without TLS every peer may send anything.
 */
export function allowedExtensions(names: readonly string[]): ReadonlySet<ExtensionType> {
  const out = new Set<ExtensionType>(['hello']);
  for (const n of names) {
    if (/^replica-\d+$/.test(n)) for (const t of ['snapshot_query', 'snapshot_offer', 'snapshot_get', 'snapshot_chunk', 'rejoin_query', 'rejoin_info'] as const) out.add(t);
    else if (n === 'learner') for (const t of ['snapshot_query', 'snapshot_get'] as const) out.add(t);
  }
  return out;
}

/** A process's TLS files, read and checked. */
export interface TlsMaterial {
  /** The process these files are for. */
  readonly name: string;
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** `<id>` in a configured path stands for the process's name. */
export function tlsPath(p: ConfigPath, name: string): string {
  return p.path.replaceAll('<id>', name);
}

/**
 * Reads the CA, certificate and key for process `name` (`<id>` in the paths replaced by it) and
 * checks them as far as they can be checked alone, so that a mix-up stops the process at start
 * with the file and config line instead of failing every handshake later: the certificate is
 * signed by the CA, is valid now, names this process, and matches the key. Undefined: TLS is off.
 */
export function loadTls(config: PaxosConfig, name: string): TlsMaterial | undefined {
  const t = config.tls;
  if (t === undefined) return undefined;
  const read = (p: ConfigPath, what: string): Buffer => {
    const file = tlsPath(p, name);
    try {
      return readFileSync(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new ConfigError(`${p.where}: cannot read the ${what} of ${name}, ${file} (${code === 'ENOENT' ? 'no such file' : (code ?? (e as Error).message)})`);
    }
  };
  const ca = read(t.ca, 'CA certificate (tls-ca)');
  const cert = read(t.cert, 'certificate (tls-cert)');
  const key = read(t.key, 'private key (tls-key)');
  const caFile = tlsPath(t.ca, name);
  const certFile = tlsPath(t.cert, name);
  const cas = pemBlocks(ca, 'CERTIFICATE').map((pem) => {
    try {
      return new X509Certificate(pem);
    } catch (e) {
      throw new ConfigError(`${t.ca.where}: ${caFile} holds a certificate that cannot be read (${(e as Error).message})`);
    }
  });
  if (cas.length === 0) throw new ConfigError(`${t.ca.where}: ${caFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    throw new ConfigError(`${t.cert.where}: ${certFile} is not a PEM certificate (${(e as Error).message})`);
  }
  if (!cas.some((c) => x509.checkIssued(c) && x509.verify(c.publicKey))) {
    throw new ConfigError(`${t.cert.where}: ${certFile} is not signed by the CA in ${caFile}; make it with that CA (see the README)`);
  }
  const now = Date.now();
  if (Date.parse(x509.validTo) < now) throw new ConfigError(`${t.cert.where}: ${certFile} expired on ${x509.validTo}; make a new one`);
  if (Date.parse(x509.validFrom) > now) throw new ConfigError(`${t.cert.where}: ${certFile} is valid only from ${x509.validFrom} (is this machine's clock right?)`);
  const own = certificateIdentity(x509);
  const names = processNamesOf(own);
  if (!names.includes(name)) {
    throw new ConfigError(`${t.cert.where}: ${certFile} names ${names.length > 0 ? names.join(', ') : 'no process'} (${describe(own)}), but this process is ${name}; give it a certificate naming ${name}`);
  }
  let matches: boolean;
  try {
    matches = x509.checkPrivateKey(createPrivateKey(key));
  } catch (e) {
    throw new ConfigError(`${t.key.where}: ${tlsPath(t.key, name)} is not a PEM private key (${(e as Error).message})`);
  }
  if (!matches) throw new ConfigError(`${t.key.where}: ${tlsPath(t.key, name)} is not the key of ${certFile}`);
  return { name, ca, cert, key };
}

function pemBlocks(text: Buffer, label: string): string[] {
  const re = new RegExp(`-----BEGIN ${label}-----[\\s\\S]*?-----END ${label}-----`, 'g');
  return text.toString('utf8').match(re) ?? [];
}
