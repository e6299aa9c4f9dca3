// typescript-eslint with type-checked rules; no-floating-promises is part of recommendedTypeChecked.
import tseslint from 'typescript-eslint';

// Layering (docs/architecture.md): a package reaches another only through its public entry points
// (package exports), never through its dist/ or src/ files or a relative path.
const LAYERING = [
  {
    group: ['@ron/*/dist/*', '@ron/*/src/*', '@ron/*/dist', '@ron/*/src'],
    message: 'import another package through its entry point (its package.json exports)',
  },
  {
    regex: '^(\\.\\./)+(kernel|testkit|micronode|registry|macronode|ronctl|storage|index|mailbox)/',
    message: 'import another package by its name (@ron/<package>), not by a relative path',
  },
];

export default tseslint.config(
  { ignores: ['**/dist/**', 'node_modules/**', 'coverage/**', '**/*.js', '**/*.mjs'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's test()/describe() return promises the runner itself awaits.
          allowForKnownSafeCalls: [
            { from: 'package', name: ['test', 'it', 'describe', 'suite'], package: 'node:test' },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['packages/*/src/**/*.ts', 'packages/*/test/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: LAYERING,
        },
      ],
    },
  },
  // The kernel imports no program.
  {
    files: ['packages/kernel/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [...LAYERING, { group: ['@ron/*'], message: 'the kernel imports no program package' }] },
      ],
    },
  },
  // ronctl stays a client: no server code (a test checks what keygen and sign load).
  {
    files: ['packages/ronctl/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: '@ron/kernel', message: 'use @ron/kernel/core (no Fastify, pino or prom-client)' },
            { name: '@ron/registry', message: 'use @ron/registry/protocol (no server, SQLite or pg)' },
          ],
          patterns: [
            ...LAYERING,
            {
              group: [
                '@ron/*',
                '!@ron/kernel',
                '!@ron/kernel/core',
                '!@ron/registry',
                '!@ron/registry/protocol',
              ],
              message:
                'ronctl talks to programs over HTTP; it imports only @ron/kernel/core and @ron/registry/protocol',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
