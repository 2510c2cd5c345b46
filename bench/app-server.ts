/**
 * The built app on a local signaling server, as the single-tab benchmark scripts use it
 * (forget-space.ts, scale.ts, hidden-tabs.ts): builds it first unless told the build is current.
 */
import { execFileSync } from 'node:child_process';
import { startServer, type RunningServer } from '../signaling/server.js';

export async function serveApp(options: { build: boolean; log: (line: string) => void }): Promise<RunningServer> {
  if (options.build) {
    options.log('building the app (vite build)');
    execFileSync('npx', ['vite', 'build'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  return startServer({ port: 0, host: '127.0.0.1', log: { info: () => undefined, warn: (line) => console.warn(line) } });
}
