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
  // Fail the run, instead of hanging it, if something is left open.
  detectOpenHandles: false,
  forceExit: false,
};
