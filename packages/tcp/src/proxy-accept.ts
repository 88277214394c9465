/**
 * Accept-time PROXY protocol: who may send a header (`proxyFrom`), and
 * reading the header off a freshly accepted socket before anything else sees
 * it. Depends on nothing but the socket and plain options, so it runs on
 * whichever thread runs the connection.
 * @internal
 */
import * as net from 'node:net';
import { TcpError, TcpErrorCode, fromNodeError } from './errors';
import {
  PROXY_INVALID,
  PROXY_NEED_MORE,
  ProxyHeaderParser,
  type ProxyInfo,
  type ProxyProtocolVersion,
} from './proxy-protocol';
import { resetSocket } from './socket-close';

/** The PROXY protocol options of a server, as given (plain data: they cross to a worker thread as they are). @internal */
export interface ProxyOptions {
  readonly proxyProtocol: ProxyProtocolVersion;
  readonly proxyHeaderTimeoutMs: number;
  readonly proxyFrom: readonly string[] | undefined;
}

/** `::ffff:a.b.c.d` as `a.b.c.d`; anything else as it is. */
function unmapped(address: string): string {
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address) ? address.slice(7) : address;
}

/**
 * The addresses allowed to send a header, from `proxyFrom`: addresses and CIDR
 * blocks, IPv4 and IPv6. An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, as a
 * dual-stack listener reports an IPv4 peer) matches as the IPv4 address it
 * maps, on either side.
 * @throws TypeError naming the entry that is neither.
 * @internal
 */
export function compileProxyFrom(list: readonly string[]): net.BlockList {
  const allow = new net.BlockList();
  for (const entry of list) {
    if (typeof entry !== 'string') throw new TypeError(`proxyFrom entries must be strings, got ${typeof entry}`);
    const slash = entry.indexOf('/');
    let address = slash < 0 ? entry : entry.slice(0, slash);
    let prefix = slash < 0 ? -1 : /^\d{1,3}$/.test(entry.slice(slash + 1)) ? Number(entry.slice(slash + 1)) : NaN;
    const mapped = unmapped(address);
    if (mapped !== address) {
      address = mapped;
      if (prefix >= 0) prefix = prefix >= 96 ? prefix - 96 : NaN;
    }
    const type = net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) ? 'ipv6' : null;
    const bits = type === 'ipv4' ? 32 : 128;
    if (type === null || Number.isNaN(prefix) || prefix > bits) {
      throw new TypeError(
        `proxyFrom entry ${JSON.stringify(entry)} is not an IPv4 or IPv6 address or CIDR block (like "10.0.0.0/8" or "fd00::/8")`,
      );
    }
    if (prefix < 0) allow.addAddress(address, type);
    else allow.addSubnet(address, prefix, type);
  }
  return allow;
}

/** Whether `address` (a socket's peer) is in `allow`. @internal */
export function proxyAllowed(allow: net.BlockList, address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = unmapped(address);
  return allow.check(a, net.isIPv4(a) ? 'ipv4' : 'ipv6');
}

/** What {@link ProxyGate.admit} calls once the header is read: `rest` holds bytes that came after it (the application's), if any. @internal */
export type ProxyAdmitted = (sock: net.Socket, info: ProxyInfo, rest: Buffer | null) => void;

/** One socket whose header is being read. */
class PendingHeader {
  readonly parser: ProxyHeaderParser;
  timer: NodeJS.Timeout | null = null;

  constructor(
    readonly gate: ProxyGate,
    readonly sock: net.Socket,
    readonly then: ProxyAdmitted,
  ) {
    this.parser = new ProxyHeaderParser(gate.options.proxyProtocol);
  }
}

const kPending = Symbol('proxyPending');
type PendingSocket = net.Socket & { [kPending]: PendingHeader };

// Shared listeners (`this` is the socket): no closure per connection.
function onHeaderData(this: PendingSocket, chunk: Buffer): void {
  const p = this[kPending];
  const r = p.parser.feed(chunk);
  if (r === PROXY_NEED_MORE) return;
  if (r === PROXY_INVALID) {
    p.gate._refuse(p, p.parser.error);
    return;
  }
  p.gate._admitted(p, r < chunk.length ? chunk.subarray(r) : null);
}
function onHeaderEnd(this: PendingSocket): void {
  const p = this[kPending];
  p.gate._refuse(p, `the peer closed the connection after ${p.parser.taken} bytes, before its PROXY header ended`);
}
function onHeaderError(this: PendingSocket, err: Error): void {
  const p = this[kPending];
  p.gate._refuse(p, `the connection failed after ${p.parser.taken} bytes, before its PROXY header ended`, err);
}
function onHeaderTimeout(p: PendingHeader): void {
  p.timer = null;
  p.gate._refuse(
    p,
    `no complete PROXY header within ${p.gate.options.proxyHeaderTimeoutMs} ms (${p.parser.taken} bytes came; proxyHeaderTimeoutMs)`,
  );
}
function ignore(): void {}

