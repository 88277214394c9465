/**
 * Tracing on node:diagnostics_channel: the documented channels carry the
 * documented messages for a server's listen and exit, a client's connect
 * (ok and failed), and each connection's open and close with its byte counts.
 */
import * as dc from 'node:diagnostics_channel';
import {
  Client,
  type ClientConnectMessage,
  type ConnectionCloseMessage,
  type ConnectionOpenMessage,
  Server,
  type ServerListenMessage,
  TcpChannels,
} from '../src';
import { closedPort, waitFor } from '../../../libs/test-support/net';
import { guardLeaks } from './helpers';

guardLeaks();

/** Subscribes to every channel for the test; unsubscribes after. */
function record(): { events: Array<[string, unknown]>; stop(): void } {
  const events: Array<[string, unknown]> = [];
  const subs = Object.values(TcpChannels).map((name) => {
    const fn = (message: unknown): void => {
      events.push([name, message]);
    };
    dc.subscribe(name, fn);
    return () => dc.unsubscribe(name, fn);
  });
  return { events, stop: () => subs.forEach((unsubscribe) => unsubscribe()) };
}

test('listen, connect, open, close (with byte counts and how), exit', async () => {
  const rec = record();
  try {
    const server = new Server().onConnection(async (conn) => {
      const buf = Buffer.alloc(5);
      if ((await conn.recvn(buf, 5, 3000)) === 5) await conn.send('world!');
      await conn.recv(buf, 5, 3000); // until the client closes
    });
    await server.start('127.0.0.1', 0);
    const port = server.address()!.port;
    const c = new Client('127.0.0.1', port);
    expect(await c.connect(3000)).toBe(true);
    expect(await c.send('hello')).toBe(5);
    expect(await c.recvn(Buffer.alloc(6), 6, 3000)).toBe(6);
    c.close();
    await waitFor(() => rec.events.filter(([n]) => n === TcpChannels.connectionClose).length === 2, 'both closes');
    server.exit();
    await server.shutdown(1000);

    const of = <T>(name: string): T[] => rec.events.filter(([n]) => n === name).map(([, m]) => m as T);
    expect(of<ServerListenMessage>(TcpChannels.serverListen)).toEqual([
      { server, address: '127.0.0.1', port, tls: false },
    ]);
    expect(of<ServerListenMessage>(TcpChannels.serverExit)).toEqual([
      { server, address: '127.0.0.1', port, tls: false },
    ]);
    const [connect] = of<ClientConnectMessage>(TcpChannels.clientConnect);
    expect(connect).toMatchObject({ client: c, address: '127.0.0.1', port, tls: false, ok: true, error: null });
    expect(connect.durationMs).toBeGreaterThanOrEqual(0);
    const opens = of<ConnectionOpenMessage>(TcpChannels.connectionOpen);
    expect(opens.map((o) => o.side).sort()).toEqual(['client', 'server']);
    const closes = of<ConnectionCloseMessage>(TcpChannels.connectionClose);
    const client = closes.find((m) => m.side === 'client')!;
    const served = closes.find((m) => m.side === 'server')!;
    expect(client).toMatchObject({
      connection: c,
      port,
      bytesWritten: 5,
      bytesRead: 6,
      how: 'closed',
      error: null,
      tls: false,
    });
    expect(served).toMatchObject({ bytesWritten: 6, bytesRead: 5, how: 'closed', error: null });
    expect(served.durationMs).toBeGreaterThanOrEqual(0);
  } finally {
    rec.stop();
  }
});

test('a failed connect is published with its code', async () => {
  const rec = record();
  try {
    const port = await closedPort();
    const c = new Client('127.0.0.1', port);
    expect(await c.connect(3000)).toBe(false);
    const messages = rec.events
      .filter(([n]) => n === TcpChannels.clientConnect)
      .map(([, m]) => m as ClientConnectMessage);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ ok: false, port });
    expect(messages[0].error?.code).toBe('ECONNREFUSED');
  } finally {
    rec.stop();
  }
});

test('the channel names are the documented ones', () => {
  expect(TcpChannels).toEqual({
    connectionOpen: 'proj:tcp:connection.open',
    connectionClose: 'proj:tcp:connection.close',
    clientConnect: 'proj:tcp:client.connect',
    serverListen: 'proj:tcp:server.listen',
    serverExit: 'proj:tcp:server.exit',
  });
});
