// End-to-end: real processes on free ports; one suite at a time, generous timeouts.
// swagger-parser's ref parser ships ESM only: let SWC compile it to CommonJS like our own code.
module.exports = {
  ...require('../jest.preset.js'),
  testTimeout: 120000,
  transformIgnorePatterns: ['/node_modules/(?!(\\.pnpm/)?@apidevtools)'],
};
