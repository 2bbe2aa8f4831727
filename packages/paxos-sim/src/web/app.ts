/**
 * `pnpm sim:web`: runs one seeded simulation in the browser — the same pure code as `pnpm sim`,
 * so the same seed and flags give the same trace hash — records what happens, and plays the
 * recording back on a space-time diagram.
 */
import type { MessageType } from '@libpaxos/paxos-core';
import {
  Recorder,
  RunCommandError,
  Simulation,
  countUpTo,
  countsAt,
  describeOptions,
  drawOptions,
  parseRunCommand,
  replayCommand,
  resultLine,
  type Decision,
  type Recording,
  type SimResult,
} from '../index.js';
import { MESSAGE_COLORS, drawDiagram, drawInstances } from './diagram.js';

interface Loaded {
  readonly command: string;
  readonly replay: string;
  readonly result: SimResult;
  readonly rec: Recording;
  /** Each instance's decision, in the order they were made. */
  readonly chosenByTime: readonly Decision[];
}

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no #${id}`);
  return el as T;
};
const form = $<HTMLFormElement>('run-form');
const commandBox = $<HTMLInputElement>('command');
const errorBox = $('error');
const playButton = $<HTMLButtonElement>('play');
const stepButton = $<HTMLButtonElement>('step');
const endButton = $<HTMLButtonElement>('end');
const speedSelect = $<HTMLSelectElement>('speed');
const windowSelect = $<HTMLSelectElement>('window');
const slider = $<HTMLInputElement>('time');
const clock = $('clock');
const about = $('about');
const diagram = $<HTMLCanvasElement>('diagram');
const instances = $<HTMLCanvasElement>('instances');
const resultBox = $('result');
const countsTable = $('counts');
const decisionsList = $('decisions');

let loaded: Loaded | undefined;
let t = 0;
let playing = false;
let lastFrame: number | undefined;
let framePending = false;

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

/** Runs the simulation a command names (the whole run, recorded), then plays it from the start. */
function load(command: string): void {
  errorBox.textContent = '';
  let parsed;
  try {
    parsed = parseRunCommand(command);
  } catch (e) {
    errorBox.textContent = e instanceof RunCommandError ? e.message : String(e);
    return;
  }
  const options = drawOptions(parsed.seed, parsed.overrides);
  document.body.dataset['state'] = 'running';
  const started = performance.now();
  const recorder = new Recorder(options);
  const result = new Simulation(options, recorder.observe).run();
  const rec = recorder.finish(result.simTimeMs);
  const secs = (performance.now() - started) / 1000;
  const chosenByTime = [...rec.chosen.values()].sort((a, b) => a.time - b.time || a.iid - b.iid);
  const replay = replayCommand(options, parsed.flags);
  loaded = { command, replay, result, rec, chosenByTime };
  commandBox.value = command;
  history.replaceState(null, '', `#${encodeURIComponent(command)}`);
  about.innerHTML = '';
  about.append(
    `${describeOptions(options)} — ${fmt(result.events)} events over ${fmt(result.simTimeMs)} simulated ms, run in ${secs.toFixed(2)} s. On the command line: `,
    code(replay),
  );
  slider.max = String(rec.endMs);
  t = 0;
  playing = true;
  lastFrame = undefined;
  document.body.dataset['state'] = 'ready';
  schedule();
}

function code(text: string): HTMLElement {
  const el = document.createElement('code');
  el.textContent = text;
  return el;
}

