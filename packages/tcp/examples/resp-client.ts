import { Client, Pipeline, TcpError } from '@proj/tcp';

/**
 * A Redis client (RESP2) on `Pipeline`: every command issued in the same
 * turn of the event loop goes out in one write, over one connection or a few
 * (round robin), and replies are parsed without an `await` when they are
 * already here. Bulk values are Buffers: binary safe.
 *
 * ```ts
 * await using redis = await RespClient.connect(6379);
 * await redis.set('greeting', 'hello');
 * const value = await redis.get('greeting'); // <Buffer 68 65 6c 6c 6f>
 * const replies = await redis.batch().incr('hits').get('greeting').exec();
 * ```
 */

/** A RESP2 reply: simple string, integer, bulk string (bytes), null, error, or an array of replies. */
export type RespReply = string | number | Buffer | null | RespError | RespReply[];

/** An error reply (`-ERR ...`): the server's answer, not a failure of the connection. */
export class RespError extends Error {
  override readonly name = 'RespError';
  /** The error's first word: `ERR`, `WRONGTYPE`, ... */
  readonly code: string;
  constructor(message: string) {
    super(message);
    const space = message.indexOf(' ');
    this.code = space < 0 ? message : message.slice(0, space);
  }
}

/** A pipeline of one connection; a request's context is how many replies it expects (a batch), or none for one. */
type RespPipeline = Pipeline<RespReply, Client, number>;

/** A command argument: bytes as they are, a string as UTF-8, a number in decimal. */
export type RespArg = string | Uint8Array | number;

export interface RespClientOptions {
  /** Connections, each with its own pipeline, used in turn (default 1: one pipelined connection). */
  connections?: number;
  /** Connect timeout in ms (default 3000). */
  connectMs?: number;
  /** Timeout of each command in ms (default: none; a command that times out after it was sent closes its connection). */
  commandMs?: number;
  /** The most commands sent and not answered on one connection (default Pipeline's). */
  maxInFlight?: number;
}

const CR = 13;
const LF = 10;
// The longest status, error or length line read; a longer one is a protocol error.
const LINE_BYTES = 64 * 1024;

/** An error reply rejects its own command (the connection goes on). */
function isError(reply: RespReply): boolean {
  return reply instanceof RespError;
}

/** The server or the bytes failed us: the connection is closed and replaced on the next command. */
function protocolError(what: string): TcpError {
  return new TcpError('ERR_RESP_PROTOCOL', `not a RESP reply: ${what}; the connection is closed`);
}

/**
 * The reply reader of one connection. It parses the replies already received
 * synchronously, and awaits only for bytes still to come.
 */
class ReplyReader {
  private readonly _line = Buffer.allocUnsafe(LINE_BYTES);
  private readonly _crlf = Buffer.allocUnsafe(2);

  /** For Pipeline: the reply of one command, or the replies of a batch of `count`, at once when they are here. */
  readonly readFor = (c: Client, count: number | undefined): RespReply | Promise<RespReply> =>
    count === undefined ? this.read(c) : this._items(c, new Array<RespReply>(count), 0);

  /** One whole reply, at once when it is here. */
  read(c: Client): RespReply | Promise<RespReply> {
    const n = c.tryRecvUntil(this._line, '\r\n');
    if (n > 0) return this._afterLine(c, n);
    if (n < 0) throw protocolError(`a line longer than ${LINE_BYTES} bytes`);
    return this._readAsync(c);
  }

  private async _readAsync(c: Client): Promise<RespReply> {
    const n = await c.recvUntil(this._line, '\r\n');
    if (n <= 0) throw closedError(c, n);
    return this._afterLine(c, n);
  }

  /** The reply whose first line (`n` bytes, CRLF included) is in `_line`. */
  private _afterLine(c: Client, n: number): RespReply | Promise<RespReply> {
    const line = this._line;
    switch (line[0]) {
      case 0x2b: // '+': 'OK' (every SET) is not made again each time
        return n === 5 && line[1] === 0x4f && line[2] === 0x4b ? 'OK' : line.toString('utf8', 1, n - 2);
      case 0x2d: // '-'
        return new RespError(line.toString('utf8', 1, n - 2));
      case 0x3a: // ':'
        return parseInteger(line, n);
      case 0x24: {
        // '$': a bulk string, its length, then its bytes and CRLF
        const size = parseInteger(line, n);
        if (size < 0) return null;
        return this._bulk(c, size);
      }
      case 0x2a: {
        // '*': an array of `count` replies
        const count = parseInteger(line, n);
        if (count < 0) return null;
        const items: RespReply[] = new Array<RespReply>(count);
        return this._items(c, items, 0);
      }
      default:
        throw protocolError(JSON.stringify(line.toString('latin1', 0, Math.min(n, 40))));
    }
  }

