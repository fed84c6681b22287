import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['node_modules', 'data', 'coverage', 'bench/.scratch', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflows run in Temporal's deterministic sandbox: no Node built-ins and no I/O libraries.
    // A quick hint in the editor; tests/workflowBundle.test.ts checks the whole import graph.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'workflows are deterministic: do I/O in an activity' })),
          patterns: [
            {
              group: [
                'zod', 'nodemailer', 'better-sqlite3', 'pg', 'fastify', 'liquidjs', 'html-to-text',
                '@temporalio/client', '@temporalio/worker', '@temporalio/activity',
                '**/app', '**/app/*', '**/api/*', '**/cli', '**/cli/*', '**/client', '**/compose', '**/compose/*', '**/config', '**/config/*',
                '**/store/*', '**/journeys', '**/journeys/*', '**/schema', '**/delivery/templates', '**/delivery/address', '**/delivery/unsubscribeTokens',
              ],
              message: 'workflows are deterministic and bundled without zod, rendering or I/O: do it in an activity (type-only imports are fine)',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
