/**
 * Helpers of the rpc-lite tests: a server on loopback port 0, and a raw
 * `net.Socket` peer that reads frames by hand, to pin the wire format.
 */
import * as net from 'node:net';
import { RpcServer, type RpcServerOptions } from '../src';

export interface Started {
  server: RpcServer;
  port: number;
  /** Errors the server reported through `onError`. */
  errors: Array<{ err: Error; peer: string | null }>;
}

/** Starts `server` (made with `options` plus an `onError` that records) on `host` port 0. */
export async function startServer(
  setup: (server: RpcServer) => void,
  options: RpcServerOptions = {},
  host = '127.0.0.1',
): Promise<Started> {
  const errors: Started['errors'] = [];
  const server = new RpcServer({ onError: (err, peer) => errors.push({ err, peer }), ...options });
  setup(server);
  await server.start(host, 0);
  return { server, port: server.address()!.port, errors };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Frames `body`: 4-byte big-endian length, then the bytes. */
export function frame(body: number[] | Uint8Array): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  return Buffer.concat([header, Buffer.from(body)]);
}

/** A raw socket that collects what it receives, and reads whole frames from it. */
export class RawPeer {
  readonly sock: net.Socket;
  private _buf = Buffer.alloc(0);
  private _ended = false;
  private _wake: (() => void) | null = null;
  readonly closed: Promise<void>;

  private constructor(sock: net.Socket) {
    this.sock = sock;
    sock.on('data', (chunk: Buffer) => {
      this._buf = Buffer.concat([this._buf, chunk]);
      this._wake?.();
    });
    sock.on('end', () => {
      this._ended = true;
      this._wake?.();
    });
    // A reset from the server is part of some tests: record it, never crash.
    sock.on('error', () => {
      this._ended = true;
      this._wake?.();
    });
    this.closed = new Promise((resolve) => sock.once('close', () => resolve()));
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ port, host, noDelay: true }, () => {
        sock.off('error', reject);
        resolve(new RawPeer(sock));
      });
      sock.once('error', reject);
    });
  }

  write(bytes: number[] | Uint8Array): void {
    this.sock.write(Buffer.from(bytes));
  }

  /** Waits for `n` bytes (or the end of the stream) for at most `ms`. */
  async bytes(n: number, ms = 3000): Promise<Buffer> {
    const deadline = Date.now() + ms;
    while (this._buf.length < n && !this._ended) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${n} bytes (have ${this._buf.length})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this._wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this._wake = null;
    }
    if (this._buf.length < n) throw new Error(`stream ended after ${this._buf.length} of ${n} bytes`);
    const out = this._buf.subarray(0, n);
    this._buf = this._buf.subarray(n);
    return out;
  }

  /** Reads one frame and returns its body. */
  async frame(ms = 3000): Promise<Buffer> {
    const header = await this.bytes(4, ms);
    return this.bytes(header.readUInt32BE(0), ms);
  }

  /** Resolves `true` once the server ended or reset the stream within `ms`, with nothing else received. */
  async endsWithin(ms = 3000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this._ended && Date.now() < deadline) await sleep(10);
    return this._ended && this._buf.length === 0;
  }

  destroy(): void {
    this.sock.destroy();
  }
}
