import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chartSvg, isFullRun, resultsMarkdown, type CheckpointBench, type Run } from './bench-report.js';

/** The newest full run in bench/results (the one RESULTS.md shows), with its file name. */
export function newestFullRun(benchDir: string): { readonly run: Run; readonly file: string } | undefined {
  const dir = join(benchDir, 'results');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];
  for (const file of [...files].reverse()) {
    const run = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Run;
    if (isFullRun(run)) return { run, file };
  }
  return undefined;
}

/** The newest `pnpm bench:checkpoints` run in bench/results/checkpoints. */
export function newestCheckpoints(benchDir: string): { readonly bench: CheckpointBench; readonly file: string } | undefined {
  const dir = join(benchDir, 'results', 'checkpoints');
  const file = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).sort().at(-1) : undefined;
  return file === undefined ? undefined : { bench: JSON.parse(readFileSync(join(dir, file), 'utf8')) as CheckpointBench, file };
}

/** Redraws bench/RESULTS.md and bench/chart.svg from `run` (stored as `file`) and the newest checkpoints run. */
export function writeReport(benchDir: string, run: Run, file: string): void {
  writeFileSync(join(benchDir, 'RESULTS.md'), resultsMarkdown(run, file, newestCheckpoints(benchDir)));
  writeFileSync(join(benchDir, 'chart.svg'), chartSvg(run));
}

/** Redraws bench/RESULTS.md from the newest full run and the newest checkpoints run. */
export function rewriteResults(benchDir: string): void {
  const full = newestFullRun(benchDir);
  if (full !== undefined) writeReport(benchDir, full.run, full.file);
}
