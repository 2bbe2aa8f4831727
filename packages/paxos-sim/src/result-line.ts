import { describeOptions } from './options.js';
import type { SimResult } from './simulation.js';

/** A run's knobs and outcome on one line, as `pnpm sim` prints it for every seed (and sim:web at the end). */
export function resultLine(r: SimResult): string {
  const f = r.faults;
  return `${describeOptions(r.options)} → ${r.ok ? 'ok' : 'VIOLATION'} events=${r.events} delivered=${r.delivered}/${r.submitted} lost-with-crash=${r.lostWithCrash} reported-lost=${r.reportedLost} instances=${r.instances} crashes=${f.crashes} partitions=${f.partitions} dropped=${f.dropped} dup=${f.duplicated}${r.options.leadership ? ` decided-twice=${r.duplicates} assumption-breaches=${r.assumptionViolations}` : ''} ${r.kv !== undefined ? `kv-ops=${r.kv.operations} kv-unknown=${r.kv.unknown} kv-local-reads=${r.kv.localReads} kv-retries=${r.kv.retries} linearizable=${r.kv.verdict} ` : ''}trace=${r.traceHash}`;
}
