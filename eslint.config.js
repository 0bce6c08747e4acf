// @ts-check
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');
const jest = require('eslint-plugin-jest');

module.exports = tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.tools/', '.data/', 'coverage/', 'tools/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // A promise nobody awaits or catches is an error that vanishes, or a test that ends early.
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: __dirname } },
    rules: { '@typescript-eslint/no-floating-promises': 'error' },
  },
  {
    files: ['test/**/*.ts'],
    ...jest.configs['flat/recommended'],
    rules: {
      ...jest.configs['flat/recommended'].rules,
      'jest/no-focused-tests': 'error',
      'jest/no-disabled-tests': 'error',
      'jest/no-conditional-expect': 'error',
      // A suite's beforeAll checks the stack it built (e.g. every device connected) before any test relies on it.
      'jest/no-standalone-expect': 'off',
      // These throw when what they wait for does not happen, so they assert as much as expect() does.
      'jest/expect-expect': [
        'error',
        {
          assertFunctionNames: [
            'expect*',
            'eventually',
            'killAndWaitBack',
            'until',
            '**.waitFor',
            'connectDevice',
            'connectRaw',
            'connectTls',
          ],
        },
      ],
    },
  },
  {
    // Workflow code is replayed: it may not do I/O, so it imports no module that does (docs/architecture.md).
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '**/db/**',
                '**/gateway/**',
                '**/api/**',
                '**/orchestration/**',
                '**/runtime/**',
                '**/config/**',
                '**/worker/**',
                '**/scripts/**',
                '**/activities/**',
                '!**/activities/contracts',
                '!**/activities/gateway-contracts',
              ],
              message: 'Workflow code does no I/O: import domain/ rules and, as types, activities/contracts.',
            },
            {
              group: ['node:*', 'fs', 'path', 'crypto', 'os', 'http', 'net', 'mongodb', 'mqtt', 'aedes', 'express'],
              message: 'Workflow code does no I/O.',
            },
            {
              group: ['@temporalio/*', '!@temporalio/workflow', '!@temporalio/common'],
              message: 'Workflow code uses @temporalio/workflow only.',
            },
          ],
        },
      ],
    },
  },
  {
    // Records have one writer, the worker's activities: the API and the gateway message the owning workflow.
    files: ['api/**/*.ts', 'gateway/**/*.ts', 'orchestration/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/db/records'],
              importNames: [
                'insertWaitingRecords',
                'applyRecordUpdate',
                'requeueFailedRecords',
                'cancelWaitingRecords',
                'markOwned',
                'rejoinRecord',
              ],
              message: 'Only activities write records: send the owning workflow a message.',
            },
            { group: ['**/db/admission'], message: 'Only activities admit devices: signal the task workflow.' },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { module: 'writable', require: 'readonly', process: 'readonly', __dirname: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The operators' page (api/ui/): classic browser scripts, no modules, no Node.
    files: ['api/ui/**/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: {
        window: 'readonly',
        document: 'readonly',
        location: 'readonly',
        localStorage: 'readonly',
        fetch: 'readonly',
        setInterval: 'readonly',
        URLSearchParams: 'readonly',
        Node: 'readonly',
        module: 'off',
        require: 'off',
        process: 'off',
      },
    },
  },
);
