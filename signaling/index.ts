/**
 * `engram-mesh/server`: the signaling server as a library call. Tabs find each other through it
 * (it relays WebRTC offers, answers and ICE candidates between peers of a room) and it can serve
 * the app's built files from the same port, so the page's own origin is allowed to signal. It
 * never sees room secrets or memories. The `engram-signaling` command (signaling/main.ts) is
 * the same server from the command line.
 */
import { startServer, type RunningServer, type SignalingLimits, type SignalingLogger } from './server.js';

export { DEFAULT_SIGNALING_LIMITS, CONSOLE_LOGGER, type RunningServer, type ServerStats, type SignalingLimits, type SignalingLogger } from './server.js';
export { SIGNAL_PATH } from '../src/net/signaling-protocol.js';

/** The port `engram-signaling` and `startSignalingServer` take when given none. */
export const DEFAULT_SIGNALING_PORT = 8787;

export interface SignalingServerOptions {
  /** TCP port; 0 picks any free port (read it from the result). Default 8787. */
  readonly port?: number;
  /** Interface to listen on; all interfaces when absent, so tabs on other machines of the LAN can join. */
  readonly host?: string;
  /**
   * A directory of built web files (your app's `dist/`) to serve on the same port; its
   * `index.html` answers `/`. Without it the server answers only `/signal` and `/healthz`.
   */
  readonly staticDir?: string;
  /**
   * Web origins (e.g. "https://app.example") whose pages may open a signaling WebSocket, besides
   * pages this server served itself; '*' allows any. Needed when the app is hosted elsewhere.
   */
  readonly allowOrigins?: readonly string[];
  /** Where the server's log lines go; the console by default. */
  readonly log?: SignalingLogger;
  /** Caps on connections, rooms, message rates and sizes; see DEFAULT_SIGNALING_LIMITS. */
  readonly limits?: Partial<SignalingLimits>;
}

/**
 * Starts a signaling server and resolves once it listens, with its `url` (http://host:port/),
 * `port`, `stats()` and `close()` (closes every client with 1001 and stops listening).
 */
export function startSignalingServer(options: SignalingServerOptions = {}): Promise<RunningServer> {
  return startServer({
    port: options.port ?? DEFAULT_SIGNALING_PORT,
    ...(options.host !== undefined && { host: options.host }),
    ...(options.staticDir !== undefined && { staticDir: options.staticDir }),
    ...(options.allowOrigins !== undefined && { allowedOrigins: options.allowOrigins }),
    ...(options.log !== undefined && { log: options.log }),
    ...(options.limits !== undefined && { limits: options.limits }),
  });
}
