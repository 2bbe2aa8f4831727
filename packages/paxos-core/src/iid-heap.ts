/** A binary min-heap of instance ids: the proposer's try-accept always takes the smallest. */
export class IidHeap {
  private readonly items: number[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): number | undefined {
    return this.items[0];
  }

  push(iid: number): void {
    const items = this.items;
    let i = items.length;
    items.push(iid);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent] as number;
      if (p <= iid) break;
      items[i] = p;
      i = parent;
    }
    items[i] = iid;
  }

  pop(): number | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    const n = items.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && (items[r] as number) < (items[l] as number)) c = r;
      if ((items[c] as number) >= last) break;
      items[i] = items[c] as number;
      i = c;
    }
    items[i] = last;
    return top;
  }
}
