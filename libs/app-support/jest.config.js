module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'app-support',
  rootDir: __dirname,
};
