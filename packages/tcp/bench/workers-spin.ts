/** Keeps the CPU busy for `us` microseconds: the "work" of a message in the workers benchmark. */
export function spinMicros(us: number): void {
  const until = process.hrtime.bigint() + BigInt(Math.round(us * 1000));
  while (process.hrtime.bigint() < until);
}
