import { type Connection, Server, TcpErrorCode } from '@proj/tcp';

/**
 * An HTTP/1.1 server on `Server`: keep-alive, pipelining, Content-Length
 * bodies, `Expect: 100-continue`, the answers a server owes a bad request
 * (400, 408, 413, 414, 431, 501), a deadline for the request head, and a
 * `drain` on SIGTERM that answers every request in flight.
 *
 * Between two requests a connection holds no buffer: it waits in
 * `waitReadable` (with `{ signal: conn.draining }`, so an idle connection ends
 * at once when the server drains), and the head is read with `tryRecvUntil`
 * into one buffer shared by every connection, parsed into strings before the
 * next `await`; a head that comes in pieces stays in the connection's queue
 * until it is whole (within the head deadline and `maxHeaderBytes`).
 * (The server's `idleTimeoutMs` would count the time a slow answer takes as
 * idle: the keep-alive timeout is the wait's own.)
 *
 * Run it: `node http-server.js [port]`; it prints `listening on <port>`.
 */

/** What the application sees of a request. */
export interface HttpRequest {
  method: string;
  target: string;
  /** Header names in lower case; a repeated header's values joined with `, `. */
  headers: Map<string, string>;
  body: Buffer;
}

/** What the application answers. */
export interface HttpResponse {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

/** The application: a function of the request. */
export type HttpApp = (req: HttpRequest) => HttpResponse | Promise<HttpResponse>;

export interface HttpServerOptions {
  /** Largest request head (request line and headers); past it, 431. Default 8 KiB. */
  maxHeaderBytes?: number;
  /** Longest request target; past it, 414. Default 2 KiB. */
  maxUriBytes?: number;
  /** Largest body; past it, 413. Default 1 MiB. */
  maxBodyBytes?: number;
  /** A request's head must be complete this long after its first byte; else 408. Default 10 s. */
  headerTimeoutMs?: number;
  /** A body must be complete this long after its head; else the connection closes. Default 30 s. */
  bodyTimeoutMs?: number;
  /** An idle keep-alive connection is closed (FIN) after this long. Default 5 s. */
  keepAliveTimeoutMs?: number;
  /** Most connections; one more is answered 503 and closed. Default 10,000. */
  maxConnections?: number;
}

const HEAD_END = Buffer.from('\r\n\r\n');
const REASONS: Record<number, string> = {
  100: 'Continue',
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Content Too Large',
  414: 'URI Too Long',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n');
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TARGET = /^[\x21-\x7e]+$/;
const DIGITS = /^[0-9]{1,15}$/;

/** A request head, parsed, or the status to refuse it with. */
type Head = { method: string; target: string; version: string; headers: Map<string, string> } | { refuse: number };

/** The example's own application: `/`, `/echo` (answers the body), `/slow?ms=` (answers after a while). */
export const demoApp: HttpApp = async (req) => {
  const path = req.target.split('?', 1)[0];
  if (path === '/') return { status: 200, headers: { 'content-type': 'text/plain' }, body: 'hello world\n' };
  if (path === '/echo') return { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: req.body };
  if (path === '/slow') {
    const ms = Math.min(Number(/[?&]ms=(\d+)/.exec(req.target)?.[1] ?? 100), 10_000);
    await new Promise((resolve) => setTimeout(resolve, ms));
    return { status: 200, body: `slow ${ms}\n` };
  }
  return { status: 404, body: 'not found\n' };
};

/** Starts the server on `127.0.0.1:port` (0: any free port). */
export async function startHttpServer(port = 0, app: HttpApp = demoApp, options: HttpServerOptions = {}): Promise<Server> {
  const maxHeaderBytes = options.maxHeaderBytes ?? 8 * 1024;
  const maxUriBytes = options.maxUriBytes ?? 2 * 1024;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const headerTimeoutMs = options.headerTimeoutMs ?? 10_000;
  const bodyTimeoutMs = options.bodyTimeoutMs ?? 30_000;
  const keepAliveTimeoutMs = options.keepAliveTimeoutMs ?? 5_000;
  // Every connection reads its head here, and parses it before its next await.
  const sharedHead = Buffer.allocUnsafe(maxHeaderBytes);

  /** A request head already queued (pipelined), parsed, without waiting; `undefined` when none is whole yet. */
  function queuedHead(conn: Connection): Head | undefined {
    const n = conn.tryRecvUntil(sharedHead, HEAD_END);
    if (n > 0) return parseHead(sharedHead, n, maxUriBytes);
    if (n < 0) return { refuse: tooLarge(conn, sharedHead, maxUriBytes) };
    return undefined;
  }

  /**
   * Waits for the next request head; `null` when the connection is to end
   * quietly (closed, idle past the keep-alive timeout, or the server drains).
   * No buffer is held while waiting.
   */
  async function nextHead(conn: Connection): Promise<Head | null> {
    if (conn.readableLength === 0) {
      // Idle: an idle connection ends (with FIN) at once when the server drains, or when
      // the keep-alive timeout runs out.
      if ((await conn.waitReadable({ ms: keepAliveTimeoutMs, signal: conn.draining })) <= 0) {
        // The server drains: a head that came with the drain is still answered (as the last).
        return conn.lastError?.code === TcpErrorCode.ABORT_ERR ? (queuedHead(conn) ?? null) : null;
      }
    }
    // A head has begun: it must be whole within the deadline. A drain does not cut it short.
    const deadline = performance.now() + headerTimeoutMs;
    for (;;) {
      const head = queuedHead(conn);
      if (head !== undefined) return head;
      // Bytes the last try found too few do not count: this waits for more.
      const left = Math.ceil(deadline - performance.now());
      const ready = left > 0 ? await conn.waitReadable(left) : -1;
      if (ready === 0) return null;
      if (ready < 0) return left <= 0 || conn.lastError?.code === TcpErrorCode.ETIMEDOUT ? { refuse: 408 } : null;
    }
  }

  async function serve(conn: Connection): Promise<void> {
    const answers = new Answers();
    for (;;) {
      let head: Head | null | undefined = queuedHead(conn);
      if (head === undefined) {
        // Nothing more was pipelined: what is answered goes out now, in one write.
        if (!(await answers.flush(conn))) return;
        head = await nextHead(conn);
        if (head === null) return;
      }
      if ('refuse' in head) return void (await answers.last(conn, { status: head.refuse, body: `${REASONS[head.refuse]}\n` }));
      const { method, target, version, headers } = head;
      const connection = headers.get('connection')?.toLowerCase() ?? '';
      let keepAlive = version === 'HTTP/1.1' ? !connection.includes('close') : connection.includes('keep-alive');
      const length = headers.get('content-length');
      if (headers.has('transfer-encoding')) {
        // Only Content-Length bodies here; both together are a request-smuggling attempt.
        return void (await answers.last(conn, { status: length === undefined ? 501 : 400, body: 'Transfer-Encoding is not supported\n' }));
      }
      if (length !== undefined && !DIGITS.test(length)) return void (await answers.last(conn, { status: 400, body: 'bad Content-Length\n' }));
      const size = length === undefined ? 0 : Number(length);
      if (size > maxBodyBytes) {
        return void (await answers.last(conn, { status: 413, body: `a body may have at most ${maxBodyBytes} bytes\n` }));
      }
      let body: Buffer = EMPTY;
      if (size > 0) {
        if (headers.get('expect')?.toLowerCase() === '100-continue') {
          if (!(await answers.flush(conn)) || (await conn.send(CONTINUE)) <= 0) return;
        }
        body = Buffer.allocUnsafe(size);
        if ((await conn.recvn(body, size, bodyTimeoutMs)) !== size) return;
      }
      let res: HttpResponse;
      try {
        res = await app({ method, target, headers, body });
      } catch {
        res = { status: 500, body: 'internal error\n' };
        keepAlive = false;
      }
      // Draining: this answer is the connection's last, and says so.
      if (!keepAlive || conn.draining.aborted) return void (await answers.last(conn, res));
      // An HTTP/1.0 client keeps the connection only when told so.
      answers.add(res, version === 'HTTP/1.0' ? 'announce' : true);
      if (answers.bytes >= FLUSH_BYTES && !(await answers.flush(conn))) return;
    }
  }

  const server = new Server({
    maxConnections: options.maxConnections ?? 10_000,
    overLimitReply: 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
  }).onConnection(serve);
  await server.start('127.0.0.1', port);
  return server;
}

const EMPTY = Buffer.alloc(0);

/** Pipelined answers going out together past this many bytes, without waiting for the rest. */
const FLUSH_BYTES = 64 * 1024;

/**
 * The answers of one connection not yet sent: the answers to requests that
 * were pipelined go out in one write, as the requests came in one.
 */
class Answers {
  /** Text not yet sent, after `chunks`. */
  private text = '';
  private chunks: Array<string | Buffer> = [];
  bytes = 0;

  /** `keepAlive`: `'announce'` says so in a header (for HTTP/1.0); `false` says `connection: close`. */
  add(res: HttpResponse, keepAlive: boolean | 'announce'): void {
    const body = res.body ?? '';
    const length = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    let head = `HTTP/1.1 ${res.status} ${REASONS[res.status] ?? 'Unknown'}\r\ncontent-length: ${length}\r\n`;
    if (res.headers !== undefined) for (const name in res.headers) head += `${name}: ${res.headers[name]}\r\n`;
    head += keepAlive === true ? '\r\n' : keepAlive ? 'connection: keep-alive\r\n\r\n' : 'connection: close\r\n\r\n';
    this.bytes += head.length + length;
    if (typeof body === 'string') {
      this.text += head + body;
    } else {
      // Bytes go beside the text, uncopied.
      this.chunks.push(this.text + head, body);
      this.text = '';
    }
  }

  /** Sends what waits, in one write; `false` when the connection failed. */
  async flush(conn: Connection): Promise<boolean> {
    if (this.bytes === 0) return true;
    const chunks = this.chunks;
    const text = this.text;
    this.chunks = [];
    this.text = '';
    this.bytes = 0;
    if (chunks.length === 0) return (await conn.send(text)) > 0;
    if (text.length > 0) chunks.push(text);
    return (await conn.sendv(chunks)) > 0;
  }

  /** Adds the connection's last answer (it says `connection: close`) and sends everything. */
  async last(conn: Connection, res: HttpResponse): Promise<boolean> {
    this.add(res, false);
    return this.flush(conn);
  }
}

/**
 * A head too large for the buffer: 414 when its request line alone is past
 * the target limit (with room for a method and the version), else 431. The
 * line is taken from the queue: the connection ends anyway.
 */
function tooLarge(conn: Connection, buf: Buffer, maxUriBytes: number): number {
  return conn.tryRecvUntil(buf.subarray(0, Math.min(buf.length, maxUriBytes + 32)), '\r\n') > 0 ? 431 : 414;
}

/** Parses `buf[0..n)`, a request head ending in CRLF CRLF (RFC 9112), strictly: anything doubtful is a 400. */
function parseHead(buf: Buffer, n: number, maxUriBytes: number): Head {
  const text = buf.toString('latin1', 0, n - 4);
  const lines = text.split('\r\n');
  const parts = lines[0].split(' ');
  if (parts.length !== 3) return { refuse: 400 };
  const [method, target, version] = parts;
  if (target.length > maxUriBytes) return { refuse: 414 };
  if (!TOKEN.test(method) || !TARGET.test(target) || (version !== 'HTTP/1.1' && version !== 'HTTP/1.0')) return { refuse: 400 };
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(':');
    // No obsolete line folding, no space before the colon, no bare CR or LF.
    if (colon <= 0 || !TOKEN.test(line.slice(0, colon)) || /[\r\n\0]/.test(line)) return { refuse: 400 };
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    const before = headers.get(name);
    if (before !== undefined && name === 'content-length' && before !== value) return { refuse: 400 };
    headers.set(name, before === undefined || name === 'content-length' ? value : `${before}, ${value}`);
  }
  if (version === 'HTTP/1.1' && !headers.has('host')) return { refuse: 400 };
  return { method, target, version, headers };
}

async function main(): Promise<void> {
  const server = await startHttpServer(Number(process.argv[2] ?? 8080));
  process.stdout.write(`listening on ${server.address()!.port}\n`);
  process.once('SIGTERM', () => {
    // Every request in flight is answered; idle keep-alive connections close at once.
    void server.drain(10_000).then(() => process.stdout.write('drained\n'));
  });
}

if (require.main === module) void main();
