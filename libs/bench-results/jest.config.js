module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'bench-results',
  rootDir: __dirname,
};
