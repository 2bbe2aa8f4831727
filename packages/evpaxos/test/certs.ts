import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Certificates for the TLS tests, made with the openssl command line as the README shows (the
 * samples' `certs.ts` does the same for `pnpm demo --tls`): CA `ca`, a foreign CA `other`, and
 * certificates signed by either, naming whatever a test needs.
 */
export class TestCerts {
  readonly dir = mkdtempSync(join(tmpdir(), 'paxos-certs-'));

  constructor() {
    for (const ca of ['ca', 'other']) this.openssl(['req', '-x509', ...EC, '-days', '30', '-subj', `/CN=${ca} CA`, '-keyout', `${ca}.key`, '-out', `${ca}.crt`]);
  }

  /** `<file>.crt` and `<file>.key` for a certificate with CN `cn` and the DNS names given, signed by `ca`. */
  make(file: string, cn: string, opts: { readonly ca?: 'ca' | 'other'; readonly dns?: readonly string[] } = {}): this {
    const dns = opts.dns ?? [cn];
    const ext = dns.length > 0 ? ['-addext', `subjectAltName=${dns.map((d) => `DNS:${d}`).join(',')}`] : [];
    this.openssl(['req', '-new', ...EC, '-subj', `/CN=${cn}`, ...ext, '-keyout', `${file}.key`, '-out', `${file}.csr`]);
    this.openssl(['x509', '-req', '-in', `${file}.csr`, '-CA', `${opts.ca ?? 'ca'}.crt`, '-CAkey', `${opts.ca ?? 'ca'}.key`, '-CAcreateserial', '-days', '30', '-copy_extensions', 'copyall', '-out', `${file}.crt`]);
    return this;
  }

  /** The config lines for TLS with CA `ca`, certificates `<prefix><id>.crt`. */
  lines(ca: 'ca' | 'other' = 'ca', prefix = ''): string[] {
    return [`tls-ca ${join(this.dir, `${ca}.crt`)}`, `tls-cert ${join(this.dir, `${prefix}<id>.crt`)}`, `tls-key ${join(this.dir, `${prefix}<id>.key`)}`];
  }

  path(file: string): string {
    return join(this.dir, file);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private openssl(args: string[]): void {
    execFileSync('openssl', args, { cwd: this.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
