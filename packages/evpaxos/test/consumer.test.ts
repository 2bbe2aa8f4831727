import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const packages = join(here, '..', '..');
const require = createRequire(import.meta.url);
const tsc = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
const typesNode = dirname(require.resolve('@types/node/package.json'));

/**
 * A consumer's code: it uses types from both packages, and a deliberate type error that must be
 * reported, so the check fails if the imports resolve to nothing (`any`) instead of our types.
 */
const CONSUMER = `import { Acceptor, newEffects, type Message } from '@libpaxos/paxos-core';
import { parseConfig, type Proposed, type PumpedRole, type ReplicaHandle } from '@libpaxos/evpaxos';

const out = newEffects();
const prepare: Message = { type: 'prepare', iid: 1, ballot: 11 };
new Acceptor({ id: 0 }).receive(1, prepare, out);
const acceptors: number = parseConfig('replica 0 127.0.0.1 8800').acceptors.length;
export async function first(replica: ReplicaHandle): Promise<Proposed> {
  return replica.propose(new Uint8Array([acceptors]));
}
// @ts-expect-error a delivered position is a number, not a string
export const wrong: string = out.deliver[0]?.index ?? 0;
// @ts-expect-error evpaxos's types reach paxos-core's: a role receives a Message, not a string
export const role: PumpedRole = { receive: (_from: number, _msg: string) => undefined, tick: () => undefined };
`;

/** Type-checks CONSUMER in a temp folder that sees the built packages as installed ones. */
function typecheck(compilerOptions: Record<string, unknown>, packageType: 'module' | 'commonjs'): void {
  const dir = mkdtempSync(join(tmpdir(), 'paxos-consumer-'));
  try {
    mkdirSync(join(dir, 'node_modules', '@libpaxos'), { recursive: true });
    mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
    symlinkSync(join(packages, 'paxos-core'), join(dir, 'node_modules', '@libpaxos', 'paxos-core'), 'dir');
    symlinkSync(join(packages, 'evpaxos'), join(dir, 'node_modules', '@libpaxos', 'evpaxos'), 'dir');
    symlinkSync(typesNode, join(dir, 'node_modules', '@types', 'node'), 'dir');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: packageType }));
    writeFileSync(join(dir, 'index.ts'), CONSUMER);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, noEmit: true, skipLibCheck: true, types: ['node'], target: 'ES2022', ...compilerOptions }, files: ['index.ts'] }));
    execFileSync(process.execPath, [tsc, '-p', dir], { cwd: dir, stdio: 'pipe' });
  } catch (e) {
    const err = e as { stdout?: Buffer; message: string };
    throw new Error(`tsc failed for ${JSON.stringify(compilerOptions)}:\n${err.stdout?.toString() ?? err.message}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the published packages, as a consumer sees them', () => {
  const built = existsSync(join(packages, 'paxos-core', 'dist', 'index.d.ts')) && existsSync(join(packages, 'evpaxos', 'dist', 'index.d.ts'));

  it('types resolve with moduleResolution node10 (main/types fields), node16/nodenext and bundler (exports)', () => {
    expect(built, 'build paxos-core and evpaxos first (pnpm build)').toBe(true);
    typecheck({ module: 'commonjs', moduleResolution: 'node10' }, 'commonjs');
    typecheck({ module: 'esnext', moduleResolution: 'bundler' }, 'module');
    typecheck({ module: 'nodenext', moduleResolution: 'nodenext' }, 'module');
  }, 60_000);
});
