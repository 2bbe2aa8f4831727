import { launchChromium, type HeadlessChromium, type Page } from '@libpaxos/headless-chromium';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Recorder, Simulation, countsAt, drawOptions, parseRunCommand, resultLine, simulate, type SimResult } from '../src/index.js';
import { startSimWebServer, type SimWebServer } from '../src/web-server.js';

const PACKAGE = join(import.meta.dirname, '..');
/** Set to regenerate the README's picture: UPDATE_SCREENSHOT=1 pnpm --filter @libpaxos/paxos-sim exec vitest run sim-web */
const SCREENSHOT = join(PACKAGE, '..', '..', 'docs', 'sim-web.png');

let server: SimWebServer | undefined;
let browser: HeadlessChromium | undefined;
let page: Page;
let pageErrors: string[] = [];

beforeAll(async () => {
  server = await startSimWebServer({ port: 0 });
  browser = await launchChromium();
  const opened = await browser.newPage();
  page = opened.page;
  pageErrors = opened.errors;
  await page.setViewportSize({ width: 1360, height: 860 });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** What `pnpm sim` (the built CLI) prints for a command: its one result line. */
function cliLine(command: string): string {
  const args = command.replace(/^pnpm sim /, '').split(' ');
  const cli = spawnSync(process.execPath, [join(PACKAGE, 'dist', 'cli.js'), ...args], { encoding: 'utf8', timeout: 60_000 });
  const line = cli.stdout.split('\n')[0] ?? '';
  expect(line, `pnpm sim ${args.join(' ')} printed: ${cli.stdout}${cli.stderr}`).toMatch(/ trace=[0-9a-f]{8}$/);
  return line;
}

/** Types a command into the seed box and runs it; resolves when the page has the recording. */
async function runInPage(command: string): Promise<void> {
  await page.fill('#command', command);
  await page.press('#command', 'Enter');
  await page.waitForFunction(() => document.body.dataset['state'] !== 'running', undefined, { timeout: 60_000 });
  expect(await page.textContent('#error')).toBe('');
}

/** Where the playhead was at the last frame the page drew. */
async function playhead(): Promise<number> {
  return Number(await page.evaluate(() => document.body.dataset['t']));
}

function expected(command: string): SimResult {
  const parsed = parseRunCommand(command);
  return simulate(drawOptions(parsed.seed, parsed.overrides));
}

describe('pnpm sim:web', () => {
  it('serves the viewer on 127.0.0.1, which starts playing its default seed', async () => {
    expect(server?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    await page.goto(server?.url ?? '');
    await page.waitForFunction(() => document.body.dataset['state'] === 'ready', undefined, { timeout: 60_000 });
    await expect.poll(playhead, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await page.textContent('#about')).toContain('pnpm sim --seed 14 --values 300');
  }, 90_000);

  it('a replay command pasted into the seed box, run to the end, gives the trace hash and line pnpm sim prints', async () => {
    const command = 'pnpm sim --seed 5 --values 200 --mode split';
    await runInPage(`replay: ${command}`);
    await page.click('#end');
    await page.waitForFunction(() => document.body.dataset['state'] === 'ended');
    const r = expected(command);
    const hash = await page.textContent('#trace');
    expect(hash).toBe(r.traceHash);
    expect(hash).toBe(cliLine(command).replace(/.* trace=/, ''));
    expect((await page.textContent('#result'))?.trim()).toBe(resultLine(r));
    expect(cliLine(command)).toBe(resultLine(r));
    // The counters at the end are the run's own.
    const counts = Object.fromEntries(
      await page.$$eval('#counts tr', (rows) => rows.map((tr) => [tr.children[0]?.textContent ?? '', Number((tr.children[1]?.textContent ?? '').replace(/,/g, ''))])),
    ) as Record<string, number>;
    expect(counts).toMatchObject({
      crashes: r.faults.crashes,
      partitions: r.faults.partitions,
      'lost (dropped or cut)': r.faults.dropped,
      duplicated: r.faults.duplicated,
      'values submitted': r.submitted,
      'instances decided': r.instances,
    });
    expect(pageErrors).toEqual([]);
  }, 90_000);

  it('a seed that breaks a mutant core ends in its violations and the command that replays it', async () => {
    let command = '';
    for (let seed = 1; seed <= 50 && command === ''; seed++) {
      const c = `pnpm sim --seed ${seed} --values 200 --mutant acceptor-skips-promise-persist`;
      if (!expected(c).ok) command = c;
    }
    expect(command, 'no seed in 1..50 caught the mutant').not.toBe('');
    await runInPage(command);
    await page.click('#end');
    await page.waitForFunction(() => document.body.dataset['state'] === 'ended');
    const r = expected(command);
    expect(r.ok).toBe(false);
    const text = (await page.textContent('#result')) ?? '';
    expect(await page.textContent('#trace')).toBe(r.traceHash);
    expect(text).toContain('VIOLATION');
    expect(text).toContain(r.violations[0]);
    expect(text).toContain(`replay: ${command}`);
  }, 90_000);

  it('play, pause, step and speed move the playhead as asked', async () => {
    await runInPage('pnpm sim --seed 17 --values 300 --mode replica');
    await page.click('#play'); // playing after a run: pause
    const paused = await playhead();
    await page.waitForTimeout(300);
    expect(await playhead()).toBe(paused);
    // Step stops at the next time anything happens, never skipping one.
    const before = await playhead();
    await page.click('#step');
    await expect.poll(playhead).toBeGreaterThan(before);
    const afterOne = await playhead();
    await page.click('#step');
    await expect.poll(playhead).toBeGreaterThan(afterOne);
    // Faster speed, more simulated time per real second.
    await page.selectOption('#speed', '1000');
    const start = await playhead();
    await page.click('#play');
    await page.waitForTimeout(500);
    await page.click('#play');
    expect((await playhead()) - start).toBeGreaterThan(100);
  }, 90_000);

  it('draws processes, messages, faults and decisions on the space-time diagram', async () => {
    const command = 'pnpm sim --seed 14 --values 300';
    // A moment worth a picture: a partition under way, a process that crashed just before, and
    // messages in flight.
    const parsed = parseRunCommand(command);
    const options = drawOptions(parsed.seed, parsed.overrides);
    const recorder = new Recorder(options);
    const rec = recorder.finish(new Simulation(options, recorder.observe).run().simTimeMs);
    let moment = 0;
    for (let t = 300; t < options.faultMs && moment === 0; t++) {
      const cut = rec.partitions.some((p) => p.from <= t - 60 && p.until >= t);
      const crashed = rec.downtimes.some((d) => d.from >= t - 150 && d.from <= t - 20 && d.until >= t);
      const flying = rec.messages.filter((m) => m.sent <= t && m.arrives > t && m.from !== m.to && (m.fate === 'sent' || m.fate === 'duplicate'));
      if (cut && crashed && flying.length >= 6) moment = t;
    }
    expect(moment, `seed ${parsed.seed} never has a partition, a fresh crash and messages in flight at once`).toBeGreaterThan(0);
    // A fresh page, so speed and window are the defaults a reader gets.
    await page.goto(`${server?.url ?? ''}#${encodeURIComponent(command)}`);
    await page.reload();
    await page.waitForFunction(() => document.body.dataset['state'] === 'ready', undefined, { timeout: 60_000 });
    await page.click('#play'); // pause
    await page.$eval(
      '#time',
      (el, t) => {
        const slider = el as HTMLInputElement;
        slider.value = String(t);
        slider.dispatchEvent(new Event('input'));
      },
      moment,
    );
    await expect.poll(playhead).toBe(moment);
    // The lanes name every process; the side panel counts what happened so far.
    const labels = rec.nodes.map((n) => n.name);
    expect(labels).toHaveLength(options.acceptors + options.proposers + options.learners);
    const counts = countsAt(rec, moment);
    expect(await page.textContent('#counts')).toContain(`crashes${counts.crashes}`);
    // Many distinct colours: lanes, several message types, faults and decisions were drawn.
    const colours = await page.$eval('#diagram', (el) => {
      const canvas = el as HTMLCanvasElement;
      const data = (canvas.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, canvas.width, canvas.height).data;
      const seen = new Set<number>();
      for (let i = 0; i < data.length; i += 4) seen.add(((data[i] as number) << 16) | ((data[i + 1] as number) << 8) | (data[i + 2] as number));
      return seen.size;
    });
    expect(colours).toBeGreaterThan(50);
    const height = await page.evaluate(() => Math.ceil((document.querySelector('main') as HTMLElement).getBoundingClientRect().bottom) + 12);
    const shot = await page.screenshot({ clip: { x: 0, y: 0, width: 1360, height } });
    expect(shot.subarray(1, 4).toString('latin1')).toBe('PNG');
    if (process.env['UPDATE_SCREENSHOT'] === '1') writeFileSync(SCREENSHOT, shot);
    expect(pageErrors).toEqual([]);
  }, 90_000);
});
