/**
 * How a connection ends: gracefully (every byte sent reaches the peer, then
 * FIN, never an RST) or abortively (RST).
 * @internal
 */
import type * as net from 'node:net';

/**
 * How long a gracefully closed socket keeps reading, and dropping, what the
 * peer still sends while it waits for the peer's FIN. A well-behaved peer
 * answers FIN with FIN within a round trip; one that does not is closed then.
 * @internal
 */
export const CLOSE_LINGER_MS = 2000;

function onLingerClose(this: net.Socket & { [kLingerTimer]?: NodeJS.Timeout }): void {
  clearTimeout(this[kLingerTimer]);
}
const kLingerTimer = Symbol('lingerTimer');

/**
 * Ends `sock` gracefully, TLS or plain: what was written is flushed (TLS:
 * then close_notify), then FIN. The socket keeps reading, and dropping what it
 * reads, until the peer's FIN closes it, for at most {@link CLOSE_LINGER_MS}.
 *
 * This is a lingering close, as web servers do it. Closing a socket at once
 * when unread bytes sit in its receive buffer (say, TLS 1.3 session tickets
 * the application never read) makes the kernel send an RST instead of FIN, and
 * a peer that receives an RST drops whatever it had not yet read: the last
 * bytes we sent would be lost. Draining until the peer's FIN avoids that.
 *
 * The caller must have moved the socket's listeners off its own state: what
 * still arrives is not for anyone.
 * @internal
 */
export function closeGracefully(sock: net.Socket): void {
  if (sock.destroyed) return;
  // Drain: a paused socket would leave the peer's bytes unread in the kernel.
  sock.resume();
  // With both sides ended Node destroys the socket by itself (autoDestroy).
  if (!sock.writableEnded) sock.end();
  if (sock.destroyed) return;
  const lingering = sock as net.Socket & { [kLingerTimer]?: NodeJS.Timeout };
  if (lingering[kLingerTimer] !== undefined) return;
  const timer = setTimeout(destroySocket, CLOSE_LINGER_MS, sock);
  // The socket holds the process while it is open; the timer need not.
  timer.unref();
  lingering[kLingerTimer] = timer;
  sock.once('close', onLingerClose);
}

/**
 * Ends `sock` with an RST: no TIME_WAIT, unsent bytes dropped. `raw` is the
 * TCP socket under `sock` (`sock` itself when plain).
 * @internal
 */
export function resetSocket(sock: net.Socket, raw: net.Socket): void {
  if (raw.destroyed) {
    // Reset or closed already. A TLS socket closes by itself once its transport
    // is gone; destroying it now, while OpenSSL may still be inside the read
    // that emitted the event we run in, frees the TLS session under it and
    // crashes the process (seen on Node 20, 22, 24 and 26). After this turn of
    // the event loop it is safe.
    if (!sock.destroyed) setImmediate(destroySocket, sock);
    return;
  }
  if (raw.writableEnded || sock.writableEnded) {
    // A FIN is under way (close() ran first): libuv refuses an RST then, and
    // Node would drop the handle without closing it, so close plainly. A TLS
    // socket closes the TCP socket under it.
    sock.destroy();
    return;
  }
  try {
    // For TLS only the TCP socket under it is reset (a TLS socket itself
    // cannot be: resetAndDestroy throws ERR_INVALID_HANDLE_TYPE on it, on
    // every line up to 26); the TLS socket sees its transport go and closes.
    raw.resetAndDestroy();
  } catch {
    sock.destroy();
  }
}

function destroySocket(sock: net.Socket): void {
  sock.destroy();
}
