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
};
