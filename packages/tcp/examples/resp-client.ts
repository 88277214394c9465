import type { Client } from '@proj/tcp';

/** A RESP (Redis serialization protocol) reply. */
export type RespReply = string | number | null | RespError | RespReply[];

/** An error reply (`-ERR ...`): the server's answer, not a failure of the connection. */
export class RespError extends Error {
  override readonly name = 'RespError';
}

/**
 * Sends one command in RESP and reads its reply: what a Redis client does.
 * The command goes out with one sendv (header and arguments, no copy into one
 * buffer); the reply is read with recvUntil for its lines and recvn for bulk
 * bodies.
 */
export async function command(c: Client, args: readonly string[], ms = 3000): Promise<RespReply> {
  const parts: string[] = [`*${args.length}\r\n`];
  for (const arg of args) parts.push(`$${Buffer.byteLength(arg)}\r\n`, arg, '\r\n');
  if ((await c.sendv(parts, ms)) <= 0) throw new Error(`send failed: ${c.strerror()}`);
  return readReply(c, ms);
}

async function readReply(c: Client, ms: number): Promise<RespReply> {
  const line = await readLine(c, ms);
  const body = line.slice(1);
  switch (line[0]) {
    case '+':
      return body;
    case '-':
      return new RespError(body);
    case ':':
      return Number(body);
    case '$': {
      const size = Number(body);
      if (size < 0) return null;
      const data = Buffer.alloc(size + 2); // the bytes, then CRLF
      if ((await c.recvn(data, size + 2, ms)) !== size + 2) throw new Error(`bulk reply cut short: ${c.strerror()}`);
      return data.toString('utf8', 0, size);
    }
    case '*': {
      const count = Number(body);
      if (count < 0) return null;
      const items: RespReply[] = [];
      for (let i = 0; i < count; i++) items.push(await readReply(c, ms));
      return items;
    }
    default:
      throw new Error(`not a RESP reply: ${JSON.stringify(line)}`);
  }
}

async function readLine(c: Client, ms: number): Promise<string> {
  const buf = Buffer.alloc(512);
  const n = await c.recvUntil(buf, '\r\n', ms);
  if (n <= 0) throw new Error(n === 0 ? 'the server closed the connection' : c.strerror());
  return buf.toString('utf8', 0, n - 2);
}
