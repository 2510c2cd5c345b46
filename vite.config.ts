import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// The UI is served by the signaling server from dist/ (npm start); `npm run dev` proxies /signal to it.
export default defineConfig({
  build: {
    outDir: 'dist',
    target: 'es2022',
    rollupOptions: {
      input: {
        main: resolve(import.meta.dirname, 'index.html'),
        preview: resolve(import.meta.dirname, 'ui-preview.html'),
      },
    },
  },
  server: {
    proxy: { '/signal': { target: 'ws://localhost:8787', ws: true } },
  },
});
