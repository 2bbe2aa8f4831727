import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const CLI = join(import.meta.dirname, '..', 'dist', 'sim-web.js');

describe('the sim:web command', () => {
  it('prints the URL it serves on 127.0.0.1, serves the page and its script, and stops cleanly on SIGINT', async () => {
    const child = spawn(process.execPath, [CLI, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`no URL within 30 s; printed: ${out}`)), 30_000);
        child.stdout.on('data', (b: Buffer) => {
          out += b.toString();
          const m = /open (http:\/\/127\.0\.0\.1:\d+\/) in a browser/.exec(out);
          if (m?.[1] !== undefined) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}: ${out}`)));
      });
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<script type="module" src="./app.js">');
      const app = await fetch(new URL('app.js', url));
      expect(app.headers.get('content-type')).toMatch(/^text\/javascript/);
      expect((await fetch(new URL('../../etc/passwd', url))).status).toBe(404);
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);

  it('refuses a port that is not one, with the usage', () => {
    const r = spawnSync(process.execPath, [CLI, '--port', '70000'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("sim:web: --port must be a whole number from 0 to 65535, got '70000'");
    expect(r.stderr).toContain('Usage: pnpm sim:web');
  }, 60_000);

  it('says the port is taken and how to pick another', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = blocker.address() as AddressInfo;
      const r = spawnSync(process.execPath, [CLI, '--port', String(port)], { encoding: 'utf8', timeout: 30_000 });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`sim:web: 127.0.0.1:${port} is in use: pass --port N for another port (0 picks a free one)`);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  }, 60_000);
});
