// The local registry of the consumer test: verdaccio, started through its
// programmatic API (runServer) on 127.0.0.1 and a port the OS picks.
//
//   node registry.mjs CONFIG.yaml
//
// Prints one line, {"port": N}, once it listens. It stops on SIGTERM/SIGINT,
// and also when its standard input closes, so that it never outlives the test
// that started it (the test holds the other end of that pipe).
//
// Why the API and not the `verdaccio` command: verdaccio 6.10 declares engines
// node >= 22, and only its command line refuses older Node versions; the server
// itself runs on Node 20, which is this project's oldest supported Node and the
// one CI runs. run.mjs starts this file with VERDACCIO_NODE when that is set
// (e.g. VERDACCIO_NODE=$NODE24_BIN), else with the Node that runs the test.
import { runServer } from 'verdaccio';

const configPath = process.argv[2];
if (!configPath) {
  console.error('usage: node registry.mjs CONFIG.yaml');
  process.exit(2);
}

const app = await runServer(configPath);
const sockets = new Set();
app.on('connection', (s) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  app.close(() => process.exit(0));
  for (const s of sockets) s.destroy();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();

app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: app.address().port })}\n`);
});
