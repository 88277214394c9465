/**
 * The `@example` at the top of src/index.ts (the package's TSDoc, what an
 * editor shows) runs as written: it is taken from the comment, its types are
 * stripped by the TypeScript compiler, and it runs against this package with
 * Server and Client subclasses that only record what happened. (The README's
 * examples have their own test, examples.test.ts.)
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { Client, Server } from '../src';
import { guardLeaks } from './helpers';

guardLeaks();

/** The code of the first ```ts block of the `@example` in `file`'s first doc comment. */
function docExample(file: string): string {
  const source = readFileSync(file, 'utf8');
  const comment = source.slice(source.indexOf('/**'), source.indexOf('*/'));
  const lines = comment.split('\n').map((line) => line.replace(/^\s*\* ?/, ''));
  const start = lines.indexOf('@example');
  if (start < 0) throw new Error(`no @example in ${file}`);
  const open = lines.indexOf('```ts', start);
  const close = lines.indexOf('```', open + 1);
  return lines.slice(open + 1, close).join('\n');
}

test('the @example of src/index.ts runs as written and the client gets its "pong"', async () => {
  const code = docExample(path.join(__dirname, '..', 'src', 'index.ts'));
  expect(code).toContain("from '@proj/tcp'");
  const body = code.replace(/^import .* from '@proj\/tcp';$/m, '');
  const js = ts.transpileModule(body, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
  }).outputText;

  const received: string[] = [];
  const servers: Server[] = [];
  const clients: Client[] = [];
  class RecordingServer extends Server {
    constructor(...args: ConstructorParameters<typeof Server>) {
      super(...args);
      servers.push(this);
    }
  }
  class RecordingClient extends Client {
    constructor(ip: string, port: number, useSsl?: boolean) {
      super(ip, port, useSsl);
      clients.push(this);
    }
    override recv(buf: Uint8Array, n?: number, ms?: number): Promise<number> {
      return super.recv(buf, n, ms).then((got) => {
        if (got > 0) received.push(Buffer.from(buf.subarray(0, got)).toString());
        return got;
      });
    }
  }

  const AsyncFunction = (async () => {}).constructor as new (
    ...args: string[]
  ) => (...values: unknown[]) => Promise<void>;
  await new AsyncFunction('Server', 'Client', 'Buffer', js)(RecordingServer, RecordingClient, Buffer);

  expect(received).toEqual(['pong']);
  expect(servers).toHaveLength(1);
  expect(servers[0].address()).toBeNull(); // the example shut its server down
  expect(servers[0].connNum()).toBe(0);
  expect(clients).toHaveLength(1);
  expect(clients[0].connected()).toBe(false); // and closed its client
});
