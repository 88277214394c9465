const { spawn } = require('child_process');
const autocannon = require('/work/wt/drain/node_modules/autocannon');
const { createInterface } = require('readline');
(async () => {
  const child = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir=/tmp/prof', 'dist-bench/http/bench/http/servers.js', process.argv[2]], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const port = Number((await lines.next()).value);
  const r = await autocannon({ url: `http://127.0.0.1:${port}/`, connections: 64, pipelining: Number(process.argv[3] || 1), duration: 4 });
  console.log(r.requests.total);
  child.stdin.end();
})();
