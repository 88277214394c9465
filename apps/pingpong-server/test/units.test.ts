import { UsageError } from 'app-support';
import { parseServerArgs } from '../src/args';
import { PingCounter } from '../src/ping-counter';

describe('PingCounter', () => {
  test('counts pings split and merged anywhere, skipping other bytes', () => {
    const text = 'pingpipingpinxping\nppingpin';
    // Every way of cutting the stream in two gives the same count.
    for (let cut = 0; cut <= text.length; cut++) {
      const c = new PingCounter();
      const n = c.feed(Buffer.from(text.slice(0, cut))) + c.feed(Buffer.from(text.slice(cut)));
      expect(n).toBe(4);
    }
    const c = new PingCounter();
    expect([...'ping'].map((ch) => c.feed(Buffer.from(ch)))).toEqual([0, 0, 0, 1]);
  });

  test('feed(bytes, n) looks at the first n bytes only', () => {
    expect(new PingCounter().feed(Buffer.from('pingping'), 6)).toBe(1);
  });
});

describe('parseServerArgs', () => {
  test('defaults', () => {
    expect(parseServerArgs([])).toEqual({
      ip: '127.0.0.1',
      port: 7788,
      ssl: false,
      keyPath: undefined,
      certPath: undefined,
      quiet: false,
      statsIntervalMs: 5000,
      graceMs: 2000,
      help: false,
    });
  });

  test('--proxy-protocol v1, v2 or any', () => {
    expect(parseServerArgs(['--proxy-protocol', 'v2']).proxyProtocol).toBe('v2');
    expect(parseServerArgs([]).proxyProtocol).toBeUndefined();
    expect(() => parseServerArgs(['--proxy-protocol', 'v3'])).toThrow(
      '--proxy-protocol must be v1, v2 or any, got "v3"',
    );
  });

  test('port 0, IPv6, --key/--cert imply --ssl', () => {
    const a = parseServerArgs(['--ip', '::1', '--port', '0', '--key', __filename, '--cert', __filename, '--quiet']);
    expect(a).toMatchObject({ ip: '::1', port: 0, ssl: true, keyPath: __filename, certPath: __filename, quiet: true });
  });

  test.each([
    [['--port', '-1']],
    [['--port', '1.5']],
    [['--port', '']],
    [['--grace-ms', 'x']],
    [['extra']],
    [['--ssl=yes']],
  ])('rejects %j', (argv) => {
    expect(() => parseServerArgs(argv)).toThrow(UsageError);
  });
});
