/**
 * Timers for every `ms` a caller may give. Node's `setTimeout` takes at most
 * 2^31 - 1 ms (about 24.8 days): past that it prints a TimeoutOverflowWarning
 * and fires after 1 ms, so a recv meant to wait for a month would time out at
 * once and a send would reset its connection. Here a delay up to the limit is
 * a plain Node timer (the usual case costs nothing more), a longer one is a
 * {@link LongTimer} that re-arms itself until its deadline, and `Infinity` is
 * no timer at all.
 * @internal
 */

/** The longest delay Node's timers take. @internal */
export const TIMER_MAX_MS = 2 ** 31 - 1;

/** A timer made by {@link startTimer}: stop it with {@link stopTimer}. @internal */
export type Timer = NodeJS.Timeout | LongTimer;

/** A delay longer than Node's timers take: a chain of timers of at most {@link TIMER_MAX_MS}, one at a time. @internal */
export class LongTimer {
  private _step: NodeJS.Timeout;
  private _ref = true;
  private readonly _deadline: number;

  constructor(
    private readonly _fire: (a: unknown, b: unknown) => void,
    ms: number,
    private readonly _a: unknown,
    private readonly _b: unknown,
  ) {
    this._deadline = performance.now() + ms;
    this._step = setTimeout(onLongStep, TIMER_MAX_MS, this);
  }

  /** Lets the process exit while this waits, as `Timeout.unref` does. */
  unref(): this {
    this._ref = false;
    this._step.unref();
    return this;
  }

  /** @internal */
  _stop(): void {
    clearTimeout(this._step);
  }

  /** One step ran out: fires once the deadline has come, else waits again. @internal */
  _stepped(): void {
    const left = this._deadline - performance.now();
    if (left > 0) {
      this._step = setTimeout(onLongStep, left < TIMER_MAX_MS ? Math.ceil(left) : TIMER_MAX_MS, this);
      if (!this._ref) this._step.unref();
      return;
    }
    this._fire(this._a, this._b);
  }
}

function onLongStep(timer: LongTimer): void {
  timer._stepped();
}

/**
 * `setTimeout(fire, ms, a, b)` for any `ms >= 0`: a Node timer up to
 * {@link TIMER_MAX_MS}, a {@link LongTimer} above, and `null` (nothing will
 * fire) for `Infinity`. `fire` takes its arguments rather than being a
 * closure, so a hot path can pass a shared function. @internal
 */
export function startTimer<A, B>(fire: (a: A, b: B) => void, ms: number, a: A, b: B): Timer | null {
  if (ms <= TIMER_MAX_MS) return setTimeout(fire, ms, a, b);
  if (ms === Infinity) return null;
  return new LongTimer(fire as (a: unknown, b: unknown) => void, ms, a, b);
}

/** Stops a timer of {@link startTimer}; one that fired already is left as it is. @internal */
export function stopTimer(timer: Timer): void {
  if (timer instanceof LongTimer) timer._stop();
  else clearTimeout(timer);
}
