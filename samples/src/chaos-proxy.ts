import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A fault-injecting TCP proxy for one directed link (one process dialling one replica): the
 * processes do not know it is there. Faults keep TCP's guarantees for what does arrive — bytes are
 * delayed or held back in order, never reordered — and model what TCP cannot hide: cut links,
 * reset connections, one direction stalled.
 */
export class LinkProxy {
  private server: Server | null = null;
  private readonly pairs = new Set<{ a: Socket; b: Socket }>();
  private cut = false;
  private delayMs = 0;
  /** Bytes towards the target are held back (a one-way partition). */
  private stalled = false;
  private readonly held = new Map<Socket, Buffer[]>();

  constructor(
    readonly listenPort: number,
    readonly targetPort: number,
  ) {}

  start(): Promise<void> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, '127.0.0.1', () => resolve());
    });
  }

  /** Cut: close every connection and refuse new ones until healed. */
  setCut(cut: boolean): void {
    this.cut = cut;
    if (cut) this.reset();
  }

  setDelay(ms: number): void {
    this.delayMs = ms;
  }

  /** Hold back bytes towards the target (the other direction still flows). */
  setStalled(stalled: boolean): void {
    this.stalled = stalled;
    if (stalled) return;
    for (const [target, chunks] of this.held) for (const c of chunks) if (!target.destroyed) target.write(c);
    this.held.clear();
  }

  /** Drop every connection now; the processes reconnect. */
  reset(): void {
    for (const { a, b } of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
    this.held.clear();
  }

  heal(): void {
    this.setCut(false);
    this.setDelay(0);
    this.setStalled(false);
  }

  async close(): Promise<void> {
    this.reset();
    const server = this.server;
    if (server !== null) await new Promise<void>((r) => server.close(() => r()));
  }

  private accept(client: Socket): void {
    if (this.cut) {
      client.destroy();
      return;
    }
    const target = createConnection({ host: '127.0.0.1', port: this.targetPort });
    const pair = { a: client, b: target };
    this.pairs.add(pair);
    const close = () => {
      client.destroy();
      target.destroy();
      this.pairs.delete(pair);
      this.held.delete(target);
    };
    client.on('error', close);
    target.on('error', close);
    client.on('close', close);
    target.on('close', close);
    client.setNoDelay(true);
    target.setNoDelay(true);
    // Both directions delayed in order; towards the target also held back while stalled.
    this.relay(client, target, true);
    this.relay(target, client, false);
  }

  private relay(from: Socket, to: Socket, stallable: boolean): void {
    let lastRelease = 0;
    from.on('data', (chunk: Buffer) => {
      if (stallable && this.stalled) {
        const held = this.held.get(to);
        if (held === undefined) this.held.set(to, [chunk]);
        else held.push(chunk);
        return;
      }
      if (this.delayMs === 0 && lastRelease <= Date.now()) {
        to.write(chunk);
        return;
      }
      const release = Math.max(Date.now() + this.delayMs, lastRelease);
      lastRelease = release;
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
      }, release - Date.now());
    });
  }
}
