import { launchChromium, type HeadlessChromium } from '@libpaxos/headless-chromium';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectSameDeliveries, nodeReference, type ClusterRun } from './runtimes/harness.js';
import { servePage } from './runtimes/page-server.js';

type Outcome = { run: ClusterRun; error?: undefined } | { run?: undefined; error: string };
interface PageResults {
  main: Outcome | null;
  worker: Outcome | null;
  done: boolean;
}

let browser: HeadlessChromium | undefined;
let server: Awaited<ReturnType<typeof servePage>> | undefined;
let reference: ClusterRun;
let results: PageResults;
let pageErrors: string[] = [];

beforeAll(async () => {
  reference = await nodeReference();
  server = await servePage();
  browser = await launchChromium();
  const { page, errors } = await browser.newPage();
  pageErrors = errors;
  await page.goto(server.url);
  try {
    await page.waitForFunction(() => (globalThis as { paxosResults?: PageResults }).paxosResults?.done === true, undefined, { timeout: 60_000 });
  } catch (e) {
    throw new Error(`the page did not finish both runs: ${(e as Error).message}\n${errors.join('\n')}`);
  }
  results = await page.evaluate(() => (globalThis as unknown as { paxosResults: PageResults }).paxosResults);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

function runOf(outcome: Outcome | null, where: string): ClusterRun {
  if (outcome === null) throw new Error(`${where}: no result`);
  if (outcome.error !== undefined) throw new Error(`${where}: ${outcome.error}`);
  return outcome.run;
}

describe('paxos-core in headless Chromium', () => {
  it('an ES module page imports the built package and decides 1,000 values on the main thread', () => {
    const run = runOf(results.main, 'main thread');
    expect(run.runtime.name).toBe('browser-main-thread');
    // User-Agent reduction leaves only the major version in the string.
    expect(run.runtime.version).toContain(`HeadlessChrome/${(browser as HeadlessChromium).version.split('.')[0]}.`);
    expectSameDeliveries(run, reference);
    expect(pageErrors).toEqual([]);
  });

  it('a module Web Worker runs the same cluster and posts its deliveries back', () => {
    const run = runOf(results.worker, 'Web Worker');
    expect(run.runtime.name).toBe('web-worker');
    expectSameDeliveries(run, reference);
    expect(pageErrors).toEqual([]);
  });
});
