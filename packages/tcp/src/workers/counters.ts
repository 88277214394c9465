/**
 * The live-connection counts of a server's workers, in memory every thread
 * shares, so that `connNum()` is exact at any moment and `maxConnections`
 * bounds the total without a round trip between threads.
 *
 * Layout (Int32Array over a SharedArrayBuffer): `[0]` every worker's counted
 * connections (what `connNum()` gives); `[1 + i]` worker `i`'s counted
 * connections (`workerLoad()`); `[1 + n + i]` sockets handed to worker `i`
 * and not closed yet, counted from the moment the accepting thread hands one
 * over (so a TLS connection still in its handshake is load, too): what the
 * choice between two workers compares.
 * @internal
 */
export class SharedCounters {
  readonly cells: Int32Array;

  constructor(
    readonly workers: number,
    buffer: SharedArrayBuffer = new SharedArrayBuffer(4 * (1 + 2 * workers)),
  ) {
    this.cells = new Int32Array(buffer);
  }

  get buffer(): SharedArrayBuffer {
    return this.cells.buffer as SharedArrayBuffer;
  }

  total(): number {
    return Atomics.load(this.cells, 0);
  }

  live(i: number): number {
    return Atomics.load(this.cells, 1 + i);
  }

  held(i: number): number {
    return Atomics.load(this.cells, 1 + this.workers + i);
  }

  /** Counts a connection of worker `i` unless the total is at `max` already (compare-and-swap: two workers never both take the last place). */
  admit(i: number, max: number | undefined): boolean {
    const c = this.cells;
    for (;;) {
      const now = Atomics.load(c, 0);
      if (max !== undefined && now >= max) return false;
      if (Atomics.compareExchange(c, 0, now, now + 1) === now) break;
    }
    Atomics.add(c, 1 + i, 1);
    return true;
  }

  release(i: number): void {
    Atomics.sub(this.cells, 0, 1);
    Atomics.sub(this.cells, 1 + i, 1);
  }

  hold(i: number): void {
    Atomics.add(this.cells, 1 + this.workers + i, 1);
  }

  unhold(i: number): void {
    Atomics.sub(this.cells, 1 + this.workers + i, 1);
  }

  /** Worker `i` died: its connections are gone with it (it writes here no more, so this does not race with it). */
  clear(i: number): void {
    const c = this.cells;
    Atomics.sub(c, 0, Atomics.exchange(c, 1 + i, 0));
    Atomics.store(c, 1 + this.workers + i, 0);
  }

  /** The less loaded of two workers picked at random (co's `next_sched`); one not `ready` (still starting) is skipped. */
  pick(slots: ReadonlyArray<{ readonly ready: boolean }>): number {
    const n = this.workers;
    if (n === 1) return 0;
    let a = (Math.random() * n) | 0;
    let b = (Math.random() * (n - 1)) | 0;
    if (b >= a) b++;
    if (!slots[a].ready) a = b;
    if (!slots[b].ready) b = a;
    const la = this.held(a);
    const lb = this.held(b);
    return la < lb ? a : lb < la ? b : Math.random() < 0.5 ? a : b;
  }
}
