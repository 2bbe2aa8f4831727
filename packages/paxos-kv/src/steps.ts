/** Runs a piece-at-a-time generator (`decodeSnapshotSteps`, `KvStore.loadSteps`, …) to its end, in one piece. */
export function runSteps<T>(steps: Generator<void, T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}
