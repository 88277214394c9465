module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'pingpong-client',
  rootDir: __dirname,
};
