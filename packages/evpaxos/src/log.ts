import type { LogFormat, Verbosity } from './config.js';

/**
 * Structured details of a log line (peer, address, instance, reason…). LibPaxos3's text format
 * leaves them out (the text says it all); the JSON format carries them as `fields`.
 */
export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>;

/**
 * Where a process's log lines go: LibPaxos3's format (`DD Mon HH:MM:SS. text`) or one JSON object
 * a line, on stderr (LibPaxos3 used stdout).
 */
export interface Logger {
  error(text: string, fields?: LogFields): void;
  info(text: string, fields?: LogFields): void;
  debug(text: string, fields?: LogFields): void;
}

export type LogLevel = keyof Logger;

const LEVELS: Record<Verbosity, number> = { quiet: 0, error: 1, info: 2, debug: 3 };
const LEVEL_OF: Record<LogLevel, number> = { error: 1, info: 2, debug: 3 };
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function timestamp(d: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getDate())} ${MONTHS[d.getMonth()]} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** Who writes the lines, for the JSON format: `role` (acceptor, proposer, replica, learner, client…) and id. */
export interface LogSource {
  readonly format?: LogFormat;
  readonly role?: string;
  /** The role's id; none for a learner or a client. */
  readonly id?: number;
}

/**
 * A logger writing at `verbosity` and above. Text: LibPaxos3's line format (fields left out).
 * JSON: `{"time","level","role","id","message","fields"}` a line, `time` in ISO 8601 (UTC, ms),
 * `id` null for a process without one, `fields` always an object.
 */
export function createLogger(verbosity: Verbosity, write: (line: string) => void = (l) => process.stderr.write(l), source: LogSource = {}): Logger {
  const level = LEVELS[verbosity];
  const role = source.role ?? null;
  const id = source.id ?? null;
  const line =
    source.format === 'json'
      ? (lvl: LogLevel, text: string, fields?: LogFields) =>
          write(`${JSON.stringify({ time: new Date().toISOString(), level: lvl, role, id, message: text, fields: definedFields(fields) })}\n`)
      : (_lvl: LogLevel, text: string) => write(`${timestamp(new Date())}. ${text}\n`);
  return {
    error: (text, fields) => level >= 1 && line('error', text, fields),
    info: (text, fields) => level >= 2 && line('info', text, fields),
    debug: (text, fields) => level >= 3 && line('debug', text, fields),
  };
}

function definedFields(fields: LogFields | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (fields === undefined) return out;
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v;
  return out;
}

/** A logger that writes nothing (library users who bring no logger). */
export const silentLogger: Logger = { error: () => undefined, info: () => undefined, debug: () => undefined };

/** How often a repeated kind of line is summarised, unless the caller says otherwise. */
export const SUMMARY_INTERVAL_MS = 10_000;

/**
 * Kinds of lines tracked at once. A process that writes more distinct lines than this within an
 * interval writes the others unlimited rather than holding an unbounded table.
 */
const MAX_KINDS = 1024;

interface Window {
  readonly level: LogLevel;
  readonly summary: (count: number, seconds: number) => string;
  readonly fields: LogFields | undefined;
  readonly intervalMs: number;
  count: number;
  since: number;
  /** When the summary (or forgetting the kind) is due. */
  due: number;
}

/**
 * A logger that keeps repeated lines from flooding the log: the one mechanism every line goes
 * through. A line that repeats word for word (a peer that reconnects and drops again and again)
 * is written once, then counted; lines of one kind that differ in a number (a timeout per
 * instance, a failed redial per backoff step, a hostile peer's every message) are grouped with
 * `repeated`. In both cases the next ones within the interval are counted, and one summary line
 * per interval says how many there were. A kind that stays quiet for a whole interval is
 * forgotten, so its next line is written at once. LibPaxos3 wrote a line per event: 128
 * `Instance N timed out in phase 1.` lines a second while a peer was down, and nothing about why.
 * Debug lines are not limited: that level is asked for to see everything.
 */
