import { PoolError } from '../src';

export { deferred, sleep, waitFor } from '../../../libs/test-support/net';

/** A plain item: what the unit tests pool instead of sockets. */
export interface Item {
  id: number;
  destroyed: boolean;
}

/** create/destroy that count what they do, plus everything reported through onError. */
export function tracker() {
  let next = 0;
  const t = {
    created: [] as Item[],
    destroyed: [] as Item[],
    errors: [] as PoolError[],
    create: (): Item => {
      const item = { id: ++next, destroyed: false };
      t.created.push(item);
      return item;
    },
    destroy: (item: Item): void => {
      if (item.destroyed) throw new Error(`item ${item.id} destroyed twice`);
      item.destroyed = true;
      t.destroyed.push(item);
    },
    onError: (err: PoolError): void => {
      t.errors.push(err);
    },
    codes: (): string[] => t.errors.map((e) => e.code),
    /** Items created and not destroyed. */
    live: (): number => t.created.length - t.destroyed.length,
  };
  return t;
}

/**
 * What `p` resolves with, or `'still pending after <ms> ms'` if it takes longer. The timer is
 * cleared either way, so a passing test leaves nothing for Jest to wait for.
 */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`still pending after ${ms} ms`), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Lets every pending promise reaction run (generic-pool's steps take a few): once it resolves,
 * whatever a pool call set off without a timer has happened.
 */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Jest 30 fails the running test on an unhandled rejection. A rejection left by a
 * test's last step would only surface after it ended: give it a turn to surface inside it.
 */
export function failOnLateUnhandledRejections(): void {
  afterEach(() => new Promise((resolve) => setImmediate(resolve)));
}
