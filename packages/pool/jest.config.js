module.exports = {
  ...require('../../jest.preset.js'),
  displayName: '@proj/pool',
  rootDir: __dirname,
};
