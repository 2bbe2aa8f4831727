// Totals the JSON reports vitest wrote in each package and prints one plain line,
// `N passed, N failed`, so the result of the whole suite reads the same to people and to CI.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

let passed = 0;
let failed = 0;
let skipped = 0;
const dirs = ['packages', 'samples'].filter(existsSync).flatMap((d) => (d === 'samples' ? [d] : readdirSync(d).map((p) => join(d, p))));
for (const dir of dirs) {
  const file = join(dir, 'test-results.json');
  if (!existsSync(file)) continue;
  const r = JSON.parse(readFileSync(file, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + r.numTodoTests;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
