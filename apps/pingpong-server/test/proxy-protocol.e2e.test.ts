/**
 * pingpong-server --proxy-protocol as a child process: a client that writes a
 * PROXY header by hand (as a balancer would) and then pings; the server's
 * per-connection line names the client from the header, and a connection
 * without a header is refused and reported.
 */
import { connect, type Socket } from 'node:net';
import { encodeProxyHeader } from '@proj/tcp';
import { SERVER_MAIN, requireBuilt, startServer, stopAllApps } from '../../../libs/test-support/apps';

jest.setTimeout(30_000);
beforeAll(() => requireBuilt(SERVER_MAIN));
afterEach(async () => {
  expect(await stopAllApps()).toBe(0);
});

function open(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' }, () => resolve(s));
    s.once('error', reject);
  });
}

function readN(s: Socket, n: number): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const on = (c: Buffer): void => {
      got += c.toString('latin1');
      if (got.length >= n) {
        s.off('data', on);
        resolve(got);
      }
    };
    s.on('data', on);
  });
}

test.each([
  ['v1', 1 as const],
  ['v2', 2 as const],
])(
  '--proxy-protocol %s: the connection line names the client from the header, and pongs come back',
  async (flag, version) => {
    const { app, port } = await startServer(['--proxy-protocol', flag]);
    await app.waitFor(new RegExp(`every connection must begin with a PROXY header \\(${flag}\\)`));
    const s = await open(port);
    const header = encodeProxyHeader({
      version,
      command: 'PROXY',
      protocol: 'TCP4',
      source: { address: '203.0.113.7', port: 4242 },
      destination: { address: '192.0.2.1', port: 7788 },
    });
    s.write(Buffer.concat([header, Buffer.from('pingping')]));
    expect(await readN(s, 8)).toBe('pongpong');
    await app.waitFor(
      new RegExp(
        `^203\\.0\\.113\\.7:4242 connected \\(1 open\\) via 127\\.0\\.0\\.1:${s.localPort} \\(PROXY v${version} PROXY\\)$`,
        'm',
      ),
    );
    s.end();
    await app.waitFor(/203\.0\.113\.7:4242 closed by the client/);
    expect((await app.stop('SIGTERM')).code).toBe(0);
  },
);

test('a connection without a PROXY header is refused and the server says why', async () => {
  const { app, port } = await startServer(['--proxy-protocol', 'any']);
  const s = await open(port);
  s.on('error', () => {});
  s.write('ping');
  await new Promise((resolve) => s.once('close', resolve));
  await app.waitFor(
    /bad PROXY header from 127\.0\.0\.1:\d+: not a PROXY v1 or v2 header: it starts with byte 0x70; the connection was reset/,
  );
  expect(app.stdout).not.toMatch(/connected/);
  expect((await app.stop('SIGTERM')).code).toBe(0);
});
