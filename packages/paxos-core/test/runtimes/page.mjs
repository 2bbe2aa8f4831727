// The browser resolves the bare specifier through the page's import map, which points at the
// package's published entry (its `exports`), as a bundler-less application's would.
import * as core from '@libpaxos/paxos-core';
import { checkDeliveries, runCluster } from './cluster.mjs';

/** What the test reads back: each run (or its error), and `done` once both have reported. */
const results = { main: null, worker: null, done: false };
globalThis.paxosResults = results;

const show = (id, outcome) => {
  const el = document.getElementById(id);
  if (el === null) return;
  if (outcome.error !== undefined) el.textContent = `failed: ${outcome.error}`;
  else {
    const problems = checkDeliveries(outcome.run.delivered);
    el.textContent = problems.length === 0 ? `${outcome.run.delivered.length} values delivered in order (${outcome.run.runtime.name})` : problems.join('; ');
  }
};

try {
  results.main = { run: runCluster(core) };
} catch (e) {
  results.main = { error: String(e?.stack ?? e) };
}
show('main', results.main);

// A module worker has no import map: the page resolves the specifier and hands the worker the URL.
const worker = new Worker(new URL('./worker.mjs', import.meta.url), { type: 'module' });
const finish = (outcome) => {
  results.worker = outcome;
  results.done = true;
  show('worker', outcome);
  worker.terminate();
};
worker.onmessage = (e) => finish(e.data);
worker.onerror = (e) => finish({ error: `the worker failed to load or threw: ${e.message ?? 'no message'}` });
worker.postMessage({ core: import.meta.resolve('@libpaxos/paxos-core') });
