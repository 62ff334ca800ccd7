// Type-aware linting: the rules that catch what strict TypeScript does not (un-awaited
// promises, promises where callbacks are expected, non-exhaustive switches), plus the
// package boundaries: no import circles, and no package importing one it does not declare.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const root = import.meta.dirname;

/** Every workspace (apps/*, packages/*): its package.json is what it may import. */
const workspaces = ['apps', 'packages'].flatMap((group) =>
  readdirSync(join(root, group), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, group, d.name, 'package.json')))
    .map((d) => `${group}/${d.name}`),
);

/** Files that only tests run: they may import devDependencies. */
const testFiles = ['**/*.test.ts', '**/*.test.tsx', '**/test/**', 'packages/test-utils/**', 'packages/tdengine-test-server/**'];

export default tseslint.config(
  { ignores: ['node_modules/**', 'data/**', 'coverage/**', '.tmp/**', '**/dist/**', '**/*.js', '**/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: root },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-console': ['error', { allow: ['warn', 'error'] }],
    },
  },
  {
    plugins: { 'import-x': importX },
    settings: {
      // As in importX.flatConfigs.typescript, with Node's resolution (the code imports
      // `./x.ts` and workspaces by package name, so no TypeScript-specific resolver is needed).
      'import-x/extensions': ['.ts', '.tsx', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts', '.tsx'] },
      'import-x/resolver-next': [createNodeResolver()],
    },
    rules: {
      // Type-only imports are erased, so they cannot form a run-time circle; value imports can.
      'import-x/no-cycle': 'error',
    },
  },
  // Each workspace imports only the @bk/* packages (and third-party packages) declared in its
  // own package.json or the root one (third-party packages are installed at the root);
  // devDependencies only from test files. A workspace never reaches into another by a
  // relative path. Files outside the workspaces (test/, bench/, scripts/) see @bk/* as
  // internal to the root package and are not checked.
  ...workspaces.map((dir) => ({
    files: [`${dir}/**/*.ts`, `${dir}/**/*.tsx`],
    rules: {
      'import-x/no-extraneous-dependencies': [
        'error',
        { packageDir: [join(root, dir), root], devDependencies: testFiles, includeTypes: true },
      ],
      'import-x/no-relative-packages': 'error',
    },
  })),
  {
    files: [
      'apps/cli/**/*.ts',
      'bench/**/*.ts',
      'scripts/**/*.ts',
      '**/*.test.ts',
      'test/**/*.ts',
      'packages/tdengine-test-server/src/main.ts',
    ],
    rules: { 'no-console': 'off' },
  },
);
