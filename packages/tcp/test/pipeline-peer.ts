/**
 * The peer of the Pipeline tests, on raw `node:net`: it records every request
 * line (`Q<id>\n`) it receives and answers only when the test says so, with
 * `A<id>:<payload>\n`, in pieces the test chooses. A client reader that took
 * a reply for the wrong request sees the wrong id.
 */
import type * as net from 'node:net';
import { Client, Pipeline } from '../src';
import { rawServer, type RawServer } from '../../../test-support/net';

/** The payload of the reply to request `id`: its length varies with the id. */
export function payloadOf(id: number): string {
  return `p${id}-`.padEnd(3 + (id % 23), String.fromCharCode(97 + (id % 26)));
}

/** The whole reply line to request `id`. */
export function replyOf(id: number): string {
  return `A${id}:${payloadOf(id)}\n`;
}

export interface LinePeer {
  raw: RawServer;
  port: number;
  /** The client's socket on the peer's side, once connected. */
  sock(): Promise<net.Socket>;
  /** Ids of the requests received, in order. */
  received: number[];
  /** How many of `received` were answered. */
  answered: number;
  /** Resolves once at least `n` requests were received. */
  receivedAtLeast(n: number): Promise<void>;
  /** Answers the next received request, written in the pieces `cuts` (byte offsets) make. */
  answerNext(cuts?: number[]): Promise<void>;
  close(): Promise<void>;
}

export async function linePeer(): Promise<LinePeer> {
  let current: net.Socket | null = null;
  let pending = '';
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const peer: LinePeer = {
    raw: null as unknown as RawServer,
    port: 0,
    received: [],
    answered: 0,
    sock: () => (current !== null ? Promise.resolve(current) : peer.raw.nextSocket()),
    receivedAtLeast: (n) =>
      peer.received.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve })),
    answerNext: async (cuts = []) => {
      const id = peer.received[peer.answered++];
      if (id === undefined) throw new Error('no request to answer');
      const bytes = Buffer.from(replyOf(id));
      const sock = await peer.sock();
      let from = 0;
      for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b), bytes.length]) {
        if (cut <= from) continue;
        sock.write(bytes.subarray(from, cut));
        from = cut;
        await new Promise((resolve) => setImmediate(resolve));
      }
    },
    close: () => peer.raw.close(),
  };
  peer.raw = await rawServer((sock) => {
    current = sock;
    pending = '';
    sock.setNoDelay(true);
    sock.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      for (let i; (i = pending.indexOf('\n')) >= 0; pending = pending.slice(i + 1)) {
        const line = pending.slice(0, i);
        if (!/^Q\d+$/.test(line)) throw new Error(`the peer got a bad request line ${JSON.stringify(line)}`);
        peer.received.push(Number(line.slice(1)));
      }
      for (let w = waiters.length - 1; w >= 0; w--) {
        if (peer.received.length >= waiters[w].n) waiters.splice(w, 1)[0].resolve();
      }
    });
  });
  peer.port = peer.raw.port;
  return peer;
}

/** What the test's readReply returns: the id and payload of one reply line. */
export interface Reply {
  id: number;
  payload: string;
}

/**
 * A pipeline over a new Client to `port`, whose readReply reads one reply
 * line (taking it at once when it is here already).
 */
export async function linePipeline(
  port: number,
  maxInFlight?: number,
): Promise<{ c: Client; pipe: Pipeline<Reply, Client> }> {
  const c = new Client('127.0.0.1', port);
  if (!(await c.connect(5000))) throw c.lastError!;
  const line = Buffer.alloc(256);
  const readReply = async (conn: Client): Promise<Reply> => {
    let n = conn.tryRecvUntil(line, '\n');
    if (n === 0) n = await conn.recvUntil(line, '\n');
    if (n <= 0) throw conn.lastError ?? new Error('the peer closed the connection');
    const text = line.toString('latin1', 0, n - 1);
    const colon = text.indexOf(':');
    return { id: Number(text.slice(1, colon)), payload: text.slice(colon + 1) };
  };
  return { c, pipe: new Pipeline(c, readReply, maxInFlight === undefined ? {} : { maxInFlight }) };
}
