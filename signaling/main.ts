#!/usr/bin/env node
/**
 * Command line entry of the signaling server:
 *   tsx signaling/main.ts [--port N] [--host H] [--static DIR] [--allow-origin O ...]
 * Port from --port, else the PORT environment variable, else 8787 (0 = any free port).
 * Origins from --allow-origin (repeatable), else ENGRAM_ALLOWED_ORIGINS (comma separated).
 * Stops gracefully on SIGINT/SIGTERM (clients see a 1001 close and reconnect elsewhere).
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startServer } from './server.js';

const DEFAULT_PORT = 8787;
const USAGE = `usage: engram-signaling [--port N] [--host H] [--static DIR] [--allow-origin O ...]
  --port N          TCP port (default: $PORT or ${DEFAULT_PORT}; 0 = any free port)
  --host H          interface to listen on (default: all)
  --static DIR      directory of the built UI (default: dist/ at the repository root)
  --allow-origin O  a web origin (https://app.example) whose pages may signal here, besides this
                    server's own; repeatable; '*' allows any (default: $ENGRAM_ALLOWED_ORIGINS)`;

interface CliOptions {
  port: number;
  host?: string;
  staticDir?: string;
  allowedOrigins?: string[];
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
        'allow-origin': { type: 'string', multiple: true },
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
  const origins = values['allow-origin'] ?? (env.ENGRAM_ALLOWED_ORIGINS ?? '').split(',').map((origin) => origin.trim()).filter((origin) => origin !== '');
  const badOrigin = origins.find((origin) => origin !== '*' && !isOrigin(origin));
  if (badOrigin !== undefined) return { usageError: `an allowed origin is scheme://host[:port] or '*', got ${JSON.stringify(badOrigin)}` };
  return {
    port,
    ...(values.host !== undefined && { host: values.host }),
    ...(values.static !== undefined && { staticDir: resolve(values.static) }),
    ...(origins.length > 0 && { allowedOrigins: origins }),
  };
}

/** "https://app.example" or "http://localhost:5173": exactly what a browser sends as Origin. */
function isOrigin(text: string): boolean {
  try {
    return new URL(text).origin === text;
  } catch {
    return false;
  }
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
