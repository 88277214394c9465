/**
 * The wire-format baseline of the benchmark: rpc-lite's wire format (a 4-byte
 * big-endian length, then one msgpack-rpc message packed by msgpackr with the
 * same settings) written the plain way on raw `node:net`, client and server:
 * `'data'` events, a buffer of what is left of a frame, one `socket.write`
 * per message, and nothing else. What rpc-lite adds on top (the pull API of
 * `@proj/tcp`, the pool, the frame writer, time limits) is measured against it.
 */
import * as net from 'node:net';
import { Packr, Unpackr } from 'msgpackr';

const REQUEST = 0;
const RESPONSE = 1;

const packr = new Packr({ useRecords: false, encodeUndefinedAsNil: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

/** One frame of the wire format: a 4-byte big-endian length, then `message` packed. */
export function frame(message: unknown[]): Buffer {
  const body = packr.pack(message);
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

/** Calls `onMessage` with each message of the byte stream read from `socket`. */
function readMessages(socket: net.Socket, onMessage: (message: unknown[]) => void): void {
  let held: Buffer | null = null;
  socket.on('data', (chunk: Buffer) => {
    let buf = held === null ? chunk : Buffer.concat([held, chunk]);
    while (buf.length >= 4) {
      const length = buf.readUInt32BE(0);
      if (buf.length < 4 + length) break;
      onMessage(unpackr.unpack(buf.subarray(4, 4 + length)) as unknown[]);
      buf = buf.subarray(4 + length);
    }
    held = buf.length > 0 ? buf : null;
  });
}

/** A server that answers each request with what `handlers[method](params)` returns. */
export function startWireServer(handlers: Record<string, (params: unknown) => unknown>): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => socket.destroy());
    readMessages(socket, (m) => {
      if (m[0] !== REQUEST) return;
      const handler = handlers[m[2] as string];
      const response =
        handler === undefined
          ? [RESPONSE, m[1], { code: 'METHOD_NOT_FOUND' }, null]
          : [RESPONSE, m[1], null, handler(m[3])];
      socket.write(frame(response));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** A client with any number of calls in flight on one connection, matched by msgid. */
export class WireClient {
  private readonly _socket: net.Socket;
  private readonly _pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  private _nextId = 0;

  private constructor(socket: net.Socket) {
    this._socket = socket;
    readMessages(socket, (m) => {
      const call = this._pending.get(m[1] as number);
      if (call === undefined) return;
      this._pending.delete(m[1] as number);
      if (m[2] === null) call.resolve(m[3]);
      else call.reject(m[2]);
    });
  }

  static connect(port: number): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.off('error', reject);
        socket.setNoDelay(true);
        resolve(new WireClient(socket));
      });
      socket.once('error', reject);
    });
  }

  call(method: string, params: unknown): Promise<unknown> {
    const msgid = this._nextId++ >>> 0;
    return new Promise((resolve, reject) => {
      this._pending.set(msgid, { resolve, reject });
      this._socket.write(frame([REQUEST, msgid, method, params]));
    });
  }

  close(): void {
    this._socket.destroy();
  }
}
