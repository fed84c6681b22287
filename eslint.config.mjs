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
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'workflows are deterministic: do I/O in an activity' })),
          patterns: [
            {
              group: ['nodemailer', 'better-sqlite3', 'fastify', 'liquidjs', '@temporalio/client', '@temporalio/worker', '@temporalio/activity', '**/store/*', '**/client/*', '**/journeys', '**/journeys/*'],
              message: 'workflows are deterministic: do I/O in an activity (type-only imports are fine)',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
