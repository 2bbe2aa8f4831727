import type { ChildProcess } from 'node:child_process';
import { connect } from 'node:net';

/** Whether something accepts TCP connections at host:port. */
export function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/** Polls until host:port accepts connections; false after `ms`. */
export async function waitListening(host: string, port: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!(await listening(host, port))) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** SIGTERM every child that still runs, SIGKILL after 5 s, and wait for all of them. */
export async function stopAll(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          const kill = setTimeout(() => c.kill('SIGKILL'), 5000);
          c.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          c.kill('SIGTERM');
        }),
    ),
  );
}
