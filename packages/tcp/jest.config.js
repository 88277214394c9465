module.exports = {
  ...require('../../jest.preset.js'),
  displayName: '@proj/tcp',
  rootDir: __dirname,
};
