// The README's examples are examples/quick-start.ts, typed-api.ts and backpressure.ts, word for word: this runs them
// and checks that the README still shows them as they are.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { quickStart } from '../examples/quick-start';
import { typedApi } from '../examples/typed-api';
import { backpressure } from '../examples/backpressure';
import { guardLeaks } from './helpers';

guardLeaks();

const root = path.join(__dirname, '..');

test('the quick start prints what its comments say', async () => {
  const lines: string[] = [];
  await quickStart((line) => lines.push(line));
  expect(lines).toEqual([
    'add: 5',
    'users: [{"id":1,"name":"Ada"},"E_NO_USER"]',
    'server log: hello',
    'missing: METHOD_NOT_FOUND',
  ]);
});

test('the typed API example prints what its comments say', async () => {
  const lines: string[] = [];
  await typedApi((line) => lines.push(line));
  expect(lines).toEqual([
    'add: 5',
    'divide: 0.25',
    'divide by 0: E_DIVIDE_BY_ZERO, remote true',
    'slowEcho: TIMEOUT, remote false',
  ]);
});

test('the backpressure example prints what its comments say', async () => {
  const lines: string[] = [];
  await backpressure((line) => lines.push(line));
  expect(lines).toEqual(['timed out: 64 of 64', 'some never sent: true', 'stored: 3']);
});

test.each([
  ['the quick start', 'quick-start.ts'],
  ['the typed API example', 'typed-api.ts'],
  ['the backpressure example', 'backpressure.ts'],
])('the README shows %s as it is', (_name, file) => {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const example = readFileSync(path.join(root, 'examples', file), 'utf8').trim();
  expect(readme).toContain('```ts\n' + example + '\n```');
});
