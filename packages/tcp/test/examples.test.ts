// The README's examples are files under examples/, word for word: this runs
// them and checks the README (this package's, and the repository's) still shows them.
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { quickStart } from '../examples/quick-start';
import { startPingPongServer } from '../examples/echo-server';

const root = path.join(__dirname, '..');

function example(name: string): string {
  return readFileSync(path.join(root, 'examples', name), 'utf8').trim();
}

test('the quick start gets its pong', async () => {
  expect(await quickStart()).toBe('pong');
});

test("co's ping-pong server answers every ping and closes when the client closes", async () => {
  const lines: string[] = [];
  const server = await startPingPongServer(0, (line) => lines.push(line));
  const sock = net.connect(server.address()!.port, '127.0.0.1');
  let got = '';
  sock.on('data', (d) => {
    got += d.toString();
    if (got.length === 4 || got.length === 8) sock.write('ping');
    if (got.length === 12) sock.end();
  });
  sock.write('ping');
  await new Promise((resolve) => sock.on('close', resolve));
  expect(got).toBe('pongpongpong');
  expect(lines).toEqual(['server recv ping', 'server recv ping', 'server recv ping']);
  await server.shutdown(1000);
  expect(server.connNum()).toBe(0);
});

test('the package README shows both examples as they are', () => {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  expect(readme).toContain('```ts\n' + example('quick-start.ts') + '\n```');
  expect(readme).toContain('```ts\n' + example('echo-server.ts') + '\n```');
});

test("the repository README's opening example is the quick start", () => {
  const readme = readFileSync(path.join(root, '..', '..', 'README.md'), 'utf8');
  expect(readme).toContain('```ts\n' + example('quick-start.ts') + '\n```');
});
