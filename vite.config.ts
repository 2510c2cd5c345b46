import { resolve } from 'node:path';
import { defineConfig } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';

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
  plugins: [
    // The app shell offline: every memory is on the device, so a tab opened (or reloaded) while
    // the server is down must still start. The service worker precaches the built assets and
    // answers any navigation with index.html; /signal and /healthz are the server's, never cached.
    VitePWA({
      registerType: 'autoUpdate',
      injectRegister: 'script-defer',
      manifest: {
        name: 'Engram Mesh',
        short_name: 'Engram',
        description: 'A local-first memory store in which every browser tab is a node.',
        theme_color: '#1a7f37',
        background_color: '#f4f6f8',
        display: 'standalone',
        icons: [{ src: 'favicon.svg', sizes: 'any', type: 'image/svg+xml', purpose: 'any' }],
      },
      workbox: {
        globPatterns: ['**/*.{js,css,html,svg,webmanifest}'],
        navigateFallback: 'index.html',
        navigateFallbackDenylist: [/^\/signal/, /^\/healthz/, /^\/ui-preview/],
        cleanupOutdatedCaches: true,
      },
    }),
  ],
  server: {
    proxy: { '/signal': { target: `ws://localhost:${signalingPort}`, ws: true } },
  },
});
