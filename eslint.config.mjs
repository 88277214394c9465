// ESLint for the whole workspace (flat config). Each Nx project lints its own
// folder (`nx run <project>:lint`, `npm run lint` for all); ESLint finds this
// file from there. TypeScript is linted with typescript-eslint's type-aware
// recommended rules: the project service gives each file the program of its
// nearest tsconfig.json (each project has one that includes src, test, bench
// and examples, the same one its `typecheck` target runs `tsc` on).
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** The Node.js globals the plain JavaScript files use (no `globals` package in the workspace). */
const nodeGlobals = Object.fromEntries(
  [
    'Buffer',
    'URL',
    'clearImmediate',
    'clearInterval',
    'clearTimeout',
    'console',
    'process',
    'queueMicrotask',
    'setImmediate',
    'setInterval',
    'setTimeout',
    'structuredClone',
  ].map((name) => [name, 'readonly']),
);
const commonjsGlobals = Object.fromEntries(
  ['__dirname', '__filename', 'exports', 'module', 'require'].map((name) => [name, 'readonly']),
);

export default defineConfig(
  globalIgnores([
    '**/dist/',
    '**/dist-bench/',
    '**/dist-bench-resp/',
    '**/coverage/',
    '**/node_modules/',
    '.nx/',
    '.jest-results/',
    'docs/api/',
    'bench-results/',
  ]),

  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // Off: an async function without await is deliberate here (RPC handlers, pool factories, asyncDispose,
      // the README's examples): it returns a promise and a throw becomes a rejection, as callers expect.
      '@typescript-eslint/require-await': 'off',
      // As tsc's noUnusedParameters: a leading _ marks a parameter kept for its position or its type;
      // and `const { a: _a, ...rest } = o` is how a key is left out of a copy (the rest is what is used).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // Passing on a caught `unknown` as it is (a user's factory's rejection) is not making a non-Error one.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
    },
  },

  // The tcp channel and its reader hand `this` to a shared Promise executor through a module variable,
  // executorTarget: no closure per recv/send on the hot path (see the comment above it in channel.ts).
  {
    files: ['packages/tcp/src/channel.ts', 'packages/tcp/src/socket-reader.ts'],
    rules: { '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['executorTarget'] }] },
  },

  // rpc-lite's client and server share only wire/ and the top level: neither side imports the other.
  {
    files: ['packages/rpc-lite/src/client/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/server/**', '../server'],
              message: 'client/ does not import server/: move what both need to wire/ or the top level',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['packages/rpc-lite/src/server/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/client/**', '../client'],
              message: 'server/ does not import client/: move what both need to wire/ or the top level',
            },
          ],
        },
      ],
    },
  },

  // Tests: @types/jest types the asymmetric matchers (expect.objectContaining, expect.stringContaining, ...)
  // as `any` so that they fit in any expected value; handing them to toThrow/toEqual is what they are for.
  {
    files: ['**/test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },

  // The consumer test's TypeScript fixtures: their own tsconfig.json is for the temporary consumer
  // project the test copies them into (it names src/...), so here they use e2e/consumer/tsconfig.json.
  {
    files: ['e2e/consumer/fixtures/**/*.{ts,mts}'],
    languageOptions: {
      parserOptions: {
        projectService: false,
        project: ['./e2e/consumer/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
  },

  // Plain JavaScript (Jest configs, the consumer test's scripts and fixtures):
  // no TypeScript program covers it, so no type-aware rules, and ESLint's own
  // no-undef needs to know Node's globals.
  {
    files: ['**/*.{js,cjs,mjs}'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: nodeGlobals },
  },
  {
    files: ['**/*.{js,cjs}'],
    languageOptions: { sourceType: 'commonjs', globals: commonjsGlobals },
    // CommonJS files (Jest configs, the consumer's CommonJS fixtures): require() is their import.
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