  /** A bulk string's `size` bytes and CRLF: taken at once when they are here, awaited only when not. */
  private _bulk(c: Client, size: number): Buffer | Promise<Buffer> {
    const value = Buffer.allocUnsafe(size);
    if (size > 0 && c.tryRecvn(value, size) === 0) return this._bulkAsync(c, value);
    if (c.tryRecvn(this._crlf, 2) === 0) return this._crlfAsync(c, value);
    this._checkCrlf();
    return value;
  }

  private async _bulkAsync(c: Client, value: Buffer): Promise<Buffer> {
    const got = await c.recvn(value, value.length);
    if (got <= 0) throw closedError(c, got);
    return this._crlfAsync(c, value);
  }

  private async _crlfAsync(c: Client, value: Buffer): Promise<Buffer> {
    const got = await c.recvn(this._crlf, 2);
    if (got <= 0) throw closedError(c, got);
    this._checkCrlf();
    return value;
  }

  private _checkCrlf(): void {
    if (this._crlf[0] !== CR || this._crlf[1] !== LF) throw protocolError('a bulk string not followed by CRLF');
  }

  /** Fills `items` from `from` on, synchronously while the replies are here. */
  private _items(c: Client, items: RespReply[], from: number): RespReply[] | Promise<RespReply[]> {
    for (let i = from; i < items.length; i++) {
      const item = this.read(c);
      if (item instanceof Promise) return this._itemsAsync(c, items, i, item);
      items[i] = item;
    }
    return items;
  }

  private async _itemsAsync(c: Client, items: RespReply[], i: number, pending: Promise<RespReply>): Promise<RespReply[]> {
    items[i] = await pending;
    return this._items(c, items, i + 1);
  }
}

/** A decimal integer after the type byte of `line[0..n)` (CRLF at its end). */
function parseInteger(line: Buffer, n: number): number {
  let i = 1;
  const negative = line[1] === 0x2d;
  if (negative) i++;
  if (i >= n - 2) throw protocolError('an empty integer');
  let v = 0;
  for (; i < n - 2; i++) {
    const d = line[i] - 0x30;
    if (d < 0 || d > 9) throw protocolError(`a bad integer ${JSON.stringify(line.toString('latin1', 0, n - 2))}`);
    v = v * 10 + d;
  }
  // Past 2^53 a number loses digits: read those as text (Redis integers are 64-bit).
  if (v > Number.MAX_SAFE_INTEGER) return Number(line.toString('latin1', 1, n - 2));
  return negative ? -v : v;
}

function closedError(c: Client, n: number): TcpError {
  if (n < 0 && c.lastError !== null) return c.lastError;
  return new TcpError('ECONNRESET', 'the Redis server closed the connection');
}

// Arguments larger than this are not copied: the command goes out as pieces
// that point at them (Pipeline copies only requests of up to 16 KiB).
const LARGE_ARG = 16 * 1024;

/**
 * Encodes commands in RESP (an array of bulk strings) into one buffer that
 * grows as needed and is reused for every command: Pipeline copies a
 * command's bytes when it is made. A command with a large argument comes out
 * as pieces, the argument itself among them, uncopied.
 */
class Encoder {
  private _buf = Buffer.allocUnsafe(4096);
  private _at = 0;
  private _pieces: Uint8Array[] | null = null;
  private _from = 0;

  /** The command's bytes (valid until the next call), or its pieces when an argument is large. */
  encode(args: readonly RespArg[]): Buffer | Uint8Array[] {
    this._begin();
    this._add(args);
    return this._end();
  }

  /** Several commands back to back, in bytes of their own (a batch's request may be larger than Pipeline copies). */
  encodeAll(commands: readonly (readonly RespArg[])[]): Buffer | Uint8Array[] {
    this._begin();
    for (const args of commands) this._add(args);
    const out = this._end();
    return out instanceof Buffer ? Buffer.from(out) : out;
  }

  private _begin(): void {
    this._at = 0;
    this._from = 0;
    this._pieces = null;
  }

