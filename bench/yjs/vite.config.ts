import { resolve } from 'node:path';
import { defineConfig } from 'vite';

/**
 * The Yjs comparison page of the benchmark, built apart from the app so that nothing of Yjs
 * reaches the app's dist/. It builds into node_modules/.cache: ignored by git and by eslint
 * (whose `dist/**` ignore covers the root dist/ only, so a bundle in bench/yjs/dist would be linted).
 */
export const YJS_PAGE_DIR = resolve(import.meta.dirname, '../../node_modules/.cache/engram-bench-yjs');

export default defineConfig({
  root: import.meta.dirname,
  base: './',
  logLevel: 'warn',
  build: {
    outDir: YJS_PAGE_DIR,
    emptyOutDir: true,
    target: 'es2022',
  },
});
