const { Server } = require('/work/wt/drain/packages/tcp/dist/index.js');
const autocannon = require('/work/wt/drain/node_modules/autocannon');
const RES = Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\nhello world\n');
(async () => {
  const mode = process.argv[2];
  const server = new Server().onConnection(async (conn) => {
    const buf = Buffer.allocUnsafe(8192);
    for (;;) {
      let n;
      if (mode === 'plain') n = await conn.recvUntil(buf, '\r\n\r\n');
      else if (mode === 'timer') n = await conn.recvUntil(buf, '\r\n\r\n', 5000);
      else n = await conn.recvUntil(buf, '\r\n\r\n', { ms: 5000, signal: conn.draining });
      if (n <= 0) return;
      if (await conn.send(RES) <= 0) return;
    }
  });
  await server.start('127.0.0.1', 0);
  const r = await autocannon({ url: `http://127.0.0.1:${server.address().port}/`, connections: 64, duration: 3 });
  console.log(mode, Math.round(r.requests.average), 'req/s', 'lat p50', r.latency.p50, 'p99', r.latency.p99);
  await server.shutdown(100);
})();
