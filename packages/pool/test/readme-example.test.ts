// The README's example is examples/ping-pong.ts, word for word; this runs it and checks the README still shows it.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { pingPong } from '../examples/ping-pong';
import { failOnLateUnhandledRejections } from './helpers';

failOnLateUnhandledRejections();

test('the README example runs: 16 tasks, 3 pongs each, over 8 pooled connections', async () => {
  const lines: string[] = [];
  await pingPong((...args) => lines.push(args.join(' ')));
  expect(lines).toEqual(new Array(48).fill('client recv pong'));
});

test('the README shows examples/ping-pong.ts as it is', () => {
  const root = path.join(__dirname, '..');
  const example = readFileSync(path.join(root, 'examples', 'ping-pong.ts'), 'utf8').trim();
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  expect(readme).toContain('```ts\n' + example + '\n```');
});
