import type { MessageType } from '@libpaxos/paxos-core';
import type { NodeKind } from '../observer.js';
import { countUpTo, type Decision, type Recording } from '../recording.js';

/** One colour per LibPaxos3 message type, grouped by phase: purple phase 1, blue/green phase 2. */
export const MESSAGE_COLORS: Readonly<Record<MessageType | 'accepted_digest', string>> = {
  prepare: '#7a5af8',
  promise: '#c11574',
  accept: '#1570ef',
  accepted: '#12b76a',
  accepted_digest: '#75e0a7',
  preempted: '#f04438',
  repeat: '#f79009',
  trim: '#475467',
  acceptor_state: '#98a2b3',
  client_value: '#0e9384',
};

export const ROLE_COLORS: Readonly<Record<NodeKind, string>> = {
  acceptor: '#344054',
  proposer: '#1570ef',
  learner: '#067647',
  replica: '#6941c6',
};

const GUTTER = 118;
const RIGHT = 14;
const TOP = 22;
const LANE = 40;
const AXIS = 24;
const DOWN = '#d92d20';
const FONT = '12px system-ui, sans-serif';

/** What part of the run the diagram shows: the `windowMs` before time `t` (the playhead, at the right edge). */
export interface View {
  readonly t: number;
  readonly windowMs: number;
}

export function diagramHeight(rec: Recording): number {
  return TOP + rec.nodes.length * LANE + AXIS;
}

/** Sizes a canvas for its CSS width and `height`, sharp on high-density screens; returns its context and width. */
export function prepare(canvas: HTMLCanvasElement, height: number): { ctx: CanvasRenderingContext2D; width: number } {
  const dpr = globalThis.devicePixelRatio || 1;
  const width = Math.max(300, canvas.clientWidth);
  if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.height = `${height}px`;
  }
  const ctx = canvas.getContext('2d');
  if (ctx === null) throw new Error('this browser gives no 2D canvas');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  return { ctx, width };
}

/**
 * The space-time diagram: one lane per process (time runs left to right), a line per message
 * from its sender's lane at the time it left to its receiver's lane at the time it arrived.
 * Messages still in flight at the playhead end in a dot; lost ones end in a cross after a short
 * stub; duplicates are dashed. Crashed processes' lanes turn red and dashed until they restart;
 * partitions shade the side they cut off; diamonds are decisions.
 */
