import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, relative, sep } from 'node:path';
import { PACKAGE_ROOT, publishedEntry } from './harness.js';

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.mjs': 'text/javascript', '.js': 'text/javascript', '.json': 'application/json', '.map': 'application/json' };
/** Where the page finds the package, as a static host would serve an installed node_modules. */
const PACKAGE_URL = '/node_modules/@libpaxos/paxos-core/';

/**
 * Serves the browser test on 127.0.0.1 (a free port): page.html with an import map that maps
 * `@libpaxos/paxos-core` to the package's published entry, the page's scripts, and the package's
 * built files (`dist/` only: what the package publishes besides its sources).
 */
export async function servePage(): Promise<{ readonly url: string; close(): Promise<void> }> {
  const entry = relative(PACKAGE_ROOT, publishedEntry()).split(sep).join('/');
  const importMap = JSON.stringify({ imports: { '@libpaxos/paxos-core': `${PACKAGE_URL}${entry}` } });
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      let file: string | undefined;
      if (path === '/') file = join(import.meta.dirname, 'page.html');
      else if (/^\/[a-z]+\.mjs$/.test(path)) file = join(import.meta.dirname, path.slice(1));
      else if (path.startsWith(`${PACKAGE_URL}dist/`) && !path.includes('..')) file = join(PACKAGE_ROOT, path.slice(PACKAGE_URL.length));
      let body: Buffer | string;
      try {
        if (file === undefined) throw new Error('not served');
        body = await readFile(file);
      } catch {
        res.writeHead(404, { 'content-type': 'text/plain' }).end(`${path}: not found`);
        return;
      }
      if (path === '/') body = body.toString('utf8').replace(/<!-- IMPORT MAP:.*?-->/, `<script type="importmap">${importMap}</script>`);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(body);
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
