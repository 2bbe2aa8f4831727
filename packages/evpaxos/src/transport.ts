import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as createTlsServer, type PeerCertificate, type TLSSocket } from 'node:tls';
import { formatHostPort, type Address, type PaxosConfig } from './config.js';
import { certificateIdentity, foreignPeer, loadTls, memberNames, wrongPeer, type TlsMaterial } from './tls.js';

/** Why an incoming connection was refused, for the log line and the metrics. */
export interface Refusal {
  /** The peer's address, `host:port`. */
  readonly remote: string;
  /** A sentence: what was wrong. */
  readonly why: string;
  /** `certificate` (none, or not signed by the CA…), `identity` (names a process not in the config), `handshake` (no TLS). */
  readonly reason: 'certificate' | 'identity' | 'handshake';
  /**
   * How much it is worth saying: `refused` (this process refused the peer: an error), `failed`
   * (the handshake did not complete, perhaps because the peer refused this process: said at info
   * level), `quiet` (closed before a byte was sent: a port check; debug only).
   */
  readonly level: 'refused' | 'failed' | 'quiet';
}

/**
 * How a process's connections are made: plain TCP (LibPaxos3's, the default), or mutual TLS with
 * peer authentication. Every connection of a process goes through one transport — those of the
 * network, of the sample client, and later the KV port — so that with TLS on nothing is left in
 * the clear and no peer joins without a certificate of the cluster's CA.
 */
export interface Transport {
  readonly secure: boolean;
  /** The name this process proves (TLS), or would prove. */
  readonly name: string;
  /**
   * A server that hands each connection that passed the checks to `onPeer`, with the peer's name
   * (TLS; undefined for plain TCP), and reports each refusal.
   */
  createServer(onPeer: (socket: Socket, peer: string | undefined) => void, onRefused: (r: Refusal) => void): Server;
  /**
   * Dials the process `expected` (its config line's name) at `addr`. The socket is ready for
   * messages at `readyEvent`. With `onRead`, a plain TCP socket reads into one buffer shared by
   * every such socket and hands each read to `onRead` (valid only until it returns) instead of
   * emitting 'data': Node otherwise allocates 64 KiB, shrinks it and wraps it in a new Buffer for
   * every read. A TLS socket ignores `onRead` and emits 'data' as usual.
   */
  connect(addr: Address, expected: string, onRead?: (chunk: Uint8Array) => void): Socket;
  readonly readyEvent: 'connect' | 'secureConnect';
}

/**
 * The buffer every plain dialled socket reads into. One is enough: reads run one at a time on the
 * loop's thread, and each is decoded before the next (the decoder copies what it keeps).
 */
const READ_BUFFER = new Uint8Array(64 * 1024);

/** Hands a read to `onRead`; true: keep reading (false would pause the socket). */
function readInto(onRead: (chunk: Uint8Array) => void, n: number, buf: Uint8Array): boolean {
  onRead(buf.subarray(0, n));
  return true;
}

/** LibPaxos3's plain TCP: no identity, no encryption. */
export function plainTransport(name: string): Transport {
  return {
    secure: false,
    name,
    createServer: (onPeer) => createServer((socket) => onPeer(socket, undefined)),
    connect: (addr, _expected, onRead) =>
      onRead === undefined
        ? createConnection({ host: addr.host, port: addr.port })
        : createConnection({ host: addr.host, port: addr.port, onread: { buffer: READ_BUFFER, callback: (n: number, buf: Uint8Array) => readInto(onRead, n, buf) } }),
    readyEvent: 'connect',
  };
}

/** A peer that opens a connection and sends no TLS handshake within this long is dropped. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** A dialled peer is not the process of its config line (see `wrongPeer`). */
export class PeerIdentityError extends Error {
  override readonly name = 'PeerIdentityError';
  readonly code = 'PAXOS_PEER_IDENTITY';
}

/**
 * Mutual TLS (TLS 1.3 only: every process is ours). Both sides present a certificate of the
 * cluster's CA. The dialling side checks that the peer names the process of the config line it
 * dialled (acceptor k, proposer k or replica k) instead of a host name; the accepting side
 * refuses a certificate that is missing, not signed by the CA, or names a process that is not in
 * the config. Refusals are reported with the peer's address and the reason.
 */
