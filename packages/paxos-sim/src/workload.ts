/**
 * Client values with unique ids, as the architecture asks of clients that need exactly-once:
 * `[0xC1, client, seq (uint32 BE), filler…]`. Never empty (empty is the no-op).
 */
const MAGIC = 0xc1;

export function makeValue(client: number, seq: number, filler: number): Uint8Array {
  const v = new Uint8Array(6 + filler);
  v[0] = MAGIC;
  v[1] = client;
  v[2] = seq >>> 24;
  v[3] = (seq >>> 16) & 0xff;
  v[4] = (seq >>> 8) & 0xff;
  v[5] = seq & 0xff;
  for (let i = 0; i < filler; i++) v[6 + i] = (seq * 31 + i) & 0xff;
  return v;
}

/** The value's id (`client * 2^32 + seq`), or undefined if these bytes were never made by a client. */
export function valueId(v: Uint8Array): number | undefined {
  if (v.length < 6 || v[0] !== MAGIC) return undefined;
  const seq = (((v[2] as number) << 24) | ((v[3] as number) << 16) | ((v[4] as number) << 8) | (v[5] as number)) >>> 0;
  return (v[1] as number) * 0x1_0000_0000 + seq;
}

export function describeValueId(id: number): string {
  return `c${Math.floor(id / 0x1_0000_0000)}#${id % 0x1_0000_0000}`;
}
