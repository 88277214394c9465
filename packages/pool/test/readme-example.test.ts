// The README's examples are examples/*.ts, word for word; this runs each and checks the README still shows it.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { pingPong } from '../examples/ping-pong';
import { popWithSignal } from '../examples/pop-with-signal';
import { returnAwait } from '../examples/return-await';
import { failOnLateUnhandledRejections } from './helpers';

failOnLateUnhandledRejections();

test('the README example runs: 16 tasks, 3 pongs each, over 8 pooled connections', async () => {
  const lines: string[] = [];
  await pingPong((...args) => lines.push(args.join(' ')));
  expect(lines).toEqual(new Array(48).fill('client recv pong'));
});

test('the README example of a pop with a signal runs: the first task gives up, the second gets the item', async () => {
  const lines: string[] = [];
  await popWithSignal((...args) => lines.push(args.join(' ')));
  expect(lines).toEqual(['gave up waiting: AbortError', 'got item 1']);
});

test('the README example of `return await` runs: awaited replies in turn; without await, the next user collides', async () => {
  const lines: unknown[][] = [];
  await returnAwait((...args) => lines.push(args));
  expect(lines).toEqual([[['VALUE a', 'VALUE b']], ['VALUE c', 'ERR_CONCURRENT_RECV']]);
});

test.each(['ping-pong.ts', 'pop-with-signal.ts', 'return-await.ts'])(
  'the README shows examples/%s as it is',
  (file) => {
    const root = path.join(__dirname, '..');
    const example = readFileSync(path.join(root, 'examples', file), 'utf8').trim();
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    expect(readme).toContain('```ts\n' + example + '\n```');
  },
);
