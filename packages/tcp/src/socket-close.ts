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
 */
export const CLOSE_LINGER_MS = 2000;

function destroyLingering(sock: net.Socket): void {
  sock.destroy();
}

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
  const timer = setTimeout(destroyLingering, CLOSE_LINGER_MS, sock);
  // The socket holds the process while it is open; the timer need not.
  timer.unref();
  lingering[kLingerTimer] = timer;
  sock.once('close', onLingerClose);
}

/**
 * Ends `sock` with an RST: no TIME_WAIT, unsent bytes dropped. `raw` is the
 * TCP socket under `sock` (`sock` itself when plain).
 */
export function resetSocket(sock: net.Socket, raw: net.Socket): void {
  if (raw.destroyed || raw.writableEnded || sock.writableEnded) {
    // Closed already, or a FIN is under way (close() ran first): libuv
    // refuses an RST then, and Node would drop the handle without closing
    // it, so close plainly. A TLS socket closes the TCP socket under it.
    sock.destroy();
    return;
  }
  try {
    // For TLS only the TCP socket under it is reset: the TLS socket sees its
    // transport go and closes by itself. A TLS socket itself cannot be reset
    // (resetAndDestroy throws ERR_INVALID_HANDLE_TYPE on it), and destroying
    // both in the same tick right after a handshake crashes Node 20.
    raw.resetAndDestroy();
  } catch {
    sock.destroy();
  }
}
