/**
 * `readable` and `writable` of a channel as WHATWG streams (Deno.Conn's
 * shape), built on the channel's own read queue and send path: a byte stream
 * whose BYOB readers read straight into their buffers, and a writable whose
 * writes are sends. Backpressure holds both ways: the readable pulls only
 * when its reader asks, so unread bytes stay within the channel's bound; a
 * write resolves when the send does.
 * @internal
 */
import { ReadableStream, WritableStream } from 'node:stream/web';
import type { ReadableByteStreamController } from 'node:stream/web';
import type { TcpError } from './errors';

/** What the streams need of their channel. @internal */
export interface StreamHost {
  /** recv, bypassing the check that a reader holds the stream. */
  _streamRecv(view: Uint8Array, signal: AbortSignal): Promise<number>;
  /** send, bypassing the check that a writer holds the stream. */
  _streamSend(chunk: Uint8Array): Promise<number>;
  /** Ends the sending side (FIN); reading goes on. */
  _streamEnd(): void;
  /** Resets the connection (the writable was aborted). */
  _streamReset(): void;
  readonly lastError: TcpError | null;
}

/** Chunks a default (non-BYOB) reader gets are at most this long. */
const AUTO_CHUNK_BYTES = 16 * 1024;

/** The readable side: a byte stream; each pull is one recv into the reader's buffer. @internal */
export function makeReadable(host: StreamHost): ReadableStream<Uint8Array> {
  const cancelled = new AbortController();
  return new ReadableStream({
    type: 'bytes',
    autoAllocateChunkSize: AUTO_CHUNK_BYTES,
    async pull(controller: ReadableByteStreamController) {
      const request = controller.byobRequest!;
      const view = request.view as Uint8Array;
      const n = await host._streamRecv(new Uint8Array(view.buffer, view.byteOffset, view.byteLength), cancelled.signal);
      if (cancelled.signal.aborted) return;
      if (n > 0) {
        request.respond(n);
      } else if (n === 0) {
        controller.close();
        request.respond(0);
      } else {
        controller.error(host.lastError);
      }
    },
    cancel() {
      // A pull under way gives up; what it had not read stays in the channel's queue.
      cancelled.abort();
    },
  });
}

/** The writable side: each write is one send; close sends FIN; abort resets. @internal */
export function makeWritable(host: StreamHost): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>({
    async write(chunk) {
      if (!(chunk instanceof Uint8Array)) throw new TypeError("write a Uint8Array to a connection's writable");
      if ((await host._streamSend(chunk)) < 0) throw host.lastError ?? new Error('send failed');
    },
    close() {
      host._streamEnd();
    },
    abort() {
      host._streamReset();
    },
  });
}