export class RateLimitedLogger implements Logger {
  private readonly windows = new Map<string, Window>();
  /** One timer for every window, running only while some window is open. */
  private timer: NodeJS.Timeout | undefined;
  private readonly level: number;

  constructor(
    readonly base: Logger,
    private readonly intervalMs = SUMMARY_INTERVAL_MS,
    /** Lines below this level are dropped before any counting (they would be dropped anyway). */
    verbosity: Verbosity = 'debug',
  ) {
    this.level = LEVELS[verbosity];
  }

  error(text: string, fields?: LogFields): void {
    this.same('error', text, fields);
  }

  info(text: string, fields?: LogFields): void {
    this.same('info', text, fields);
  }

  debug(text: string, fields?: LogFields): void {
    if (this.level >= 3) this.base.debug(text, fields);
  }

  /**
   * Writes `line` at `level` unless a line of `kind` was written or counted within the last
   * interval; then only counts it, for a line `summary(count, seconds)` at the end of the interval.
   */
  repeated(kind: string, level: LogLevel, line: string, summary: (count: number, seconds: number) => string, intervalMs = this.intervalMs, fields?: LogFields): void {
    if (this.level < LEVEL_OF[level]) return;
    const w = this.windows.get(kind);
    if (w !== undefined) {
      w.count++;
      return;
    }
    this.base[level](line, fields);
    if (this.windows.size >= MAX_KINDS) return;
    const now = Date.now();
    this.windows.set(kind, { level, summary, fields, intervalMs, count: 0, since: now, due: now + intervalMs });
    this.arm(intervalMs);
  }

  /**
   * Ends the repeats of `kind` (the condition is over, e.g. a peer answered): writes its pending
   * summary now, and its next line is written at once.
   */
  end(kind: string): void {
    const w = this.windows.get(kind);
    if (w === undefined) return;
    if (w.count > 0) this.summarise(w, Date.now());
    this.windows.delete(kind);
  }

  /** Ends every kind that starts with `prefix`. */
  endAll(prefix: string): void {
    for (const kind of [...this.windows.keys()]) if (kind.startsWith(prefix)) this.end(kind);
  }

  /** Writes every pending summary and stops the timer (when the process closes). */
  close(): void {
    for (const kind of [...this.windows.keys()]) this.end(kind);
    this.disarm();
  }

  /** A line repeated word for word within the interval is counted, not written again. */
  private same(level: 'error' | 'info', text: string, fields: LogFields | undefined): void {
    this.repeated(`= ${level} ${text}`, level, text, (n, s) => `Repeated ${n} more time${n === 1 ? '' : 's'} in the last ${s} s: ${text}`, this.intervalMs, fields);
  }

  /** Checks the windows as often as the shortest interval among them needs. */
  private arm(intervalMs: number): void {
    const every = Math.max(50, Math.min(1000, intervalMs));
    if (this.timer !== undefined && every >= this.every) return;
    this.disarm();
    this.every = every;
    this.timer = setInterval(() => this.check(), every);
    this.timer.unref();
  }

  private every = Infinity;

  private disarm(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.every = Infinity;
  }

  private check(): void {
    const now = Date.now();
    for (const [kind, w] of this.windows) {
      if (now < w.due) continue;
      if (w.count === 0) {
        this.windows.delete(kind);
        continue;
      }
      this.summarise(w, now);
    }
    if (this.windows.size === 0) this.disarm();
  }

  private summarise(w: Window, now: number): void {
    const seconds = Math.max(1, Math.round((now - w.since) / 1000));
    this.base[w.level](w.summary(w.count, seconds), { ...w.fields, repeats: w.count, seconds });
    w.count = 0;
    w.since = now;
    w.due = now + w.intervalMs;
  }
}

/** `log` itself if it already limits repeats, or a new limiter around it. */
export function limitRepeats(log: Logger): RateLimitedLogger {
  return log instanceof RateLimitedLogger ? log : new RateLimitedLogger(log);
}
