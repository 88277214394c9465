/**
 * Round-trip times, kept in full (8 bytes each, in a typed array that grows
 * by doubling) so that the percentiles are exact, not bucketed.
 */
export class LatencyRecorder {
  private _samples = new Float64Array(1024);
  private _count = 0;
  private _sum = 0;
  private _max = 0;
  private _sorted: Float64Array | null = null;

  /** Records one round trip of `ms` milliseconds. */
  add(ms: number): void {
    if (this._count === this._samples.length) {
      const bigger = new Float64Array(this._samples.length * 2);
      bigger.set(this._samples);
      this._samples = bigger;
    }
    this._samples[this._count++] = ms;
    this._sum += ms;
    if (ms > this._max) this._max = ms;
    this._sorted = null;
  }

  /** How many round trips were recorded. */
  get count(): number {
    return this._count;
  }

  /** The slowest round trip, ms (`0` when none). */
  get max(): number {
    return this._max;
  }

  /** The mean round trip, ms (`0` when none). */
  get mean(): number {
    return this._count === 0 ? 0 : this._sum / this._count;
  }

  /**
   * The `p`-th percentile (nearest rank), ms; `0` when nothing was recorded.
   *
   * @param p - from 0 to 100: 50 is the median, 99 the 99th percentile.
   */
  percentile(p: number): number {
    if (this._count === 0) return 0;
    this._sorted ??= this._samples.slice(0, this._count).sort();
    const rank = Math.ceil((p / 100) * this._count);
    return this._sorted[Math.min(this._count, Math.max(1, rank)) - 1];
  }
}
