import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/** The built page (dist/web), found from src/ (tests) and from dist/ (the CLI) alike. */
export const WEB_ROOT = join(import.meta.dirname, '..', 'dist', 'web');

const FILES: Readonly<Record<string, readonly [file: string, type: string]>> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/app.js.map': ['app.js.map', 'application/json'],
};

export interface SimWebServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves the simulation viewer on 127.0.0.1 (`port` 0 picks a free one). Fails with what to do
 * when the page is not built or the port is taken.
 */
export async function startSimWebServer(options: { readonly port: number; readonly root?: string }): Promise<SimWebServer> {
  const root = options.root ?? WEB_ROOT;
  for (const f of ['index.html', 'app.js']) {
    if (!existsSync(join(root, f))) throw new Error(`${join(root, f)} is missing: build the page first with 'pnpm build' (pnpm sim:web does)`);
  }
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const entry = FILES[path];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end(`${req.method ?? '?'} is not served here\n`);
    } else if (entry === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`${path}: no such page; the viewer is at /\n`);
    } else {
      readFile(join(root, entry[0])).then(
        (body) => res.writeHead(200, { 'content-type': entry[1], 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : body),
        (e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${entry[0]}: ${e.message}\n`),
      );
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' ? new Error(`127.0.0.1:${options.port} is in use: pass --port N for another port (0 picks a free one)`) : e),
    );
    server.listen(options.port, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