/**
 * Reads the PROXY header of each accepted socket before the connection is
 * made: refuses peers outside `proxyFrom` before reading a byte, then reads
 * until the header ends, and hands on the socket with the header and the
 * bytes that came after it in the same read. Node reads whatever the kernel
 * has, so a read may hold more than the header; nothing of it is lost: the
 * caller gives those bytes to the connection (or the TLS layer) first.
 *
 * Every failure (missing, malformed, oversized or late header; a peer not
 * allowed) resets the socket and goes to `onError` as a `TcpError` with code
 * `ERR_PROXY_PROTOCOL`.
 * @internal
 */
export class ProxyGate {
  private readonly _allow: net.BlockList | null;
  private readonly _pending = new Set<PendingHeader>();

  constructor(
    readonly options: ProxyOptions,
    private readonly _onError: (err: TcpError) => void,
  ) {
    this._allow = options.proxyFrom === undefined ? null : compileProxyFrom(options.proxyFrom);
  }

  /** Sockets whose header is still being read. */
  get pending(): number {
    return this._pending.size;
  }

  /** Header bytes taken so far by the sockets still sending theirs (what they make the server hold). */
  pendingBytes(): number {
    let n = 0;
    for (const p of this._pending) n += p.parser.taken;
    return n;
  }

  /** Starts reading the header of `sock`, accepted paused; `then` gets it once read. */
  admit(sock: net.Socket, then: ProxyAdmitted): void {
    if (this._allow !== null && !proxyAllowed(this._allow, sock.remoteAddress)) {
      const where = { address: sock.remoteAddress, port: sock.remotePort };
      sock.on('error', ignore);
      resetSocket(sock, sock);
      this._onError(
        new TcpError(
          TcpErrorCode.ERR_PROXY_PROTOCOL,
          `connection from ${where.address} refused: not in proxyFrom, so it may not send a PROXY header; the connection was reset`,
          where,
        ),
      );
      return;
    }
    const p = new PendingHeader(this, sock, then);
    this._pending.add(p);
    const s = sock as PendingSocket;
    s[kPending] = p;
    s.on('data', onHeaderData);
    s.on('end', onHeaderEnd);
    s.on('error', onHeaderError);
    p.timer = setTimeout(onHeaderTimeout, this.options.proxyHeaderTimeoutMs, p);
    sock.resume();
  }

  /** Resets every socket whose header is still being read (the server shuts down). */
  dropAll(): void {
    for (const p of this._pending) {
      this._release(p);
      p.sock.on('error', ignore);
      resetSocket(p.sock, p.sock);
    }
  }

  /** @internal */
  _admitted(p: PendingHeader, rest: Buffer | null): void {
    this._release(p);
    const sock = p.sock;
    const info: ProxyInfo = { ...p.parser.info!, via: endpoint(sock.remoteAddress, sock.remotePort) };
    p.then(sock, info, rest);
  }

  /** @internal */
  _refuse(p: PendingHeader, why: string, cause?: Error): void {
    this._release(p);
    const sock = p.sock;
    // Read before the reset: a socket without its handle no longer knows its peer.
    const where = { address: sock.remoteAddress, port: sock.remotePort };
    sock.on('error', ignore);
    resetSocket(sock, sock);
    const message = `bad PROXY header from ${endpoint(where.address, where.port)}: ${why}; the connection was reset`;
    this._onError(
      cause === undefined
        ? new TcpError(TcpErrorCode.ERR_PROXY_PROTOCOL, message, where)
        : new TcpError(TcpErrorCode.ERR_PROXY_PROTOCOL, message, {
            ...where,
            cause: fromNodeError(cause, 'reading the PROXY header', where),
          }),
    );
  }

  private _release(p: PendingHeader): void {
    this._pending.delete(p);
    if (p.timer !== null) clearTimeout(p.timer);
    p.timer = null;
    const sock = p.sock;
    // Bytes after the header wait in the socket until its new owner reads them.
    sock.pause();
    sock.off('data', onHeaderData);
    sock.off('end', onHeaderEnd);
    sock.off('error', onHeaderError);
  }
}

function endpoint(address: string | undefined, port: number | undefined): string {
  const a = address ?? '';
  return a.includes(':') ? `[${a}]:${port ?? 0}` : `${a}:${port ?? 0}`;
}
