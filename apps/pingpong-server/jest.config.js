module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'pingpong-server',
  rootDir: __dirname,
};
