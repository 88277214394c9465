/**
 * The PROXY protocol with `workers`: the header is read on the thread that
 * runs the connection (handoff: after the socket reached its worker;
 * reuseport: where the worker accepted it), `peer()` there is the client it
 * names, `connNum()` counts the connection only once its header is read, and
 * a bad header reaches the calling thread's `onError` as `ERR_PROXY_PROTOCOL`.
 */
import * as net from 'node:net';
import { Server, TcpErrorCode, encodeProxyHeader, type TcpError } from '../src';
import { recordErrors, waitFor } from '../../../libs/test-support/net';
import { ECHO, MODES, startOrUnsupported } from './workers-helpers';

const HEADER = encodeProxyHeader({
  version: 2,
  command: 'PROXY',
  protocol: 'TCP4',
  source: { address: '198.51.100.20', port: 6000 },
  destination: { address: '192.0.2.1', port: 443 },
});

function line(sock: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const on = (c: Buffer): void => {
      got += c.toString();
      if (got.includes('\n')) {
        sock.off('data', on);
        resolve(got.slice(0, got.indexOf('\n')));
      }
    };
    sock.on('data', on);
  });
}

test.each(MODES)(
  'distribution %s: peer() on the worker is the client from the header; a bad header is reported',
  async (mode) => {
    const errors: TcpError[] = [];
    const server = new Server({
      workers: 1,
      proxyProtocol: 'v2',
      onError: (e) => void errors.push(e),
      ...(mode === undefined ? {} : { distribution: mode }),
    }).onConnection(ECHO);
    if (!(await startOrUnsupported(server, mode, '127.0.0.1', 0))) return;
    try {
      const port = server.address()!.port;
      const sock = net.connect({ port, host: '127.0.0.1' });
      recordErrors(sock);
      await new Promise((r) => sock.once('connect', r));
      sock.write(Buffer.concat([HEADER, Buffer.from('whoami\n')]));
      const who = JSON.parse(await line(sock)) as { peer: string };
      expect(who.peer).toBe('198.51.100.20:6000');
      expect(server.connNum()).toBe(1);
      sock.end();
      await new Promise((r) => sock.once('close', r));
      const bad = net.connect({ port, host: '127.0.0.1' });
      recordErrors(bad);
      bad.write('whoami\n');
      await new Promise((r) => bad.once('close', r));
      await waitFor(() => errors.length === 1, 'the report on the calling thread');
      expect(errors[0].code).toBe(TcpErrorCode.ERR_PROXY_PROTOCOL);
      expect(errors[0].message).toMatch(/not a PROXY v2 header: it starts with byte 0x77/);
      await waitFor(() => server.connNum() === 0, 'connNum back to 0');
    } finally {
      await server.shutdown(1000);
    }
  },
);
