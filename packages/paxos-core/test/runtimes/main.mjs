// Bun and Deno run this file from a consumer project whose node_modules links @libpaxos/paxos-core,
// so the bare specifier resolves through the package's `exports`, as an application's would.
import * as core from '@libpaxos/paxos-core';
import { checkDeliveries, runCluster } from './cluster.mjs';

const result = runCluster(core);
const problems = checkDeliveries(result.delivered);
if (problems.length > 0) throw new Error(`the delivered sequence is wrong:\n${problems.slice(0, 10).join('\n')}`);
console.log(JSON.stringify({ ...result, resolved: import.meta.resolve('@libpaxos/paxos-core') }));
