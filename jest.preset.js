// Shared Jest settings: every package's jest.config.js spreads this.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  // Network tests are real sockets on loopback: give them room on a 2-core machine.
  testTimeout: 20000,
  // Jest must exit by itself: nothing forces it, so a handle left open shows as a hang.
  forceExit: false,
  reporters: ['default', require.resolve('./tools/jest-summary-reporter.js')],
  // PROJ_TEST_SUBSET=lines (CI's runs on the other Node lines and on the portable
  // path) leaves out the tests whose subject does not change with the line or the
  // read/write path and that cost the most: real HAProxy, redis-server and curl,
  // and the PROXY header parser fed bytes (its server side runs in every run).
  testPathIgnorePatterns:
    process.env.PROJ_TEST_SUBSET === 'lines'
      ? ['/node_modules/', '/(haproxy|hostile-proxy|proxy-protocol|resp-redis|http-example)\\.test\\.ts$']
      : ['/node_modules/'],
};
