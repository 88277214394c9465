/**
 * The long timer itself, on Jest's fake clock (its `setTimeout` and
 * `performance.now`), since a real one would take weeks: it fires once, at its
 * deadline and not before, across several steps of Node's longest timer.
 */
import { TIMER_MAX_MS, startTimer, stopTimer } from '../src/timers';

beforeEach(() => {
  jest.useFakeTimers();
});
afterEach(() => {
  jest.useRealTimers();
});

test('a delay above 2^31 - 1 ms fires once, at its deadline', () => {
  const fired: Array<[string, number]> = [];
  const ms = 2 * TIMER_MAX_MS + 5000;
  const t = startTimer((a: string, b: number) => fired.push([a, b]), ms, 'x', 7);
  expect(t).not.toBeNull();
  jest.advanceTimersByTime(TIMER_MAX_MS);
  jest.advanceTimersByTime(TIMER_MAX_MS);
  jest.advanceTimersByTime(4999);
  expect(fired).toEqual([]);
  jest.advanceTimersByTime(1);
  expect(fired).toEqual([['x', 7]]);
  jest.advanceTimersByTime(10 * TIMER_MAX_MS);
  expect(fired).toEqual([['x', 7]]);
});

test('a long timer stopped between two steps never fires', () => {
  let fired = 0;
  const t = startTimer(() => fired++, TIMER_MAX_MS + 10, null, null)!;
  jest.advanceTimersByTime(TIMER_MAX_MS + 5);
  stopTimer(t);
  jest.advanceTimersByTime(10 * TIMER_MAX_MS);
  expect(fired).toBe(0);
  expect(jest.getTimerCount()).toBe(0);
});

test('Infinity arms nothing; 2^31 - 1 ms is a plain timer', () => {
  expect(startTimer(() => undefined, Infinity, null, null)).toBeNull();
  expect(jest.getTimerCount()).toBe(0);
  let fired = 0;
  startTimer(() => fired++, TIMER_MAX_MS, null, null);
  jest.advanceTimersByTime(TIMER_MAX_MS - 1);
  expect(fired).toBe(0);
  jest.advanceTimersByTime(1);
  expect(fired).toBe(1);
});
