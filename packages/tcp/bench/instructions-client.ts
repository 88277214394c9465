/**
 * A load client in a process of its own, for counting its instructions under
 * callgrind (bench/instructions.ts): `node instructions-client.js ours|raw
 * PORT LOAD_JSON` runs the load of LOAD_JSON (a `Load` with a `count`) with
 * our `Client` or with raw sockets against 127.0.0.1:PORT, and exits 0 once
 * every message has come back.
 */
import { type Load, oursLoad, rawLoad } from './load';

async function main(): Promise<void> {
  const [who, port, loadJson] = process.argv.slice(2);
  const load = JSON.parse(loadJson) as Load;
  const echoed = await (who === 'ours' ? oursLoad : rawLoad)(Number(port), load, 0);
  if (echoed !== load.conns * (load.count ?? 0))
    throw new Error(`${who}: ${echoed} of ${load.conns} x ${load.count} messages came back`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