function render(): void {
  if (loaded === undefined) return;
  const { rec, result } = loaded;
  const windowMs = Number(windowSelect.value);
  drawDiagram(diagram, rec, { t, windowMs });
  drawInstances(instances, rec, t);
  slider.value = String(t);
  document.body.dataset['t'] = String(t);
  clock.textContent = `t = ${t.toFixed(1)} of ${rec.endMs} ms`;
  playButton.textContent = playing ? 'Pause' : 'Play';

  const c = countsAt(rec, t);
  const rows: [string, number][] = [
    ['messages sent', c.sent],
    ['lost (dropped or cut)', c.dropped],
    ['duplicated', c.duplicated],
    ['crashes', c.crashes],
    ['restarts', c.restarts],
    ['partitions', c.partitions],
    ['values submitted', c.submitted],
    ['instances decided', c.decided],
  ];
  countsTable.replaceChildren(
    ...rows.map(([label, n]) => {
      const tr = document.createElement('tr');
      const a = document.createElement('td');
      const b = document.createElement('td');
      a.textContent = label;
      b.textContent = fmt(n);
      tr.append(a, b);
      return tr;
    }),
  );

  const upTo = countUpTo(loaded.chosenByTime, t, (d) => d.time);
  decisionsList.replaceChildren(
    ...loaded.chosenByTime.slice(Math.max(0, upTo - 8), upTo).reverse().map((d) => {
      const li = document.createElement('li');
      li.textContent = `#${d.iid} = ${d.label}  (${rec.nodes[d.node]?.name ?? '?'}, ${d.time} ms)`;
      return li;
    }),
  );

  const ended = t >= rec.endMs;
  document.body.dataset['state'] = ended ? 'ended' : 'ready';
  if (ended) {
    resultBox.className = result.ok ? 'ok' : 'violation';
    resultBox.replaceChildren(
      `${resultLine(result).replace(/ trace=\w+$/, '')} trace=`,
      Object.assign(code(result.traceHash), { id: 'trace' }),
      ...result.violations.map((v) => `\n  ${v}`),
      ...(result.ok ? [] : ['\n  replay: ', code(loaded.replay)]),
    );
  } else {
    resultBox.className = '';
    resultBox.textContent = 'The outcome and the trace hash (as pnpm sim prints them) show at the end of the run: “To end” goes there.';
  }
}

function frame(now: number): void {
  framePending = false;
  if (loaded === undefined) return;
  if (playing) {
    const dt = lastFrame === undefined ? 0 : Math.min(now - lastFrame, 100);
    t = Math.min(loaded.rec.endMs, t + (dt / 1000) * Number(speedSelect.value));
    if (t >= loaded.rec.endMs) playing = false;
  }
  lastFrame = playing ? now : undefined;
  render();
  if (playing) schedule();
}

function schedule(): void {
  if (framePending) return;
  framePending = true;
  requestAnimationFrame(frame);
}

function seek(to: number, keepPlaying = false): void {
  if (loaded === undefined) return;
  t = Math.max(0, Math.min(loaded.rec.endMs, to));
  playing = keepPlaying && t < loaded.rec.endMs;
  lastFrame = undefined;
  schedule();
}

/** To the next time anything happens (a message leaves or arrives, a fault, a decision). */
function step(): void {
  if (loaded === undefined) return;
  const times = loaded.rec.times;
  const i = countUpTo(times, t, (x) => x);
  seek(i < times.length ? (times[i] as number) : loaded.rec.endMs);
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  load(commandBox.value);
});
playButton.addEventListener('click', () => {
  if (loaded === undefined) return;
  if (!playing && t >= loaded.rec.endMs) t = 0;
  playing = !playing;
  lastFrame = undefined;
  schedule();
});
stepButton.addEventListener('click', step);
endButton.addEventListener('click', () => seek(Number.POSITIVE_INFINITY));
slider.addEventListener('input', () => seek(Number(slider.value), playing));
windowSelect.addEventListener('change', schedule);
speedSelect.addEventListener('change', () => (lastFrame = undefined));
window.addEventListener('resize', schedule);
document.addEventListener('keydown', (e) => {
  if (e.target instanceof HTMLInputElement && e.target.type === 'text') return;
  if (e.key === ' ') {
    e.preventDefault();
    playButton.click();
  } else if (e.key === 'ArrowRight') {
    e.preventDefault();
    step();
  }
});

const legend = $('legend');
for (const [type, color] of Object.entries(MESSAGE_COLORS) as [MessageType | 'accepted_digest', string][]) {
  const row = document.createElement('div');
  const swatch = document.createElement('span');
  swatch.className = 'swatch';
  swatch.style.background = color;
  row.append(swatch, type);
  legend.append(row);
}
const notes = document.createElement('div');
notes.textContent = 'faded: arrived · dot: in flight · dashed: a duplicate · red ✕: lost · red dashes: process down · ▲ restart · ◆ a learner decided · orange: cut off by a partition';
notes.style.marginTop = '6px';
notes.style.whiteSpace = 'normal';
legend.append(notes);

const fromUrl = location.hash.length > 1 ? decodeURIComponent(location.hash.slice(1)) : '';
load(fromUrl || commandBox.value);
