import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A CA and a certificate per process for a local cluster, made with the `openssl` command line
 * (OpenSSL 3) as the README shows: EC P-256 keys, each certificate naming its process in its CN
 * and as a DNS subjectAltName (`replica-0`, `learner`, `client`…), signed by the CA. For demos,
 * benchmarks and tests; a production CA lives elsewhere.
 */
export interface ClusterCerts {
  /** The folder: `ca.crt`, and `<name>.crt`, `<name>.key` per process. */
  readonly dir: string;
  /** The paxos.conf lines that switch TLS on with these files. */
  readonly configLines: readonly string[];
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT') throw new Error('the openssl command is not installed; install it (Debian: apt-get install openssl) to make certificates');
    throw new Error(`openssl ${args[0]} failed: ${err.stderr?.toString().trim() ?? err.message}`);
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** Makes a CA named `caName` in `dir` (`<file>.crt`, `<file>.key`). */
export function makeCa(dir: string, file = 'ca', caName = 'libpaxos-ts cluster CA'): void {
  mkdirSync(dir, { recursive: true });
  openssl(['req', '-x509', ...EC, '-days', '3650', '-subj', `/CN=${caName}`, '-keyout', `${file}.key`, '-out', `${file}.crt`], dir);
}

/**
 * A certificate for process `name` signed by the CA `ca` of `dir`, written as `<file>.crt` and
 * `<file>.key` (file defaults to the name). `dnsNames` overrides what it names (default: the name).
 */
export function makeCert(dir: string, name: string, opts: { readonly ca?: string; readonly file?: string; readonly dnsNames?: readonly string[] } = {}): void {
  const file = opts.file ?? name;
  const ca = opts.ca ?? 'ca';
  const san = (opts.dnsNames ?? [name]).map((n) => `DNS:${n}`).join(',');
  openssl(['req', '-new', ...EC, '-subj', `/CN=${name}`, ...(san !== '' ? ['-addext', `subjectAltName=${san}`] : []), '-keyout', `${file}.key`, '-out', `${file}.csr`], dir);
  openssl(['x509', '-req', '-in', `${file}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '825', '-copy_extensions', 'copyall', '-out', `${file}.crt`], dir);
  rmSync(join(dir, `${file}.csr`), { force: true });
}

/** A CA and certificates for `names` in `dir` (created), and the config lines that use them. */
export function makeClusterCerts(dir: string, names: readonly string[]): ClusterCerts {
  makeCa(dir);
  for (const name of names) makeCert(dir, name);
  writeFileSync(join(dir, 'README'), 'Made by libpaxos-ts for a local cluster: ca.crt signs <name>.crt; keys are unencrypted.\n');
  return { dir, configLines: [`tls-ca ${join(dir, 'ca.crt')}`, `tls-cert ${join(dir, '<id>.crt')}`, `tls-key ${join(dir, '<id>.key')}`] };
}