  private _add(args: readonly RespArg[]): void {
    this._header(0x2a, args.length);
    for (let i = 0; i < args.length; i++) {
      const arg = args[i];
      if (typeof arg === 'string') {
        if (arg.length > LARGE_ARG) {
          this._large(Buffer.from(arg));
          continue;
        }
        const size = Buffer.byteLength(arg);
        this._header(0x24, size);
        this._room(size + 2);
        this._at += this._buf.write(arg, this._at);
      } else if (typeof arg === 'number') {
        const text = String(arg);
        this._header(0x24, text.length);
        this._room(text.length + 2);
        this._at += this._buf.write(text, this._at, 'latin1');
      } else if (arg instanceof Uint8Array) {
        if (arg.length > LARGE_ARG) {
          this._large(arg);
          continue;
        }
        this._header(0x24, arg.length);
        this._room(arg.length + 2);
        this._buf.set(arg, this._at);
        this._at += arg.length;
      } else {
        throw new TypeError(`a command argument must be a string, a number or bytes, got ${typeof arg}`);
      }
      this._crlf();
    }
  }

  private _end(): Buffer | Uint8Array[] {
    const pieces = this._pieces;
    if (pieces === null) return this._buf.subarray(0, this._at);
    pieces.push(Buffer.from(this._buf.subarray(this._from, this._at)));
    return pieces;
  }

  /** A large argument: its header so far copied out, then the argument itself, uncopied. */
  private _large(arg: Uint8Array): void {
    this._header(0x24, arg.length);
    (this._pieces ??= []).push(Buffer.from(this._buf.subarray(this._from, this._at)), arg);
    this._from = this._at;
    this._crlf();
  }

  private _crlf(): void {
    this._room(2);
    this._buf[this._at++] = CR;
    this._buf[this._at++] = LF;
  }

  /** `<type><n>\r\n`. */
  private _header(type: number, n: number): void {
    this._room(24);
    const buf = this._buf;
    buf[this._at++] = type;
    if (n < 10) buf[this._at++] = 0x30 + n;
    else this._at += buf.write(String(n), this._at, 'latin1');
    buf[this._at++] = CR;
    buf[this._at++] = LF;
  }

  private _room(n: number): void {
    if (this._at + n <= this._buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this._buf.length * 2, this._at + n));
    this._buf.copy(grown, 0, 0, this._at);
    this._buf = grown;
  }
}

/**
 * A Redis client over `connections` pipelined connections (default 1).
 * Commands are spread over them in turn; a connection that failed (closed by
 * the server, `CLIENT KILL`, a timeout) is replaced by a new one on the next
 * command that would use it.
 */
export class RespClient implements AsyncDisposable {
  private readonly _slots: (RespPipeline | Promise<RespPipeline> | null)[];
  private _next = 0;
  /** One encoder for every command: Pipeline copies a command's bytes when it is made. */
  private readonly _encoder = new Encoder();
  private _closed = false;

  private constructor(
    readonly host: string,
    readonly port: number,
    private readonly _opts: Required<Pick<RespClientOptions, 'connections' | 'connectMs'>> & RespClientOptions,
  ) {
    this._slots = new Array<null>(_opts.connections).fill(null);
  }

  /** Connects every connection; rejects with the connect error when one cannot. */
  static async connect(port: number, host = '127.0.0.1', opts: RespClientOptions = {}): Promise<RespClient> {
    for (const key of Object.keys(opts)) {
      if (!['connections', 'connectMs', 'commandMs', 'maxInFlight'].includes(key)) throw new TypeError(`unknown RespClient option '${key}'`);
    }
    const connections = opts.connections ?? 1;
    if (!Number.isInteger(connections) || connections < 1) throw new RangeError(`connections must be an integer >= 1, got ${connections}`);
    const client = new RespClient(host, port, { ...opts, connections, connectMs: opts.connectMs ?? 3000 });
    try {
      for (let i = 0; i < connections; i++) client._slots[i] = await client._open();
    } catch (err) {
      await client.close();
      throw err;
    }
    return client;
  }

  /** Sends any command; resolves with its reply, rejects with a {@link RespError} for an error reply. */
  command(args: readonly RespArg[]): Promise<RespReply> {
    return this._send(args);
  }

  /** `GET key`: the value's bytes, or `null`. */
  get(key: RespArg): Promise<Buffer | null> {
    return this.command(['GET', key]) as Promise<Buffer | null>;
  }

  /** `SET key value`: `'OK'`. */
  set(key: RespArg, value: RespArg): Promise<string> {
    return this.command(['SET', key, value]) as Promise<string>;
  }

  /** `INCR key`: the new value. */
  incr(key: RespArg): Promise<number> {
    return this.command(['INCR', key]) as Promise<number>;
  }

  /** `DEL key...`: how many keys were removed. */
  del(...keys: RespArg[]): Promise<number> {
    return this.command(['DEL', ...keys]) as Promise<number>;
  }

  /** `PING`: `'PONG'`. */
  ping(): Promise<string> {
    return this.command(['PING']) as Promise<string>;
  }

