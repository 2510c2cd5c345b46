import { resolve } from 'node:path';
import { defineConfig } from 'vite';

/**
 * Where `npm run dev` sends /signal: the signaling server started beside it with
 * `npm run start:server`, which listens on $PORT (default 8787). The same variable steers both,
 * so `PORT=9000 npm run start:server` and `PORT=9000 npm run dev` find each other. Vite's own
 * port is its `--port` flag (default 5173).
 */
const signalingPort = process.env.PORT ?? '8787';

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
    proxy: { '/signal': { target: `ws://localhost:${signalingPort}`, ws: true } },
  },
});
