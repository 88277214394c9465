import * as net from 'node:net';

/**
 * A TCP proxy on loopback that forwards both ways and, on request, drops a
 * random connection it carries with an RST on both sides: random
 * disconnects, as a flaky network or a crashing peer makes them.
 */
export class ChaosProxy {
  /** Connections dropped so far. */
  drops = 0;
  private readonly _pairs = new Set<[net.Socket, net.Socket]>();
  private _server: net.Server | null = null;

  /** Starts forwarding 127.0.0.1:<port> to 127.0.0.1:`targetPort`; resolves the port. */
  async start(targetPort: number): Promise<number> {
    const server = net.createServer({ noDelay: true }, (down) => {
      const up = net.connect({ port: targetPort, host: '127.0.0.1', noDelay: true });
      const pair: [net.Socket, net.Socket] = [down, up];
      this._pairs.add(pair);
      const end = (): void => {
        this._pairs.delete(pair);
        down.destroy();
        up.destroy();
      };
      for (const s of pair) {
        s.on('error', end);
        s.on('close', end);
      }
      down.pipe(up);
      up.pipe(down);
    });
    this._server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as net.AddressInfo).port;
  }

  /** Live connections. */
  get size(): number {
    return this._pairs.size;
  }

  /** Resets one connection chosen at random (both sides); false when there is none. */
  dropOne(): boolean {
    const n = this._pairs.size;
    if (n === 0) return false;
    let k = Math.floor(Math.random() * n);
    for (const pair of this._pairs) {
      if (k-- > 0) continue;
      this._pairs.delete(pair);
      for (const s of pair) if (!s.destroyed) s.resetAndDestroy();
      this.drops++;
      return true;
    }
    return false;
  }

  async close(): Promise<void> {
    for (const [a, b] of this._pairs) {
      a.destroy();
      b.destroy();
    }
    this._pairs.clear();
    const server = this._server;
    this._server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
