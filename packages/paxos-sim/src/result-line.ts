import { describeOptions } from './options.js';
import type { SimResult } from './simulation.js';

/** A run's knobs and outcome on one line, as `pnpm sim` prints it for every seed (and sim:web at the end). */
export function resultLine(r: SimResult): string {
  const f = r.faults;
  const c = r.checkpoints;
  const lead = r.options.leadership ? ` resignations=${f.resignations} decided-twice=${r.duplicates} assumption-breaches=${r.assumptionViolations}` : '';
  const ckpt =
    c === undefined
      ? ''
      : ` checkpoints=${c.checkpoints} restores=${c.restores} transfers=${c.transfersInstalled}/${c.transfersStarted} wipes=${c.wipes}/${c.acceptorWipes} rejoins=${c.rejoins} trims=${c.trims} state-checks=${c.stateChecks} crashes-at-steps=${Object.values(c.crashesAt).reduce((a, b) => a + b, 0)}`;
  return `${describeOptions(r.options)} → ${r.ok ? 'ok' : 'VIOLATION'} events=${r.events} delivered=${r.delivered}/${r.submitted} lost-with-crash=${r.lostWithCrash} reported-lost=${r.reportedLost} instances=${r.instances} crashes=${f.crashes} restarts=${f.restarts} partitions=${f.partitions} dropped=${f.dropped} dup=${f.duplicated} connections=${f.connections}${lead}${ckpt} ${r.kv !== undefined ? `kv-ops=${r.kv.operations} kv-unknown=${r.kv.unknown} kv-local-reads=${r.kv.localReads} kv-retries=${r.kv.retries} linearizable=${r.kv.verdict} ` : ''}trace=${r.traceHash}`;
}
