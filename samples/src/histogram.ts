/**
 * Latencies in microseconds, for percentiles over a whole run without keeping every sample:
 * exact below 2,048 µs, then 256 buckets per doubling (about 0.3% wide).
 */
export class LatencyHistogram {
  private readonly counts = new Float64Array(2048 + 256 * 40);
  private n = 0;
  max = 0;

  record(us: number): void {
    const v = Math.max(0, Math.round(us));
    const b = Math.min(this.counts.length - 1, bucketOf(v));
    this.counts[b] = (this.counts[b] as number) + 1;
    this.n++;
    if (v > this.max) this.max = v;
  }

  get count(): number {
    return this.n;
  }

  /** The latency at or below which `p` percent of the samples lie (0 when there are none). */
  percentile(p: number): number {
    if (this.n === 0) return 0;
    const rank = Math.ceil((p / 100) * this.n);
    let seen = 0;
    for (let b = 0; b < this.counts.length; b++) {
      seen += this.counts[b] as number;
      if (seen >= rank) return Math.min(this.max, valueOf(b));
    }
    return this.max;
  }
}

function bucketOf(us: number): number {
  if (us < 2048) return us;
  return 2048 + Math.floor((Math.log2(us) - 11) * 256);
}

/** The upper edge of bucket `b`. */
function valueOf(b: number): number {
  if (b < 2048) return b;
  return Math.ceil(2 ** ((b - 2048 + 1) / 256 + 11));
}
