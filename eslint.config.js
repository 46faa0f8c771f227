// Lint configuration: typescript-eslint's recommended rules over lib/, test/ and bench/.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'build-cmake/', 'prebuilds/', 'node_modules/', 'bench/node_modules/', 'bench/.work/', '.tap/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setImmediate: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', URL: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', queueMicrotask: 'readonly', performance: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    files: ['lib/**/*.ts'],
    ignores: ['lib/fs/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [
        { name: 'node:fs', message: 'Go through the FileSystem seam (lib/fs/).' },
        { name: 'fs', message: 'Go through the FileSystem seam (lib/fs/).' },
        { name: 'node:fs/promises', message: 'Go through the FileSystem seam (lib/fs/).' },
        { name: 'fs/promises', message: 'Go through the FileSystem seam (lib/fs/).' },
        { name: 'fs-extra', message: 'Go through the FileSystem seam (lib/fs/).' },
      ] }],
    },
  },
);
