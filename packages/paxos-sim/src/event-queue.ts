/**
 * The simulator's agenda: events ordered by (time, seq). `seq` breaks ties in insertion order, so
 * a run depends on nothing but its seed.
 */
export class EventQueue<T> {
  private readonly times: number[] = [];
  private readonly seqs: number[] = [];
  private readonly items: T[] = [];
  private seq = 0;

  get size(): number {
    return this.items.length;
  }

  push(time: number, item: T): void {
    const seq = this.seq++;
    let i = this.items.length;
    this.times.push(time);
    this.seqs.push(seq);
    this.items.push(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(time, seq, p)) break;
      this.move(p, i);
      i = p;
    }
    this.set(i, time, seq, item);
  }

  /** The earliest event's time, or undefined when empty. */
  peekTime(): number | undefined {
    return this.times[0];
  }

  pop(): { time: number; item: T } | undefined {
    const n = this.items.length;
    if (n === 0) return undefined;
    const time = this.times[0] as number;
    const item = this.items[0] as T;
    const lt = this.times.pop() as number;
    const ls = this.seqs.pop() as number;
    const li = this.items.pop() as T;
    const m = n - 1;
    if (m > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= m) break;
        const r = l + 1;
        const c = r < m && this.before(r, l) ? r : l;
        if (!this.less(this.times[c] as number, this.seqs[c] as number, -1, lt, ls)) break;
        this.move(c, i);
        i = c;
      }
      this.set(i, lt, ls, li);
    }
    return { time, item };
  }

  private before(a: number, b: number): boolean {
    const ta = this.times[a] as number;
    const tb = this.times[b] as number;
    return ta < tb || (ta === tb && (this.seqs[a] as number) < (this.seqs[b] as number));
  }

  /** Is (time, seq) before slot `j` (or before (tj, sj) when j is −1)? */
  private less(time: number, seq: number, j: number, tj?: number, sj?: number): boolean {
    const t = j >= 0 ? (this.times[j] as number) : (tj as number);
    const s = j >= 0 ? (this.seqs[j] as number) : (sj as number);
    return time < t || (time === t && seq < s);
  }

  private move(from: number, to: number): void {
    this.times[to] = this.times[from] as number;
    this.seqs[to] = this.seqs[from] as number;
    this.items[to] = this.items[from] as T;
  }

  private set(i: number, time: number, seq: number, item: T): void {
    this.times[i] = time;
    this.seqs[i] = seq;
    this.items[i] = item;
  }
}
