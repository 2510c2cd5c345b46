/**
 * Command line entry of the signaling server:
 *   tsx signaling/main.ts [--port N] [--host H] [--static DIR]
 * Port from --port, else the PORT environment variable, else 8787 (0 = any free port).
 * Stops gracefully on SIGINT/SIGTERM (clients see a 1001 close and reconnect elsewhere).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startServer } from './server.js';

const DEFAULT_PORT = 8787;
const USAGE = `usage: tsx signaling/main.ts [--port N] [--host H] [--static DIR]
  --port N      TCP port (default: $PORT or ${DEFAULT_PORT}; 0 = any free port)
  --host H      interface to listen on (default: all)
  --static DIR  directory of the built UI (default: dist/ at the repository root)`;

interface CliOptions {
  port: number;
  host?: string;
  staticDir?: string;
}

/** Reads the command line. */
function parseCli(argv: string[], env: NodeJS.ProcessEnv): CliOptions | { usageError: string } | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        static: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    return { usageError: error instanceof Error ? error.message : String(error) };
  }
  if (values.help === true) return 'help';
  const portText = values.port ?? env.PORT ?? String(DEFAULT_PORT);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65_535) return { usageError: `port must be an integer in 0..65535, got ${JSON.stringify(portText)}` };
  return {
    port,
    ...(values.host !== undefined && { host: values.host }),
    ...(values.static !== undefined && { staticDir: resolve(values.static) }),
  };
}

async function main(): Promise<void> {
  const options = parseCli(process.argv.slice(2), process.env);
  if (options === 'help') {
    console.log(USAGE);
    return;
  }
  if ('usageError' in options) {
    console.error(`${options.usageError}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const server = await startServer(options);
  console.log(`Engram Mesh running at ${server.url}`);
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // A second Ctrl-C means "now".
      process.exit(1);
    }
    stopping = true;
    console.log(`${signal}: closing connections`);
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('shutdown failed:', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error('could not start the signaling server:', error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