export function drawDiagram(canvas: HTMLCanvasElement, rec: Recording, view: View): void {
  const height = diagramHeight(rec);
  const { ctx, width } = prepare(canvas, height);
  const plotW = width - GUTTER - RIGHT;
  const t = view.t;
  const t0 = t - view.windowMs;
  const x = (time: number): number => GUTTER + ((time - t0) / view.windowMs) * plotW;
  const laneY = (node: number): number => TOP + node * LANE + LANE / 2;
  const bottom = TOP + rec.nodes.length * LANE;

  // Partitions: shade the lanes of the side cut off.
  ctx.font = '11px system-ui, sans-serif';
  for (const p of rec.partitions) {
    if (p.until < t0 || p.from > t) continue;
    const a = x(Math.max(p.from, t0));
    const b = x(Math.min(p.until, t));
    for (const node of p.side) {
      const y = laneY(node) - LANE / 2 + 3;
      ctx.fillStyle = 'rgba(247, 144, 9, 0.16)';
      ctx.fillRect(a, y, b - a, LANE - 6);
      if (p.from >= t0) {
        ctx.fillStyle = '#dc6803';
        ctx.fillRect(a, y, 2, LANE - 6);
      }
    }
    // Say what the shading means once, on the side's first lane, wherever the span is visible.
    ctx.fillStyle = '#b54708';
    const first = Math.min(...p.side);
    ctx.fillText(
      p.oneWay ? 'one-way cut: shaded processes cannot send to the others' : 'partition: shaded processes cut off from the others',
      a + 5,
      laneY(first) - LANE / 2 + 13,
    );
  }

  // Lanes, with the time each process was down.
  for (let node = 0; node < rec.nodes.length; node++) {
    const y = laneY(node);
    ctx.strokeStyle = '#d0d5dd';
    ctx.lineWidth = 2;
    ctx.setLineDash([]);
    line(ctx, GUTTER, y, x(t), y);
  }
  ctx.strokeStyle = DOWN;
  ctx.lineWidth = 2;
  ctx.setLineDash([5, 4]);
  for (const d of rec.downtimes) {
    if (d.until < t0 || d.from > t) continue;
    const y = laneY(d.node);
    line(ctx, x(Math.max(d.from, t0)), y, x(Math.min(d.until, t)), y);
  }
  ctx.setLineDash([]);

  // The heal: from here on, no faults.
  if (rec.healAt >= t0 && rec.healAt <= t) {
    ctx.strokeStyle = '#079455';
    ctx.lineWidth = 1.5;
    line(ctx, x(rec.healAt), TOP - 4, x(rec.healAt), bottom);
    ctx.fillStyle = '#079455';
    ctx.fillText('heal: faults stop, crashed processes restart', x(rec.healAt) + 4, TOP - 8);
  }

  drawMessages(ctx, rec, t0, t, x, laneY);

  // Crashes and restarts.
  for (const d of rec.downtimes) {
    if (d.from >= t0 && d.from <= t) cross(ctx, x(d.from), laneY(d.node), 6, DOWN, 2.5);
  }
  ctx.fillStyle = '#079455';
  for (const r of rec.restarts) {
    if (r.time < t0 || r.time > t) continue;
    const cx = x(r.time);
    const cy = laneY(r.node);
    ctx.beginPath();
    ctx.moveTo(cx, cy - 7);
    ctx.lineTo(cx + 6, cy + 5);
    ctx.lineTo(cx - 6, cy + 5);
    ctx.closePath();
    ctx.fill();
  }

  // Decisions, where the learner (or replica) made them.
  ctx.fillStyle = '#054f31';
  const decisions = rec.decisions;
  for (let i = countUpTo(decisions, t0, (d: Decision) => d.time); i < decisions.length; i++) {
    const d = decisions[i] as Decision;
    if (d.time > t) break;
    diamond(ctx, x(d.time), laneY(d.node) - 7, 3.5);
  }

  // Labels: who each lane is, and whether it is down now.
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, GUTTER - 4, height);
  ctx.font = FONT;
  ctx.textBaseline = 'middle';
  rec.nodes.forEach((n, node) => {
    const down = rec.downtimes.some((d) => d.node === node && d.from <= t && t < d.until);
    ctx.fillStyle = down ? DOWN : ROLE_COLORS[n.role];
    ctx.fillText(down ? `${n.name} ✕` : n.name, 8, laneY(node));
  });
  ctx.textBaseline = 'alphabetic';

  // Time axis and the playhead.
  ctx.strokeStyle = '#98a2b3';
  ctx.lineWidth = 1;
  line(ctx, GUTTER, bottom + 2, GUTTER + plotW, bottom + 2);
  const step = niceStep(view.windowMs / (plotW / 90));
  ctx.fillStyle = '#667085';
  ctx.font = '11px system-ui, sans-serif';
  for (let tick = Math.ceil(Math.max(0, t0) / step) * step; tick <= t; tick += step) {
    const tx = x(tick);
    line(ctx, tx, bottom + 2, tx, bottom + 6);
    ctx.fillText(`${tick} ms`, tx - 14, bottom + 18);
  }
  ctx.strokeStyle = '#101828';
  ctx.lineWidth = 1.5;
  line(ctx, x(t), TOP - 6, x(t), bottom + 2);
}

/** Messages, batched into one path per colour and style so that thousands draw in a frame. */
function drawMessages(
  ctx: CanvasRenderingContext2D,
  rec: Recording,
  t0: number,
  t: number,
  x: (time: number) => number,
  laneY: (node: number) => number,
): void {
  const paths = new Map<string, Path2D>();
  const heads = new Map<string, Path2D>();
  const lost = new Path2D();
  const path = (map: Map<string, Path2D>, key: string): Path2D => {
    let p = map.get(key);
    if (p === undefined) map.set(key, (p = new Path2D()));
    return p;
  };
  const msgs = rec.messages;
  for (let i = countUpTo(msgs, t0 - rec.maxFlightMs, (m) => m.sent); i < msgs.length; i++) {
    const m = msgs[i];
    if (m === undefined || m.sent > t) break;
    // A replica's messages to its own acceptor never leave it: nothing to draw between lanes.
    if (m.from === m.to) continue;
    const x1 = x(m.sent);
    const y1 = laneY(m.from);
    const y2 = laneY(m.to);
    if (m.fate === 'loss' || m.fate === 'partition') {
      if (m.sent < t0) continue;
      const dy = Math.sign(y2 - y1) * 14;
      const p = path(paths, `${m.type}|lost`);
      p.moveTo(x1, y1);
      p.lineTo(x1 + 9, y1 + dy);
      lost.moveTo(x1 + 6, y1 + dy - 3);
      lost.lineTo(x1 + 12, y1 + dy + 3);
      lost.moveTo(x1 + 12, y1 + dy - 3);
      lost.lineTo(x1 + 6, y1 + dy + 3);
      continue;
    }
    if (m.arrives < t0) continue;
    const dup = m.fate === 'duplicate' ? '|dup' : '';
    if (m.arrives <= t) {
      const p = path(paths, `${m.type}|done${dup}`);
      p.moveTo(x1, y1);
      p.lineTo(x(m.arrives), y2);
    } else {
      const f = (t - m.sent) / (m.arrives - m.sent);
      const hx = x(t);
      const hy = y1 + f * (y2 - y1);
      const p = path(paths, `${m.type}|flight${dup}`);
      p.moveTo(x1, y1);
      p.lineTo(hx, hy);
      const h = path(heads, m.type);
      h.moveTo(hx + 3, hy);
      h.arc(hx, hy, 3, 0, 2 * Math.PI);
    }
  }
  for (const [key, p] of paths) {
    const [type, state, dup] = key.split('|') as [MessageType | 'accepted_digest', string, string | undefined];
    ctx.strokeStyle = MESSAGE_COLORS[type];
    ctx.globalAlpha = state === 'flight' ? 0.95 : state === 'lost' ? 0.8 : 0.4;
    ctx.lineWidth = state === 'flight' ? 1.6 : 1;
    ctx.setLineDash(dup === 'dup' ? [4, 3] : []);
    ctx.stroke(p);
  }
  ctx.globalAlpha = 1;
  ctx.setLineDash([]);
  for (const [type, p] of heads) {
    ctx.fillStyle = MESSAGE_COLORS[type as MessageType | 'accepted_digest'];
    ctx.fill(p);
  }
  ctx.strokeStyle = DOWN;
  ctx.lineWidth = 1.5;
  ctx.stroke(lost);
}

