/**
 * AbortSignal on every call that waits: recv, recvn, recvUntil, send, sendv,
 * connect and Server.shutdown. An aborted read consumes nothing; an aborted
 * send resets the connection as a timed-out one does; a signal aborted
 * already fails the call at once with no side effect; and the listener a call
 * adds is gone when it settles (100,000 calls on one long-lived signal).
 */
import { getEventListeners } from 'node:events';
import { Client, Server, TcpAbortError } from '../src';
import { collectGarbage } from '../../../test-support/hostile';
import { pattern, rawConnect, rawServer, readToEnd, silentListener, waitFor } from '../../../test-support/net';
import { describeConnectedPairs, guardLeaks, MiB, VARIANTS } from './helpers';

guardLeaks();

const setup = describeConnectedPairs(VARIANTS, (p) => {
  test('an aborted recvn consumes nothing, not even its partial bytes; the reason is the cause', async () => {
    const ac = new AbortController();
    const buf = Buffer.alloc(8);
    const pending = p.ours.recvn(buf, 8, { signal: ac.signal });
    p.peer.write('abc');
    await waitFor(() => p.ours.bytesRead >= 3, 'the partial bytes to arrive');
    const reason = new Error('stop');
    ac.abort(reason);
    expect(await pending).toBe(-1);
    expect(p.ours.lastError).toMatchObject({ code: 'ABORT_ERR', cause: reason });
    p.peer.write('defgh');
    expect(await p.ours.recvn(buf, 8, 2000)).toBe(8);
    expect(buf.toString()).toBe('abcdefgh');
  });

  test('an aborted recv returns -1 and the connection goes on', async () => {
    const ac = new AbortController();
    const buf = Buffer.alloc(8);
    const pending = p.ours.recv(buf, 8, { ms: 10_000, signal: ac.signal });
    ac.abort();
    expect(await pending).toBe(-1);
    expect(p.ours.lastError?.code).toBe('ABORT_ERR');
    p.peer.write('x');
    expect(await p.ours.recv(buf, 8, 2000)).toBe(1);
  });

  test('a signal aborted already: recv, recvn, send and sendv fail at once and touch nothing', async () => {
    const signal = AbortSignal.abort();
    p.peer.write('queued');
    await waitFor(() => p.ours.bytesRead >= 6, 'the bytes to arrive');
    const buf = Buffer.alloc(6);
    expect(await p.ours.recv(buf, 6, { signal })).toBe(-1);
    expect(await p.ours.recvn(buf, 6, { signal })).toBe(-1);
    expect(await p.ours.send('never', undefined, { signal })).toBe(-1);
    expect(await p.ours.sendv(['never'], { signal })).toBe(-1);
    expect(p.ours.lastError?.code).toBe('ABORT_ERR');
    expect(p.ours.bytesWritten).toBe(0);
    expect(await p.ours.recvn(buf, 6, 2000)).toBe(6);
    expect(buf.toString()).toBe('queued');
    const reading = readToEnd(p.peer);
    expect(await p.ours.send('sent')).toBe(4);
    if ('disconnect' in p.ours) p.ours.disconnect();
    else await p.ours.close();
    expect((await reading).data.toString()).toBe('sent');
  });

  test('an aborted send resets the connection, as a timed-out one does', async () => {
    p.peer.pause();
    const ac = new AbortController();
    const pending = p.ours.send(pattern(0, 16 * MiB), undefined, { signal: ac.signal });
    setImmediate(() => ac.abort());
    expect(await pending).toBe(-1);
    expect(p.ours.lastError?.code).toBe('ABORT_ERR');
    expect(await p.ours.recv(Buffer.alloc(1), 1, 1000)).toBe(-1);
    // The peer's stream stops short: what the kernel held when the RST came is all it gets.
    const r = await readToEnd(p.peer.resume());
    expect(r.data.length).toBeLessThan(16 * MiB);
  });
});

test('100,000 waiting calls on one long-lived signal leave no listener on it and no memory behind', async () => {
  const server = new Server().onConnection(async (conn) => {
    const buf = Buffer.alloc(1);
    while ((await conn.recv(buf, 1)) > 0) await conn.send(buf, 1);
  });
  await server.start('127.0.0.1', 0);
  const c = new Client('127.0.0.1', server.address()!.port);
  try {
    expect(await c.connect(3000)).toBe(true);
    const signal = new AbortController().signal;
    const buf = Buffer.alloc(1);
    const one = async (): Promise<void> => {
      // The recv waits (the echo is not back yet), so it adds its listener and removes it.
      expect(await c.send(buf, 1, { signal })).toBe(1);
      expect(await c.recv(buf, 1, { ms: 5000, signal })).toBe(1);
    };
    for (let i = 0; i < 1000; i++) await one(); // warm up
    collectGarbage();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 100_000; i++) {
      await one();
      if (i % 10_000 === 0) expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    }
    collectGarbage();
    const grown = process.memoryUsage().heapUsed - before;
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    expect(grown).toBeLessThan(2 * MiB);
  } finally {
    c.close();
    await server.shutdown(1000);
  }
}, 120_000);

describe('connect', () => {
  test('aborted during a TLS handshake that never comes: false, ABORT_ERR, nothing left open', async () => {
    const silent = await silentListener();
    try {
      const c = new Client('127.0.0.1', silent.port, true, { ca: setup.certs.cert });
      const ac = new AbortController();
      const connecting = c.connect({ ms: 10_000, signal: ac.signal });
      await silent.nextSocket();
      ac.abort(new Error('enough'));
      expect(await connecting).toBe(false);
      expect(c.lastError).toMatchObject({ code: 'ABORT_ERR' });
      expect(c.connected()).toBe(false);
    } finally {
      await silent.close();
    }
  });

  test('a signal aborted already: false at once, no connection attempted', async () => {
    const raw = await rawServer();
    try {
      const c = new Client('127.0.0.1', raw.port);
      expect(await c.connect({ signal: AbortSignal.abort() })).toBe(false);
      expect(c.lastError?.code).toBe('ABORT_ERR');
      expect(raw.sockets.size).toBe(0);
      expect(await c.connect({ ms: 3000 })).toBe(true);
      c.close();
    } finally {
      await raw.close();
    }
  });
});

describe('Server.shutdown', () => {
  test('aborted while connections drain: rejects with AbortError (ABORT_ERR, cause), the connections go on closing', async () => {
    const server = new Server().onConnection(async (conn) => {
      await conn.recv(Buffer.alloc(1)); // the handler waits; shutdown closes the connection under it
    });
    await server.start('127.0.0.1', 0);
    // A half-open raw peer never answers our FIN, so the connection lingers.
    const peer = await rawConnect(server.address()!.port, '127.0.0.1', { allowHalfOpen: true });
    await waitFor(() => server.connNum() === 1, 'the connection');
    const ac = new AbortController();
    const shutting = server.shutdown({ ms: -1, signal: ac.signal });
    const reason = new Error('deploy cancelled');
    ac.abort(reason);
    await expect(shutting).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: reason });
    await expect(shutting).rejects.toBeInstanceOf(TcpAbortError);
    expect(server.address()).toBeNull(); // exit() had run
    peer.destroy();
    await server.shutdown(1000);
    expect(server.connNum()).toBe(0);
  });

  test('a signal aborted already: rejects at once and the server keeps listening', async () => {
    const server = new Server().onConnection(() => {});
    await server.start('127.0.0.1', 0);
    await expect(server.shutdown({ signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(server.address()).not.toBeNull();
    await server.shutdown();
  });
});
