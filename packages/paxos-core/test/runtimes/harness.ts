import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'vitest';
import { VALUES, checkDeliveries, runCluster, valueText, type ClusterRun } from './cluster.mjs';

export type { ClusterRun };

/** The package under test: its package.json, its `exports`, its built `dist`. */
export const PACKAGE_ROOT = join(import.meta.dirname, '..', '..');
const HERE = import.meta.dirname;

/**
 * Where the package's `exports` send an importer that is not a TypeScript source build (the
 * `paxos-src` condition is ours, for tests and typechecks): the published entry point.
 */
export function publishedEntry(): string {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { exports: { '.': Record<string, string> } };
  const target = pkg.exports['.']['default'];
  if (target === undefined) throw new Error('package.json exports["."] has no "default" entry');
  const file = join(PACKAGE_ROOT, target);
  if (!existsSync(file)) throw new Error(`${file} is missing: build paxos-core first (turbo runs 'build' before 'test')`);
  return file;
}

/** The same cluster in this Node process, on the built package: what every runtime must reproduce. */
export async function nodeReference(): Promise<ClusterRun> {
  const core: unknown = await import(pathToFileURL(publishedEntry()).href);
  return runCluster(core);
}

/**
 * Asserts a run delivered every value once, in instance order, and exactly the sequence the Node
 * reference delivered: the core is deterministic, so any runtime that differs computes differently.
 */
export function expectSameDeliveries(run: ClusterRun, reference: ClusterRun): void {
  expect(checkDeliveries(run.delivered)).toEqual([]);
  expect(run.delivered).toHaveLength(VALUES);
  expect(run.delivered[0]).toEqual({ iid: 1, value: valueText(0) });
  expect(run.delivered).toEqual(reference.delivered);
  expect(run.steps).toBe(reference.steps);
}

/**
 * A throwaway application that depends on @libpaxos/paxos-core: its node_modules links the
 * package, so a runtime resolves the bare specifier through the package's `exports` as it
 * would for a published package. Holds main.mjs and cluster.mjs.
 */
export function consumerProject(): { readonly dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'paxos-core-consumer-'));
  try {
    writeFileSync(
      join(dir, 'package.json'),
      `${JSON.stringify({ name: 'paxos-core-consumer', private: true, type: 'module', dependencies: { '@libpaxos/paxos-core': '*' } }, null, 2)}\n`,
    );
    mkdirSync(join(dir, 'node_modules', '@libpaxos'), { recursive: true });
    symlinkSync(PACKAGE_ROOT, join(dir, 'node_modules', '@libpaxos', 'paxos-core'), 'dir');
    for (const f of ['main.mjs', 'cluster.mjs']) copyFileSync(join(HERE, f), join(dir, f));
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The executable that `pnpm install` put in this package's node_modules/.bin for a dev
 * dependency (`bun`, `deno`). Missing is a failure that says what to do.
 */
export function devBinary(name: string): string {
  const bin = join(PACKAGE_ROOT, 'node_modules', '.bin', name);
  if (!existsSync(bin)) throw new Error(`${bin} is missing: ${name} is a devDependency of paxos-core; run 'pnpm install'`);
  return bin;
}

/** The version of an installed dev dependency, from its package.json. */
export function devVersion(name: string): string {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * Runs a command to completion (killed after `timeoutMs`) and returns its stdout. Anything but a
 * clean exit — not found, not executable, a signal, a non-zero status, the timeout — throws an
 * error with the reason and what the command printed on stderr.
 */
export function runToEnd(command: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, NO_COLOR: '1', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => stdout.push(b));
    child.stderr.on('data', (b: Buffer) => stderr.push(b));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    const what = `${command} ${args.join(' ')}`;
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${what} could not start: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const err = Buffer.concat(stderr).toString('utf8').trim();
      if (timedOut) reject(new Error(`${what} did not finish within ${options.timeoutMs} ms${err ? `; stderr:\n${err}` : ''}`));
      else if (code !== 0) reject(new Error(`${what} exited with ${signal ?? `status ${code}`}${err ? `; stderr:\n${err}` : ''}`));
      else resolve(Buffer.concat(stdout).toString('utf8'));
    });
  });
}
