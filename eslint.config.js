// Lint rules: the recommended TypeScript set, plus a guard that keeps the core pure
// (no timers, wall clock or platform I/O inside src/core; they come in through ports).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'lib/**', 'test-results/**', 'playwright-report/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'The core gets time from the Scheduler port.' },
        { name: 'setInterval', message: 'The core gets time from the Scheduler port.' },
        { name: 'window', message: 'The core knows nothing of the DOM.' },
        { name: 'document', message: 'The core knows nothing of the DOM.' },
        { name: 'indexedDB', message: 'The core stores through the Storage port.' },
        { name: 'RTCPeerConnection', message: 'The core sends through the Transport port.' },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'The core gets time from the Scheduler port.' },
        { object: 'Math', property: 'random', message: 'The core gets randomness from the Random port.' },
      ],
    },
  },
);
