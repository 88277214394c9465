// The pool the socket tests share: @proj/tcp Clients copied from a prototype, destroyed by close(),
// checked with connected() before reuse, as in co's client example.
import { Client } from '@proj/tcp';
import { Pool, type PoolOptions } from '../src';

/** A pool of Clients copied from `proto`, and every Client it made (to check them afterwards). */
export function clientPool(
  proto: Client,
  cap: number,
  options: PoolOptions<Client> = {},
): { pool: Pool<Client>; made: Client[] } {
  const made: Client[] = [];
  const pool = new Pool<Client>(
    () => {
      const c = new Client(proto);
      made.push(c);
      return c;
    },
    (c) => c.close(),
    cap,
    { validate: (c) => c.connected(), ...options },
  );
  return { pool, made };
}
