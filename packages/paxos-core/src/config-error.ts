/** A role was given options it cannot run with. The message says which option and why. */
export class PaxosConfigError extends Error {
  override readonly name = 'PaxosConfigError';
}

export function requireInt(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new PaxosConfigError(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}
