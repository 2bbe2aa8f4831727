/**
 * memcached's number parsing, byte for byte: its `safe_strtoul`, `safe_strtol` and `safe_strtoull`
 * (util.c) call C's strtoul/strtol/strtoull on a 64-bit (LP64) build and then store into a narrower
 * type. Clients see the quirks, so we keep them: leading whitespace and a sign are accepted, the
 * number must end at the end of the token or at whitespace ("12 a" is 12), a value that only a
 * negative number can give is refused ("-1" as an unsigned), and flags and exptime are cut to 32
 * bits ("4294967297" seconds is 1 second).
 */

const U64_MAX = (1n << 64n) - 1n;
const I64_MAX = (1n << 63n) - 1n;

export function isCSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

interface Scanned {
  /** The magnitude of the digits read (before the sign is applied). */
  readonly magnitude: bigint;
  readonly negative: boolean;
  /** Whether a '-' occurs anywhere in the token (memcached's `strchr(str, '-')`). */
  readonly hasMinus: boolean;
}

/**
 * C's scan for strto*: whitespace, an optional sign, at least one decimal digit, and then the end
 * of the token, a NUL or whitespace. Null when that shape is not there.
 */
function scan(buf: Uint8Array, start: number, end: number): Scanned | null {
  let i = start;
  while (i < end && isCSpace(buf[i] as number)) i++;
  let negative = false;
  if (i < end && (buf[i] === 0x2b || buf[i] === 0x2d)) {
    negative = buf[i] === 0x2d;
    i++;
  }
  const digitsFrom = i;
  let small = 0;
  let big: bigint | null = null;
  while (i < end) {
    const c = buf[i] as number;
    if (c < 0x30 || c > 0x39) break;
    if (big === null) {
      small = small * 10 + (c - 0x30);
      if (i - digitsFrom >= 14) big = BigInt(small);
    } else {
      big = big * 10n + BigInt(c - 0x30);
    }
    i++;
  }
  if (i === digitsFrom) return null;
  if (i < end && !isCSpace(buf[i] as number) && buf[i] !== 0) return null;
  let hasMinus = false;
  for (let j = start; j < end && buf[j] !== 0; j++) if (buf[j] === 0x2d) hasMinus = true;
  return { magnitude: big ?? BigInt(small), negative, hasMinus };
}

/** `safe_strtoull`: an unsigned 64-bit number, or null where memcached refuses the token. */
export function parseU64(buf: Uint8Array, start = 0, end = buf.length): bigint | null {
  const s = scan(buf, start, end);
  if (s === null || s.magnitude > U64_MAX) return null; // ERANGE
  const v = s.negative ? BigInt.asUintN(64, -s.magnitude) : s.magnitude;
  // Only a negative number can give a value that is negative as a signed 64-bit number.
  if (v > I64_MAX && s.hasMinus) return null;
  return v;
}

/** `safe_strtoul` into a uint32_t (flags, verbosity): the unsigned long cut to 32 bits. */
export function parseU32(buf: Uint8Array, start = 0, end = buf.length): number | null {
  const v = parseU64(buf, start, end);
  return v === null ? null : Number(v & 0xffffffffn);
}

/** `safe_strtol` into an int32_t (exptime, data length): the long cut to 32 bits. */
export function parseI32(buf: Uint8Array, start = 0, end = buf.length): number | null {
  const s = scan(buf, start, end);
  if (s === null) return null;
  if (s.negative ? s.magnitude > I64_MAX + 1n : s.magnitude > I64_MAX) return null; // ERANGE
  return Number(BigInt.asIntN(32, s.negative ? -s.magnitude : s.magnitude));
}

/** A u64 as memcached prints it. */
export function u64ToString(v: bigint): string {
  return BigInt.asUintN(64, v).toString();
}

export { U64_MAX };
