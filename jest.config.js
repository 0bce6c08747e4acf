/** Jest: one Temporal dev server and one database for the whole run (test/setup/global-setup.ts). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }],
    // aedes 1.x ships ES modules only. Node loads them through require() (the gateway's build is
    // CommonJS), but Jest's module registry does not, so they are compiled to CommonJS for the tests.
    '/node_modules/aedes/.+\\.js$': ['@swc/jest', { jsc: { target: 'es2022' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!aedes/)'],
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  testTimeout: 120000,
  // Two cores host Temporal, the database, the worker and the tests: two Jest workers at most.
  maxWorkers: 2,
};
