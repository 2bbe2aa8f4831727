#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { startSimWebServer } from './web-server.js';

const USAGE = `Usage: pnpm sim:web [--port N]

Serves a page on 127.0.0.1 that runs one seeded paxos-sim simulation in your browser (the same
code and trace hash as pnpm sim) and plays it back on a space-time diagram: processes, messages
in flight, crashes, partitions, lost and duplicated messages, and each instance's decision, with
play, pause, step and speed controls. Paste a replay command printed by pnpm sim into its seed box.

  --port N      port on 127.0.0.1 (default 8080; 0 picks a free one)`;

function fail(message: string): never {
  process.stderr.write(`sim:web: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

const { values: args } = (() => {
  try {
    return parseArgs({ options: { port: { type: 'string', default: '8080' }, help: { type: 'boolean', short: 'h', default: false } }, strict: true });
  } catch (e) {
    return fail((e as Error).message);
  }
})();
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (!/^\d+$/.test(args.port) || Number(args.port) > 65535) fail(`--port must be a whole number from 0 to 65535, got '${args.port}'`);

try {
  const server = await startSimWebServer({ port: Number(args.port) });
  process.stdout.write(`sim:web: open ${server.url} in a browser (Ctrl-C stops the server)\n`);
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (e) {
  process.stderr.write(`sim:web: ${(e as Error).message}\n`);
  process.exit(1);
}