  /** `MGET key...`: each value's bytes, or `null`. */
  mget(...keys: RespArg[]): Promise<(Buffer | null)[]> {
    return this.command(['MGET', ...keys]) as Promise<(Buffer | null)[]>;
  }

  /**
   * An explicit pipeline: commands queued with its methods go out together
   * when `exec()` is called, on one connection, and `exec()` resolves with
   * every reply in order (error replies as {@link RespError} values).
   */
  batch(): RespBatch {
    return new RespBatch(this);
  }

  /** Closes every connection, once the commands already sent are answered. */
  async close(): Promise<void> {
    this._closed = true;
    const slots = this._slots.splice(0);
    await Promise.all(slots.map(async (slot) => (slot === null ? undefined : (await Promise.resolve(slot).catch(() => null))?.close())));
  }

  /** {@link RespClient.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** @internal Sends one command on the next connection. */
  _send(args: readonly RespArg[]): Promise<RespReply> {
    const slot = this._slot();
    const ms = this._opts.commandMs ?? -1;
    if (slot instanceof Pipeline) return slot.request(this._encoder.encode(args), ms);
    // Reconnecting: the command is encoded once the connection is there.
    return slot.then((pipe) => pipe.request(this._encoder.encode(args), ms));
  }

  /** @internal Sends several commands on the next connection, in one write, as one request; resolves with every reply. */
  _sendMany(commands: readonly (readonly RespArg[])[]): Promise<RespReply[]> {
    const slot = this._slot();
    const ms = this._opts.commandMs ?? -1;
    const bytes = this._encoder.encodeAll(commands);
    if (slot instanceof Pipeline) return slot.request(bytes, ms, commands.length) as Promise<RespReply[]>;
    return slot.then((pipe) => pipe.request(bytes, ms, commands.length) as Promise<RespReply[]>);
  }

  /** The next connection's pipeline in turn, or the promise of one being opened in place of a failed one. */
  private _slot(): RespPipeline | Promise<RespPipeline> {
    if (this._closed) return Promise.reject(new TcpError('ERR_PIPELINE_CLOSED', 'the RespClient is closed'));
    const i = this._next;
    this._next = i + 1 === this._slots.length ? 0 : i + 1;
    const slot = this._slots[i];
    if (slot instanceof Pipeline && !slot.closed && slot.connection.connected()) return slot;
    return slot instanceof Promise ? slot : this._reopen(i, slot);
  }

  private _reopen(i: number, old: RespPipeline | null): Promise<RespPipeline> {
    void old?.close();
    const opening = this._open();
    this._slots[i] = opening;
    opening.then(
      (pipe) => {
        if (this._slots[i] === opening) this._slots[i] = pipe;
        else void pipe.close(); // the client was closed meanwhile
      },
      () => {
        if (this._slots[i] === opening) this._slots[i] = null; // the next command tries again
      },
    );
    return opening;
  }

  private async _open(): Promise<RespPipeline> {
    const c = new Client(this.host, this.port);
    if (!(await c.connect(this._opts.connectMs))) {
      const err = c.lastError;
      c.close();
      throw err ?? new TcpError('ENOTCONN', `could not connect to Redis at ${this.host}:${this.port}`);
    }
    const reader = new ReplyReader();
    const maxInFlight = this._opts.maxInFlight;
    return new Pipeline(c, reader.readFor, maxInFlight === undefined ? { isError } : { isError, maxInFlight });
  }
}

/** An explicit pipeline of commands for {@link RespClient.batch}. */
export class RespBatch {
  private readonly _commands: (readonly RespArg[])[] = [];

  constructor(private readonly _client: RespClient) {}

  /** Queues any command. */
  command(args: readonly RespArg[]): this {
    this._commands.push(args);
    return this;
  }

  /** Queues `GET key`. */
  get(key: RespArg): this {
    return this.command(['GET', key]);
  }

  /** Queues `SET key value`. */
  set(key: RespArg, value: RespArg): this {
    return this.command(['SET', key, value]);
  }

  /** Queues `INCR key`. */
  incr(key: RespArg): this {
    return this.command(['INCR', key]);
  }

  /** Queues `DEL key...`. */
  del(...keys: RespArg[]): this {
    return this.command(['DEL', ...keys]);
  }

  /** Queues `MGET key...`. */
  mget(...keys: RespArg[]): this {
    return this.command(['MGET', ...keys]);
  }

  /** Sends every queued command in one write, on one connection; resolves with the replies in order. */
  exec(): Promise<RespReply[]> {
    const commands = this._commands.splice(0);
    return commands.length === 0 ? Promise.resolve([]) : this._client._sendMany(commands);
  }
}
