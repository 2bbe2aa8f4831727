import { numberFlag, operatingOptions, sampleArgs } from './cli.js';
import { HEADER_SIZE } from './payload.js';

/**
 * The client's command line (LibPaxos3's `client [config] [-o N] [-v N] [-p N]`, plus ours), in a
 * module of its own so that `demo` can check the client options it is given before it starts
 * the replicas.
 */
export function clientArgs(args: string[]) {
  return operatingOptions(sampleArgs('client', args))
    .usage(
      'Usage: $0 [config] [-o N] [-v V] [-p P] [--duration S] [--warmup S] [--drain S] [--json] [--metrics-port P] [--log-format text|json]\n\n' +
        'Submits values to a proposer and measures, with its own learner, how many of them the cluster\n' +
        'delivers per second and how long each took. Keeps N values of V + 32 bytes in flight (a new one for each delivered).\n' +
        'Exits 1 when none of its values was delivered.',
    )
    .option('outstanding', { alias: 'o', default: 1, coerce: numberFlag('outstanding', { integer: true, min: 1, max: 1_000_000 }), describe: 'values in flight' })
    .option('value-size', {
      alias: 'v',
      default: 64,
      coerce: numberFlag('value-size', { integer: true, min: 1, max: 16 * 1024 * 1024, unit: 'bytes' }),
      describe: `bytes per value after the ${HEADER_SIZE}-byte header`,
    })
    .option('proposer-id', { alias: 'p', default: 0, coerce: numberFlag('proposer-id', { integer: true, min: 0, max: 9 }), describe: 'proposer (or replica) to submit to' })
    .option('duration', { coerce: numberFlag('duration', { above: 0, unit: 'seconds' }), describe: 'stop after this many seconds and print the summary' })
    .option('warmup', { default: 0, coerce: numberFlag('warmup', { min: 0, unit: 'seconds' }), describe: 'leave the first seconds out of the summary' })
    .option('drain', {
      coerce: numberFlag('drain', { min: 0, unit: 'seconds' }),
      describe: 'at the end, stop submitting and wait up to this long for the values in flight; exit 1 if any never arrives',
    })
    .option('json', { type: 'boolean', default: false, describe: 'print JSON lines instead of text' })
    .check((a) => {
      if (a._.length > 1) throw new Error(`unexpected argument '${String(a._[1])}'`);
      return true;
    })
    .strictOptions();
}
