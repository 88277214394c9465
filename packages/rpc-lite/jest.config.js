module.exports = {
  ...require('../../jest.preset.js'),
  displayName: '@proj/rpc-lite',
  rootDir: __dirname,
};
