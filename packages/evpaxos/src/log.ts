import type { Verbosity } from './config.js';

/** Log lines in LibPaxos3's format, `DD Mon HH:MM:SS. text`, on stderr (LibPaxos3 used stdout). */
export interface Logger {
  error(text: string): void;
  info(text: string): void;
  debug(text: string): void;
}

export type LogLevel = keyof Logger;

const LEVELS: Record<Verbosity, number> = { quiet: 0, error: 1, info: 2, debug: 3 };
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function timestamp(d: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getDate())} ${MONTHS[d.getMonth()]} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

export function createLogger(verbosity: Verbosity, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const level = LEVELS[verbosity];
  const line = (text: string) => write(`${timestamp(new Date())}. ${text}\n`);
  return {
    error: (text) => level >= 1 && line(text),
    info: (text) => level >= 2 && line(text),
    debug: (text) => level >= 3 && line(text),
  };
}

/** A logger that writes nothing (library users who bring no logger). */
export const silentLogger: Logger = { error: () => undefined, info: () => undefined, debug: () => undefined };

/** How often a repeated kind of line is summarised, unless the caller says otherwise. */
export const SUMMARY_INTERVAL_MS = 10_000;

interface Window {
  readonly level: LogLevel;
  readonly summary: (count: number, seconds: number) => string;
  count: number;
  since: number;
  readonly timer: NodeJS.Timeout;
}

/**
 * A logger that keeps repeated lines from flooding the log: the one mechanism every line that can
 * repeat many times a second goes through (a timeout per instance, a failed redial per backoff
 * step, a hostile peer's every message). The first line of a kind is written as it is; the next
 * ones of that kind are counted, and one summary line per interval says how many there were. A
 * kind that stays quiet for a whole interval is forgotten, so its next line is written at once.
 * LibPaxos3 wrote a line per event: 128 `Instance N timed out in phase 1.` lines a second while a
 * peer was down, and nothing about why.
 */
export class RateLimitedLogger implements Logger {
  private readonly windows = new Map<string, Window>();

  constructor(
    readonly base: Logger,
    private readonly intervalMs = SUMMARY_INTERVAL_MS,
  ) {}

  error(text: string): void {
    this.base.error(text);
  }

  info(text: string): void {
    this.base.info(text);
  }

  debug(text: string): void {
    this.base.debug(text);
  }

  /**
   * Writes `line` at `level` unless a line of `kind` was written or counted within the last
   * interval; then only counts it, for a line `summary(count, seconds)` at the end of the interval.
   */
  repeated(kind: string, level: LogLevel, line: string, summary: (count: number, seconds: number) => string, intervalMs = this.intervalMs): void {
    const w = this.windows.get(kind);
    if (w !== undefined) {
      w.count++;
      return;
    }
    this.base[level](line);
    const timer = setInterval(() => {
      const open = this.windows.get(kind);
      if (open === undefined) return;
      if (open.count === 0) this.forget(kind);
      else this.summarise(open);
    }, intervalMs);
    timer.unref();
    this.windows.set(kind, { level, summary, count: 0, since: Date.now(), timer });
  }

  /**
   * Ends the repeats of `kind` (the condition is over, e.g. a peer answered): writes its pending
   * summary now, and its next line is written at once.
   */
  end(kind: string): void {
    const w = this.windows.get(kind);
    if (w === undefined) return;
    if (w.count > 0) this.summarise(w);
    this.forget(kind);
  }

  /** Ends every kind that starts with `prefix`. */
  endAll(prefix: string): void {
    for (const kind of [...this.windows.keys()]) if (kind.startsWith(prefix)) this.end(kind);
  }

  /** Writes every pending summary and stops the timers (when the process closes). */
  close(): void {
    for (const kind of [...this.windows.keys()]) this.end(kind);
  }

  private summarise(w: Window): void {
    const now = Date.now();
    this.base[w.level](w.summary(w.count, Math.max(1, Math.round((now - w.since) / 1000))));
    w.count = 0;
    w.since = now;
  }

  private forget(kind: string): void {
    const w = this.windows.get(kind);
    if (w === undefined) return;
    clearInterval(w.timer);
    this.windows.delete(kind);
  }
}

/** `log` itself if it already limits repeats, or a new limiter around it. */
export function limitRepeats(log: Logger): RateLimitedLogger {
  return log instanceof RateLimitedLogger ? log : new RateLimitedLogger(log);
}
