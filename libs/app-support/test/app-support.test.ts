// The helpers the apps share, one by one (the apps' own tests cover them in use).
import { describeFileError, formatMs, hostPort, integerOption, parseOptions, sleep, UsageError } from '../src';

test('parseOptions: values typed by the table; unknown options and positionals are UsageErrors', () => {
  const table = {
    port: { type: 'string' },
    quiet: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  } as const;
  expect(parseOptions(['--port', '7', '--quiet', '-h'], table)).toEqual({ port: '7', quiet: true, help: true });
  expect(parseOptions([], table)).toEqual({});
  for (const argv of [['--nope'], ['extra'], ['--port'], ['--quiet=yes']]) {
    expect(() => parseOptions(argv, table)).toThrow(UsageError);
  }
});

test('integerOption: digits within [min, max], the fallback when absent, else a UsageError naming the option', () => {
  expect(integerOption('--port', undefined, 7788, 0, 65535)).toBe(7788);
  expect(integerOption('--port', '0', 7788, 0, 65535)).toBe(0);
  expect(integerOption('--port', ' 80 ', 7788, 0, 65535)).toBe(80);
  for (const text of ['', '-1', '1.5', '1e3', 'x', '65536']) {
    expect(() => integerOption('--port', text, 7788, 0, 65535)).toThrow(UsageError);
  }
  expect(() => integerOption('--port', 'x', 1, 0, 9)).toThrow('--port must be an integer from 0 to 9, got "x"');
  const err = (() => {
    try {
      integerOption('--n', '10', 1, 0, 9);
    } catch (e) {
      return e as UsageError;
    }
  })();
  expect(err).toMatchObject({
    name: 'UsageError',
    code: 'ERR_USAGE',
    message: '--n must be an integer from 0 to 9, got 10',
  });
});

test('describeFileError', () => {
  expect(describeFileError(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe('no such file');
  expect(describeFileError(Object.assign(new Error('x'), { code: 'EACCES' }))).toBe('permission denied');
  expect(describeFileError(Object.assign(new Error('x'), { code: 'EISDIR' }))).toBe('EISDIR');
});

test('hostPort brackets IPv6 addresses only', () => {
  expect(hostPort('127.0.0.1', 7788)).toBe('127.0.0.1:7788');
  expect(hostPort('::1', 7788)).toBe('[::1]:7788');
  expect(hostPort('localhost', 0)).toBe('localhost:0');
});

test('formatMs', () => {
  expect(formatMs(0.1234)).toBe('0.123 ms');
  expect(formatMs(12.345)).toBe('12.35 ms');
});

test('sleep: true after the wait, false at once when aborted', async () => {
  expect(await sleep(5)).toBe(true);
  const ac = new AbortController();
  const started = Date.now();
  const p = sleep(10_000, ac.signal);
  ac.abort();
  expect(await p).toBe(false);
  expect(Date.now() - started).toBeLessThan(1000);
  expect(await sleep(10, ac.signal)).toBe(false);
});