export function tlsTransport(material: TlsMaterial, members: ReadonlySet<string>): Transport {
  const { ca, cert, key, name } = material;
  return {
    secure: true,
    name,
    createServer(onPeer, onRefused) {
      // rejectUnauthorized is off so that a refused peer is reported with its address and the
      // reason; the check below refuses it before a byte of its is read.
      /** Connections (by remote address) whose handshake ended in an acceptance or a report already. */
      const settled = new Set<string>();
      const server = createTlsServer({ ca, cert, key, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3', handshakeTimeout: HANDSHAKE_TIMEOUT_MS }, (socket: TLSSocket) => {
        const remote = formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
        settled.add(remote);
        const peerCert = socket.getPeerCertificate();
        const refuse = (reason: Refusal['reason'], why: string) => {
          socket.destroy();
          onRefused({ remote, why, reason, level: 'refused' });
        };
        if (peerCert === null || Object.keys(peerCert).length === 0) return refuse('certificate', 'it presented no certificate');
        if (!socket.authorized) return refuse('certificate', certificateProblem(String(socket.authorizationError), peerCert));
        const id = certificateIdentity(peerCert);
        const foreign = foreignPeer(id, members);
        if (foreign !== undefined) return refuse('identity', foreign);
        onPeer(socket, [...new Set([...id.dns, ...id.cn])].filter((n) => members.has(n)).join(','));
      });
      server.on('tlsClientError', (e: NodeJS.ErrnoException, socket: TLSSocket) => {
        // A peer that hangs up during the handshake is reported when its socket closes (below),
        // where it shows whether it sent anything.
        if (e.code === 'ECONNRESET' || e.code === 'EPIPE' || socket.remoteAddress === undefined) return;
        const remote = formatHostPort(socket.remoteAddress, socket.remotePort ?? 0);
        settled.add(remote);
        onRefused({ remote, why: handshakeProblem(e), reason: 'handshake', level: 'refused' });
      });
      server.on('connection', (raw: Socket) => {
        const remote = formatHostPort(raw.remoteAddress ?? '?', raw.remotePort ?? 0);
        raw.once('close', () => {
          if (settled.delete(remote)) return;
          // Nothing sent: a port check (the demo's, a load balancer's). Something sent: a TLS
          // client that gave up, typically because it refused this process's certificate.
          if (raw.bytesRead === 0) onRefused({ remote, why: 'it closed the connection without a TLS handshake (a port check?)', reason: 'handshake', level: 'quiet' });
          else onRefused({ remote, why: "it closed the connection during the TLS handshake: it may refuse this process's certificate (see its log)", reason: 'handshake', level: 'failed' });
        });
      });
      return server;
    },
    connect(addr, expected) {
      return tlsConnect({
        host: addr.host,
        port: addr.port,
        ca,
        cert,
        key,
        minVersion: 'TLSv1.3',
        // The peer proves which process it is, not which host: certificates name processes.
        checkServerIdentity: (_host: string, peerCert: PeerCertificate) => {
          const wrong = wrongPeer(certificateIdentity(peerCert), expected);
          return wrong === undefined ? undefined : new PeerIdentityError(wrong);
        },
      });
    },
    readyEvent: 'secureConnect',
  };
}

/** The transport a process of `config` named `name` uses: TLS when the config has `tls-*` keys. */
export function transportFor(config: PaxosConfig, name: string): Transport {
  const material = loadTls(config, name);
  return material === undefined ? plainTransport(name) : tlsTransport(material, memberNames(config));
}

const CERTIFICATE_PROBLEMS: Record<string, string> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "its certificate is not signed by this cluster's CA (tls-ca)",
  UNABLE_TO_GET_ISSUER_CERT: "its certificate is not signed by this cluster's CA (tls-ca)",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "its certificate is not signed by this cluster's CA (tls-ca)",
  SELF_SIGNED_CERT_IN_CHAIN: "its certificate chain ends in a CA that is not this cluster's (tls-ca)",
  DEPTH_ZERO_SELF_SIGNED_CERT: "it presented a self-signed certificate, not one of this cluster's CA (tls-ca)",
  CERT_HAS_EXPIRED: 'its certificate has expired',
  CERT_NOT_YET_VALID: 'its certificate is not valid yet (check the clocks)',
  CERT_SIGNATURE_FAILURE: 'the signature of its certificate is invalid',
};

function certificateProblem(code: string, peerCert: PeerCertificate): string {
  const names = [peerCert.subject?.CN, peerCert.subjectaltname].filter((x) => x !== undefined && x !== '').join(', ');
  return `${CERTIFICATE_PROBLEMS[code] ?? `its certificate was refused (${code})`}${names !== '' ? ` (${names})` : ''}`;
}

function handshakeProblem(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ERR_TLS_HANDSHAKE_TIMEOUT':
      return `it sent no TLS handshake within ${HANDSHAKE_TIMEOUT_MS / 1000} s (a process with TLS off, or C LibPaxos3, cannot join a cluster with TLS on)`;
    case 'ERR_SSL_HTTP_REQUEST':
      return 'it sent an HTTP request, not a TLS handshake';
    default:
      return `the TLS handshake failed (${e.code ?? e.message})`;
  }
}

/** What a failed dial's TLS error means: a sentence, and whether the peer was refused (its identity or certificate), not merely unreachable. */
export function dialProblem(e: NodeJS.ErrnoException): { readonly why: string; readonly refused: boolean } | undefined {
  if (e instanceof PeerIdentityError) return { why: e.message, refused: true };
  const known = e.code !== undefined ? CERTIFICATE_PROBLEMS[e.code] : undefined;
  if (known !== undefined) return { why: `${known} (${e.code})`, refused: true };
  if (e.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || e.code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    return { why: `it does not speak TLS (TLS off in its config, or C LibPaxos3) (${e.code})`, refused: true };
  }
  if (e.code?.startsWith('ERR_SSL_') === true || e.code?.startsWith('ERR_TLS_') === true) return { why: `the TLS handshake failed (${e.code})`, refused: true };
  if (/before secure TLS connection was established/.test(e.message)) {
    return { why: 'it closed the connection during the TLS handshake (TLS off in its config, or it refused our certificate: see its log)', refused: true };
  }
  return undefined;
}
