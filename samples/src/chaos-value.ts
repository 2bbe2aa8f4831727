/**
 * Values of the chaos clients: `chaos <client>:<seq> ` then padding. Unique ids let the checker
 * tell a resubmission from a duplicate decision.
 */
const PREFIX = 'chaos ';

export function makeChaosValue(client: number, seq: number): Uint8Array {
  return new TextEncoder().encode(`${PREFIX}${client}:${seq} ${'.'.repeat(24)}`);
}

/** `<client>:<seq>`, or undefined when the value is not a chaos value. */
export function readChaosValue(v: Uint8Array): string | undefined {
  const text = new TextDecoder().decode(v.subarray(0, 40));
  if (!text.startsWith(PREFIX)) return undefined;
  return text.slice(PREFIX.length).split(' ')[0];
}
