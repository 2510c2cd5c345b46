// Serves the built app (dist/) and the signaling its tabs use, on one port.
/* global process, console, URL */
import { startSignalingServer } from 'engram-mesh/server';

const server = await startSignalingServer({
  port: Number(process.env.PORT ?? 8787),
  staticDir: new URL('./dist/', import.meta.url).pathname,
});
console.log(`serving ${server.url}`);
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
