module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'soak',
  rootDir: __dirname,
};
