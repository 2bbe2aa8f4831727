import { describe, expect, it } from 'vitest';
import { parseI32, parseU32, parseU64 } from '../src/index.js';
import { latin1 } from './harness.js';

const u64 = (s: string) => parseU64(latin1(s));
const u32 = (s: string) => parseU32(latin1(s));
const i32 = (s: string) => parseI32(latin1(s));

describe("memcached's number parsing (safe_strtoull, safe_strtoul, safe_strtol on LP64)", () => {
  it('reads plain decimals', () => {
    expect(u64('0')).toBe(0n);
    expect(u64('18446744073709551615')).toBe(18446744073709551615n);
    expect(u32('4294967295')).toBe(4294967295);
    expect(i32('-5')).toBe(-5);
  });

  it('accepts leading whitespace and a sign, and a number that ends at whitespace or NUL', () => {
    expect(u64(' \t12')).toBe(12n);
    expect(u64('+5')).toBe(5n);
    expect(u64('12 abc')).toBe(12n);
    expect(u64('12\r')).toBe(12n);
    expect(u64('7\0junk')).toBe(7n);
    expect(i32('\t-3')).toBe(-3);
  });

  it('refuses empty input, junk after the digits, and out-of-range numbers', () => {
    for (const s of ['', ' ', '+', '-', 'abc', '1x', '0x10', '18446744073709551616', '99999999999999999999999']) expect(u64(s)).toBeNull();
    expect(i32('9223372036854775808')).toBeNull();
    expect(i32('-9223372036854775809')).toBeNull();
    expect(i32('-9223372036854775808')).toBe(0); // in range for a long, then cut to 32 bits
  });

  it('refuses what only a negative number gives, but takes "-0" and a negation that wraps small', () => {
    expect(u64('-1')).toBeNull();
    expect(u64('-9223372036854775808')).toBeNull();
    expect(u64('-0')).toBe(0n);
    expect(u64('-18446744073709551615')).toBe(1n);
    expect(u32('-1')).toBeNull();
  });

  it('cuts flags and exptime to 32 bits as memcached stores them', () => {
    expect(u32('4294967296')).toBe(0);
    expect(u32('4294967297')).toBe(1);
    expect(u32('18446744073709551615')).toBe(4294967295);
    expect(i32('4294967297')).toBe(1);
    expect(i32('2147483648')).toBe(-2147483648);
  });
});
