import { Pool } from '@proj/pool';
import { Client } from '@proj/tcp';

/** How many idle clients the pool keeps, as in the brief's `new Pool(..., 8)`. */
export const POOL_CAP = 8;

/**
 * co's `co::Pool` of `tcp::Client`s: `create` copies the prototype client
 * (address, port, TLS settings, no connection), `destroy` closes one. It also
 * numbers the clients, so the output shows which connection served a round
 * trip, and can close every client it made when the run is interrupted.
 */
export class ClientPool {
  /** The pool the tasks take clients from with `PoolGuard.acquire`. */
  readonly pool: Pool<Client>;
  private readonly _live = new Set<Client>();
  private readonly _ids = new WeakMap<Client, number>();
  private _made = 0;

  /**
   * @param proto - the client every pooled one copies.
   * @param cap - most idle clients kept; more are closed when returned. Default {@link POOL_CAP}.
   */
  constructor(proto: Client, cap = POOL_CAP) {
    this.pool = new Pool<Client>(
      () => {
        const c = new Client(proto);
        this._ids.set(c, ++this._made);
        this._live.add(c);
        return c;
      },
      (c) => {
        this._live.delete(c);
        c.close();
      },
      cap,
    );
  }

  /** The number of `client`, from 1 in order of creation. */
  idOf(client: Client): number {
    return this._ids.get(client) ?? 0;
  }

  /** Clients made so far. */
  get made(): number {
    return this._made;
  }

  /**
   * Closes the pool and every client, idle or in use: a task waiting on one
   * sees `-1` at once, and clients pushed back later are closed too. For
   * Ctrl-C and for the end of a run. Safe to call many times.
   */
  async closeAll(): Promise<void> {
    for (const c of this._live) c.close();
    await this.pool.close();
  }
}
