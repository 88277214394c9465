// The soak's settings: a flag wins over its environment variable; bad values are one-line UsageErrors.
import { UsageError } from 'app-support';
import { soakSettings } from '../src/settings';

test('defaults, as the README lists them', () => {
  expect(soakSettings([], {})).toEqual({
    part: 'all',
    connections: 10_000,
    connSeconds: 60,
    thinkMs: 1000,
    seconds: 600,
    callers: 64,
    dropEveryMs: 500,
    replaceEveryMs: 5000,
    restarts: 20,
    drain: true,
    json: undefined,
  });
});

test('the rolling restart: SOAK_RESTARTS and SOAK_DRAIN (on or off)', () => {
  expect(soakSettings(['--part', 'rolling', '--drain', 'off'], { SOAK_RESTARTS: '3' })).toMatchObject({
    part: 'rolling',
    restarts: 3,
    drain: false,
  });
  expect(() => soakSettings(['--drain', 'maybe'], {})).toThrow('--drain (SOAK_DRAIN) must be on or off, got "maybe"');
});

test('environment variables set what no flag sets; an empty one counts as unset', () => {
  const env = { SOAK_PART: 'rpc', SOAK_SECONDS: '60', SOAK_CALLERS: '', SOAK_JSON: '/tmp/soak.json' };
  expect(soakSettings(['--seconds', '5', '--drop-every-ms', '0'], env)).toMatchObject({
    part: 'rpc',
    seconds: 5,
    callers: 64,
    dropEveryMs: 0,
    json: '/tmp/soak.json',
  });
});

test.each([
  [['--part', 'both'], {}, '--part (SOAK_PART) must be connections, rpc, all or rolling, got "both"'],
  [[], { SOAK_CONNECTIONS: '1e3' }, '--connections (SOAK_CONNECTIONS) must be an integer from 1 to 1000000, got "1e3"'],
  [['--callers', '0'], {}, '--callers (SOAK_CALLERS) must be an integer from 1 to 100000, got 0'],
  [[], { SOAK_THINK_MS: '-1' }, '--think-ms (SOAK_THINK_MS) must be an integer from 0 to 2147483647, got "-1"'],
  [['--minutes', '3'], {}, /Unknown option '--minutes'/],
])('rejects %j with %j', (argv, env, message) => {
  expect(() => soakSettings(argv, env)).toThrow(UsageError);
  expect(() => soakSettings(argv, env)).toThrow(message);
});