/**
 * Each instance's decision as one cell, in instance order: grey until some learner decided it,
 * then green for a value or amber for a no-op (a hole closed); the latest has a dark outline.
 */
export function drawInstances(canvas: HTMLCanvasElement, rec: Recording, t: number): void {
  const total = Math.max(1, ...rec.chosen.keys());
  const width = Math.max(300, canvas.clientWidth);
  const cell = Math.max(3, Math.min(14, Math.floor(Math.sqrt(((width - 16) * 44) / total))));
  const cols = Math.max(1, Math.floor((width - 16) / cell));
  const rows = Math.ceil(total / cols);
  const height = 22 + rows * cell + 6;
  const { ctx } = prepare(canvas, height);
  let latest: Decision | undefined;
  let decided = 0;
  for (let iid = 1; iid <= total; iid++) {
    const d = rec.chosen.get(iid);
    const done = d !== undefined && d.time <= t;
    if (done) {
      decided++;
      if (latest === undefined || d.time >= latest.time) latest = d;
    }
    ctx.fillStyle = !done ? '#eaecf0' : d.label === 'no-op' ? '#fdb022' : '#32d583';
    const c = (iid - 1) % cols;
    const r = Math.floor((iid - 1) / cols);
    ctx.fillRect(8 + c * cell, 22 + r * cell, cell - 1, cell - 1);
  }
  ctx.fillStyle = '#344054';
  ctx.font = FONT;
  const news = latest === undefined ? '' : `  ·  latest: #${latest.iid} = ${latest.label} at ${latest.time} ms (${rec.nodes[latest.node]?.name ?? '?'})`;
  ctx.fillText(`instances decided: ${decided} (${rec.chosen.size} by the end of the run; green: a value, amber: a no-op closing a hole)${news}`, 8, 15);
  if (latest !== undefined) {
    const c = (latest.iid - 1) % cols;
    const r = Math.floor((latest.iid - 1) / cols);
    ctx.strokeStyle = '#101828';
    ctx.lineWidth = 1.5;
    ctx.strokeRect(8 + c * cell - 0.5, 22 + r * cell - 0.5, cell, cell);
  }
}

function line(ctx: CanvasRenderingContext2D, x1: number, y1: number, x2: number, y2: number): void {
  ctx.beginPath();
  ctx.moveTo(x1, y1);
  ctx.lineTo(x2, y2);
  ctx.stroke();
}

function cross(ctx: CanvasRenderingContext2D, cx: number, cy: number, r: number, color: string, width: number): void {
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  line(ctx, cx - r, cy - r, cx + r, cy + r);
  line(ctx, cx + r, cy - r, cx - r, cy + r);
}

function diamond(ctx: CanvasRenderingContext2D, cx: number, cy: number, r: number): void {
  ctx.beginPath();
  ctx.moveTo(cx, cy - r);
  ctx.lineTo(cx + r, cy);
  ctx.lineTo(cx, cy + r);
  ctx.lineTo(cx - r, cy);
  ctx.closePath();
  ctx.fill();
}

/** A round tick spacing of at least `min` ms: 1, 2, 5, 10, 20, 50… */
function niceStep(min: number): number {
  for (let p = 1; ; p *= 10) for (const k of [1, 2, 5]) if (k * p >= min) return k * p;
}
