// A module Web Worker: imports paxos-core from the URL the page resolved, runs the cluster here,
// off the main thread, and posts its deliveries back.
import { runCluster } from './cluster.mjs';

self.onmessage = async (e) => {
  try {
    const core = await import(e.data.core);
    self.postMessage({ run: runCluster(core) });
  } catch (err) {
    self.postMessage({ error: String(err?.stack ?? err) });
  }
};
