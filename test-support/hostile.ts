/**
 * Helpers of the hostile-peer, flood and fuzz suites (`hostile-*.test.ts`):
 * open file descriptors of this process, a memory watch that records the peak
 * growth of RSS and of ArrayBuffer memory over a baseline, and a running
 * checksum of a byte stream (so a GiB can be checked without keeping it).
 *
 * Linux only for {@link openFds} (it counts `/proc/self/fd`).
 */
import { appendFileSync, readdirSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Mebibytes. */
export const MiB = 1024 * 1024;
/** Gibibytes. */
export const GiB = 1024 * MiB;

/** File descriptors this process has open (entries of `/proc/self/fd`, less the one the listing itself uses). */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length - 1;
}

/** What {@link MemoryWatch.stop} reports, in bytes. */
export interface MemoryReport {
  /** At the start. */
  baseline: { rss: number; arrayBuffers: number; heapUsed: number };
  /** Highest value seen minus the baseline. */
  peakGrowth: { rss: number; arrayBuffers: number; heapUsed: number };
  /** With `retained`: the highest value right after a full collection, minus the baseline (else the baseline's). */
  retainedGrowth: { rss: number; arrayBuffers: number; heapUsed: number };
  /** How many samples were taken. */
  samples: number;
}

/**
 * A full garbage collection, in any process (Jest workers run without
 * `--expose-gc`): for measuring what is retained, not what awaits collection.
 */
export function collectGarbage(): void {
  gcFunction ??= exposeGc();
  gcFunction();
}
let gcFunction: (() => void) | undefined;
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/**
 * Samples `process.memoryUsage()` every `everyMs` (and whenever
 * {@link MemoryWatch.sample} is called, e.g. from a hot loop) and keeps the
 * peak of each figure. Its timer is unref'd and cleared by `stop()`.
 *
 * With `retained`, every call of {@link MemoryWatch.sample} first collects
 * garbage and also keeps the peak of what is then left ({@link MemoryReport.retainedGrowth}):
 * the peak alone includes garbage not yet collected, which depends on when V8
 * chooses to collect (later on Node 24+ than on 20 for external memory).
 */
export class MemoryWatch {
  private readonly _base: MemoryReport['baseline'];
  private readonly _peak: MemoryReport['baseline'];
  private readonly _retainedPeak: MemoryReport['baseline'];
  private readonly _retained: boolean;
  private _samples = 0;
  private readonly _timer: NodeJS.Timeout;

  constructor(everyMs = 20, options: { retained?: boolean } = {}) {
    this._retained = options.retained ?? false;
    if (this._retained) collectGarbage();
    const m = process.memoryUsage();
    this._base = { rss: m.rss, arrayBuffers: m.arrayBuffers, heapUsed: m.heapUsed };
    this._peak = { ...this._base };
    this._retainedPeak = { ...this._base };
    this._timer = setInterval(() => this._take(this._peak), everyMs);
    this._timer.unref();
  }

  /** Takes one sample now (with `retained`: after a full collection). */
  sample(): void {
    if (this._retained) {
      this._take(this._peak);
      collectGarbage();
      this._take(this._retainedPeak);
    } else {
      this._take(this._peak);
    }
  }

  /** Stops sampling (after one last sample) and reports. */
  stop(): MemoryReport {
    this.sample();
    clearInterval(this._timer);
    const b = this._base;
    const growth = (p: MemoryReport['baseline']): MemoryReport['peakGrowth'] => ({
      rss: p.rss - b.rss,
      arrayBuffers: p.arrayBuffers - b.arrayBuffers,
      heapUsed: p.heapUsed - b.heapUsed,
    });
    return {
      baseline: { ...b },
      peakGrowth: growth(this._peak),
      retainedGrowth: growth(this._retainedPeak),
      samples: this._samples,
    };
  }

  private _take(p: MemoryReport['baseline']): void {
    const m = process.memoryUsage();
    if (m.rss > p.rss) p.rss = m.rss;
    if (m.arrayBuffers > p.arrayBuffers) p.arrayBuffers = m.arrayBuffers;
    if (m.heapUsed > p.heapUsed) p.heapUsed = m.heapUsed;
    this._samples++;
  }
}

/** `n` bytes as MiB with one decimal, for messages. */
export function mib(n: number): string {
  return `${(n / MiB).toFixed(1)} MiB`;
}

/**
 * Fletcher-style running checksum of a byte stream that also counts its
 * bytes: order-sensitive (a swap of two bytes changes it), cheap, and it keeps
 * nothing of the stream. Two streams fed the same bytes in the same order,
 * however chunked, end with the same {@link StreamSum.digest}.
 */
export class StreamSum {
  /** Bytes fed so far. */
  bytes = 0;
  private _a = 1;
  private _b = 0;

  update(buf: Uint8Array, start = 0, end = buf.length): void {
    let a = this._a;
    let b = this._b;
    for (let i = start; i < end; i++) {
      a = (a + buf[i]) % 65521;
      b = (b + a) % 65521;
    }
    this._a = a;
    this._b = b;
    this.bytes += end - start;
  }

  /** `"<bytes>:<adler32 hex>"`. */
  digest(): string {
    return `${this.bytes}:${((this._b << 16) | this._a) >>> 0}`;
  }
}

/** Resolves after `ms`; the timer does not hold the process open. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * Records a measured figure (memory growth, counts) for docs/guarantees.md:
 * appended as one line to the file named by the environment variable
 * `HOSTILE_FIGURES`, and dropped when it is not set, so runs stay quiet.
 */
export function figure(line: string): void {
  const file = process.env.HOSTILE_FIGURES;
  if (file) appendFileSync(file, `${line}\n`);
}
