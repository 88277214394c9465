// What Pool relies on, or works around, in generic-pool 3.x itself (checked on 3.9.0). If an upgrade
// changes one of these, this file says which part of src/generic-pool-adapter.ts to revisit.
//
// Two of them are internals (_createResource, _waitingClientsQueue.tail), which any release may
// change without a word: that is why package.json asks for generic-pool ~3.9.0 (patch releases
// only) rather than ^3.9.0, and why the first test fails on any other minor. Moving to another
// version is a deliberate step: install it, run this file, then widen the range.
import { createPool } from 'generic-pool';
import { readFileSync } from 'node:fs';

type Res = { id: number };

test('the installed generic-pool is 3.9.x, the minor whose internals the adapter was checked against', () => {
  const { version } = JSON.parse(readFileSync(require.resolve('generic-pool/package.json'), 'utf8')) as {
    version: string;
  };
  expect(version).toMatch(/^3\.9\.\d+$/);
});

function counting(create?: () => Promise<Res>) {
  let next = 0;
  const destroyed: Res[] = [];
  const factory = {
    create: create ?? (async (): Promise<Res> => ({ id: ++next })),
    destroy: async (r: Res): Promise<void> => void destroyed.push(r),
  };
  return { factory, destroyed };
}

test('clear() destroys idle resources but leaves them in the idle list (issue #217): Pool.clear does not use it', async () => {
  const { factory, destroyed } = counting();
  const gp = createPool(factory, { max: 10 });
  const a = await gp.acquire();
  await gp.release(a);
  await gp.clear();
  expect(destroyed).toEqual([a]);
  expect(gp.available).toBe(1);
  expect(await gp.acquire()).toBe(a); // a destroyed resource, handed out again
});

test('a create that rejects is retried for as long as an acquire waits (issues #175, #183): GenericPoolAdapter._createFailed', async () => {
  let calls = 0;
  const { factory } = counting(async () => {
    if (++calls < 500) throw new Error('down');
    return { id: calls };
  });
  const gp = createPool(factory, { max: 1 });
  gp.on('factoryCreateError', () => {});
  expect(await gp.acquire()).toEqual({ id: 500 }); // 499 failures swallowed, none reached the caller
  expect(calls).toBe(500);
});

test('testOnBorrow validates freshly created resources too: GenericPoolAdapter._fresh', async () => {
  const checked: Res[] = [];
  const { factory } = counting();
  const gp = createPool(
    {
      ...factory,
      validate: async (r: Res) => {
        checked.push(r);
        return true;
      },
    },
    { testOnBorrow: true },
  );
  const a = await gp.acquire();
  expect(checked).toEqual([a]);
});

// The one internal of generic-pool that Pool uses (GenericPoolAdapter.adopt says why no public call
// can stand in): if an upgrade drops or changes it, this test fails, and so does every Pool constructor.
test('_createResource() exists, calls factory.create synchronously and pools what it gives: GenericPoolAdapter.adopt', async () => {
  const stranger = { id: 42 };
  let handoff: Res | null = null;
  const { factory } = counting();
  const gp = createPool({ ...factory, create: async () => handoff ?? factory.create() }, { max: 10 });
  const internals = gp as unknown as { _createResource?: () => void };
  expect(typeof internals._createResource).toBe('function');
  handoff = stranger;
  internals._createResource!();
  handoff = null;
  expect(gp.available).toBe(0); // lands a microtask later
  await Promise.resolve();
  await Promise.resolve();
  expect(gp.available).toBe(1);
  expect(await gp.acquire()).toBe(stranger);
});

// The second internal (GenericPoolAdapter.acquireCancellable says why): how an aborted pop leaves
// generic-pool's queue. If an upgrade changes it, aborted pops still reject, but each stays queued
// until an item comes for it; this test fails first.
test('_waitingClientsQueue.tail is the request acquire() just queued; rejecting it as a TimeoutError unqueues it: GenericPoolAdapter.acquireCancellable', async () => {
  const { factory } = counting();
  const gp = createPool(factory, { max: 1 });
  const a = await gp.acquire();
  const waiting = gp.acquire();
  const queue = (
    gp as unknown as { _waitingClientsQueue?: { tail?: { promise: Promise<unknown>; reject(reason: unknown): void } } }
  )._waitingClientsQueue;
  expect(queue).toBeDefined();
  expect('tail' in queue!).toBe(true);
  const request = queue!.tail!;
  expect(request.promise).toBe(waiting);
  expect(gp.pending).toBe(1);
  request.reject(Object.assign(new Error('cancelled'), { name: 'TimeoutError' }));
  await expect(waiting).rejects.toThrow('cancelled');
  expect(gp.pending).toBe(0);
  await gp.release(a);
  expect(gp.available).toBe(1); // nobody waits for it any more
});
