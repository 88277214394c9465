/** `1.234` → `"1.23 ms"`; sub-millisecond values keep three decimals. */
export function formatMs(ms: number): string {
  return `${ms < 1 ? ms.toFixed(3) : ms.toFixed(2)} ms`;
}
