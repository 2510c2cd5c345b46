import { execFileSync } from 'node:child_process';

/** The server serves the built UI, so the browser tests run against a fresh production build. */
export default function globalSetup(): void {
  execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { stdio: 'inherit' });
}
