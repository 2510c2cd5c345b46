#!/usr/bin/env node
/**
 * Command line entry of the signaling server:
 *   tsx signaling/main.ts [--port N] [--host H] [--static DIR] [--allow-origin O ...] [--tls-cert F --tls-key F] [limits]
 * Limits (--max-*, --claim-retention-s, --trusted-proxies) override DEFAULT_SIGNALING_LIMITS; see --help.
 * Port from --port, else the PORT environment variable, else 8787 (0 = any free port).
 * Origins from --allow-origin (repeatable), else ENGRAM_ALLOWED_ORIGINS (comma separated).
 * TLS from --tls-cert/--tls-key, else ENGRAM_TLS_CERT/ENGRAM_TLS_KEY (PEM files): https + wss.
 * Stops gracefully on SIGINT/SIGTERM (clients see a 1001 close and reconnect elsewhere).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_SIGNALING_LIMITS, startServer, type SignalingLimits } from './server.js';

const DEFAULT_PORT = 8787;
const USAGE = `usage: engram-signaling [--port N] [--host H] [--static DIR] [--allow-origin O ...] [--tls-cert FILE --tls-key FILE] [limits]
  --port N          TCP port (default: $PORT or ${DEFAULT_PORT}; 0 = any free port)
  --host H          interface to listen on: 0.0.0.0 for every IPv4 one (other machines of the LAN),
                    127.0.0.1 for this machine only (default: all, IPv4 and IPv6)
  --tls-cert FILE   certificate (PEM) to serve https and wss with; needs --tls-key
                    (default: $ENGRAM_TLS_CERT)
  --tls-key FILE    its private key (PEM) (default: $ENGRAM_TLS_KEY)
  --static DIR      directory of the built UI (default: dist/ at the repository root)
  --allow-origin O  a web origin (https://app.example) whose pages may signal here, besides this
                    server's own; repeatable; '*' allows any (default: $ENGRAM_ALLOWED_ORIGINS)
  --trusted-proxies N          reverse proxies in front that append X-Forwarded-For; per-address
                               caps then count the address the outermost one saw (default: 0,
                               the header is ignored: any client can send one)
  --max-connections N          open WebSockets in all (default: ${DEFAULT_SIGNALING_LIMITS.maxConnections})
  --max-connections-per-address N
                               open WebSockets from one address, IPv6 by /64 (default: ${DEFAULT_SIGNALING_LIMITS.maxConnectionsPerAddress})
  --max-rooms N                rooms in all (default: ${DEFAULT_SIGNALING_LIMITS.maxRooms})
  --max-rooms-per-address N    rooms one address's connections may be in (default: ${DEFAULT_SIGNALING_LIMITS.maxRoomsPerAddress})
  --max-peers-per-room N       (default: ${DEFAULT_SIGNALING_LIMITS.maxPeersPerRoom})
  --claim-retention-s N        seconds a peer id stays its owner's after it left (default: ${DEFAULT_SIGNALING_LIMITS.claimRetentionMs / 1000})`;

/** Numeric limit flags: flag name, the SignalingLimits field, and the factor from the flag's unit to the field's. */
const LIMIT_FLAGS = [
  ['max-connections', 'maxConnections', 1],
  ['max-connections-per-address', 'maxConnectionsPerAddress', 1],
  ['max-rooms', 'maxRooms', 1],
  ['max-rooms-per-address', 'maxRoomsPerAddress', 1],
  ['max-peers-per-room', 'maxPeersPerRoom', 1],
  ['claim-retention-s', 'claimRetentionMs', 1000],
] as const satisfies readonly (readonly [string, keyof SignalingLimits, number])[];

interface CliOptions {
  port: number;
  host?: string;
  staticDir?: string;
  allowedOrigins?: string[];
  trustedProxies?: number;
  limits?: Partial<SignalingLimits>;
  tls?: { cert: Buffer; key: Buffer };
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
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        'trusted-proxies': { type: 'string' },
        ...Object.fromEntries(LIMIT_FLAGS.map(([flag]) => [flag, { type: 'string' as const }])),
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
  const flagValues = values as Record<string, string | undefined>;
  const limits: Partial<Record<keyof SignalingLimits, number>> = {};
  for (const [flag, field, factor] of LIMIT_FLAGS) {
    const text = flagValues[flag];
    if (text === undefined) continue;
    if (!/^\d+$/.test(text) || Number(text) < 1) return { usageError: `--${flag} must be a positive integer, got ${JSON.stringify(text)}` };
    limits[field] = Number(text) * factor;
  }
  const proxiesText = flagValues['trusted-proxies'];
  if (proxiesText !== undefined && !/^\d+$/.test(proxiesText)) return { usageError: `--trusted-proxies must be an integer >= 0, got ${JSON.stringify(proxiesText)}` };
  // An empty variable is an unset one (`ENGRAM_TLS_CERT= npm start` turns TLS off).
  const tlsCert = values['tls-cert'] ?? (env.ENGRAM_TLS_CERT || undefined);
  const tlsKey = values['tls-key'] ?? (env.ENGRAM_TLS_KEY || undefined);
  if ((tlsCert === undefined) !== (tlsKey === undefined)) return { usageError: 'TLS needs both a certificate (--tls-cert) and its key (--tls-key)' };
  let tls: CliOptions['tls'];
  if (tlsCert !== undefined && tlsKey !== undefined) {
    try {
      tls = { cert: readFileSync(tlsCert), key: readFileSync(tlsKey) };
    } catch (error) {
      return { usageError: `cannot read the TLS files: ${error instanceof Error ? error.message : String(error)}` };
    }
  }
  return {
    port,
    ...(proxiesText !== undefined && { trustedProxies: Number(proxiesText) }),
    ...(Object.keys(limits).length > 0 && { limits }),
    ...(tls !== undefined && { tls }),
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
  // Another device on the LAN needs one of these, not localhost.
  for (const url of server.urls.slice(1)) console.log(`  on the network: ${url}`);
  if (options.tls === undefined && server.urls.length > 1) {
    console.log('  (over plain http another device is not a secure context: see "LAN and https" in the README)');
  }
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
