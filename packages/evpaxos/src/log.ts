import type { Verbosity } from './config.js';

/** Log lines in LibPaxos3's format, `DD Mon HH:MM:SS. text`, on stderr (LibPaxos3 used stdout). */
export interface Logger {
  error(text: string): void;
  info(text: string): void;
  debug(text: string): void;
}

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
