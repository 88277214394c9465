import { readdirSync } from 'node:fs';

/** What a report says of a set of latencies, ms. */
export interface LatencySummary {
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/**
 * Latencies in logarithmic buckets (2% wide, from 1 µs to about 10 min):
 * constant memory however long the run, percentiles within 2%.
 */
export class Histogram {
  private static readonly GROWTH = 1.02;
  private static readonly MIN_MS = 0.001;
  private readonly _buckets = new Float64Array(1200);
  private _count = 0;
  private _max = 0;
  private _sum = 0;

  add(ms: number): void {
    const i =
      ms <= Histogram.MIN_MS
        ? 0
        : Math.min(this._buckets.length - 1, Math.ceil(Math.log(ms / Histogram.MIN_MS) / Math.log(Histogram.GROWTH)));
    this._buckets[i]++;
    this._count++;
    this._sum += ms;
    if (ms > this._max) this._max = ms;
  }

  get count(): number {
    return this._count;
  }

  get max(): number {
    return this._max;
  }

  get mean(): number {
    return this._count === 0 ? 0 : this._sum / this._count;
  }

  /** Upper bound of the bucket holding the `p`-th percentile, ms. */
  percentile(p: number): number {
    if (this._count === 0) return 0;
    const rank = Math.ceil((p / 100) * this._count);
    let seen = 0;
    for (let i = 0; i < this._buckets.length; i++) {
      seen += this._buckets[i];
      if (seen >= rank) return Math.min(this._max, Histogram.MIN_MS * Histogram.GROWTH ** i);
    }
    return this._max;
  }

  /** The median, p99, max and mean, for a report. */
  summary(): LatencySummary {
    return { p50: this.percentile(50), p99: this.percentile(99), max: this.max, mean: this.mean };
  }
}

/** Counts by error code. */
export class Counts {
  readonly byCode = new Map<string, number>();
  add(code: string, n = 1): void {
    this.byCode.set(code, (this.byCode.get(code) ?? 0) + n);
  }
  get total(): number {
    let t = 0;
    for (const n of this.byCode.values()) t += n;
    return t;
  }
  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.byCode].sort((a, b) => b[1] - a[1]));
  }
  toString(): string {
    return this.byCode.size === 0
      ? 'none'
      : [...this.byCode]
          .sort((a, b) => b[1] - a[1])
          .map(([c, n]) => `${c} ${n}`)
          .join(', ');
  }
}

/** Open file descriptors of this process (Linux: entries of /proc/self/fd, less the listing's own). */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length - 1;
}

/** One memory reading, in bytes. */
export interface Memory {
  rss: number;
  heapUsed: number;
  arrayBuffers: number;
  external: number;
}

/** Reads memory, after a full garbage collection when `--expose-gc` is on and `collect` is asked. */
export function memory(collect = false): Memory {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (collect && gc) {
    gc();
    gc();
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, external: m.external };
}

/** Keeps the highest reading of each figure. */
export class PeakMemory {
  readonly peak: Memory = { rss: 0, heapUsed: 0, arrayBuffers: 0, external: 0 };
  add(m: Memory): void {
    const p = this.peak;
    if (m.rss > p.rss) p.rss = m.rss;
    if (m.heapUsed > p.heapUsed) p.heapUsed = m.heapUsed;
    if (m.arrayBuffers > p.arrayBuffers) p.arrayBuffers = m.arrayBuffers;
    if (m.external > p.external) p.external = m.external;
  }
}

export function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

export function fmtMemory(m: Memory): string {
  return `rss ${mib(m.rss)}, heap ${mib(m.heapUsed)}, arrayBuffers ${mib(m.arrayBuffers)}`;
}
