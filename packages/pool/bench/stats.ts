/** Medians and ranges of the rounds of a benchmark, and the CPU time of this process. */

export interface Sample {
  /** Operations done in the round, all users together. */
  ops: number;
  /** Wall time of the round, ns. */
  ns: number;
  /** CPU time of this process during the round (user + system), ns. */
  cpuNs: number;
}

export function cpuNowNs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) * 1000;
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** `median [min-max]` with `digits` decimals. */
export function spread(values: readonly number[], digits: number): string {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return `${median(values).toFixed(digits)} [${lo.toFixed(digits)}-${hi.toFixed(digits)}]`;
}

export const nsPerOp = (s: Sample): number => s.ns / s.ops;
export const cpuNsPerOp = (s: Sample): number => s.cpuNs / s.ops;
