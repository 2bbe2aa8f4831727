import parsePrometheusTextFormat, { type Family, type Sample } from 'parse-prometheus-text-format';
import { expect } from 'vitest';
/** Scrapes `url`/metrics and parses it with a Prometheus text-format parser (not prom-client's own code). */
export async function scrape(url: string): Promise<Family[]> {
  const res = await fetch(`${url}/metrics`);
  if (res.status !== 200) throw new Error(`GET ${url}/metrics: ${res.status}`);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusTextFormat(await res.text());
}

/** The samples of family `name`, or throws naming it. */
export function family(families: readonly Family[], name: string, type?: Family['type']): readonly Sample[] {
  const f = families.find((x) => x.name === name);
  if (f === undefined) throw new Error(`no metric family ${name} in the scrape`);
  if (type !== undefined && f.type !== type) throw new Error(`${name} is a ${f.type}, not a ${type}`);
  return f.metrics;
}

/** The value of `name` with these labels (a counter or gauge). */
export function value(families: readonly Family[], name: string, labels: Record<string, string> = {}): number {
  const s = family(families, name).find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  if (s?.value === undefined) throw new Error(`no sample of ${name} with ${JSON.stringify(labels)}`);
  return Number(s.value);
}

/** How many observations histogram `name` has. */
export function observations(families: readonly Family[], name: string): number {
  return Number(family(families, name, 'HISTOGRAM')[0]?.count ?? 0);
}
