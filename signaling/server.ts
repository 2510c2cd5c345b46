/**
 * The signaling server: one HTTP server that serves the built UI, answers /healthz, and on
 * /signal speaks the signaling protocol (src/net/signaling-protocol.ts) over WebSocket: it puts
 * tabs into rooms, tells them who else is there, and relays WebRTC offers, answers and ICE
 * candidates between peers of the same room. It never sees room secrets or memories.
 *
 * Hostile input is the normal case on a public port: every frame is rate limited, size capped
 * and validated before anything else, refused with an error frame and one log line, and a
 * connection that keeps sending garbage is closed. All state is bounded by SignalingLimits,
 * and each client address gets its own share of it (address-quota.ts). A peer id belongs to the
 * client that first joined with it and a token (peer-claims.ts), also for a while after it left.
 *
 * A refused WebSocket (foreign origin, no connection left) is accepted and then closed after a
 * typed error frame, not refused with an HTTP status: browsers hide a refused upgrade's status
 * from the page, which could then only say "cannot connect".
 */
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import {
  encodeSignalingMessage,
  type JoinMessage,
  MAX_FRAME_BYTES,
  parseClientMessage,
  SIGNAL_PATH,
  type ClientMessage,
  type ServerMessage,
  type SignalingError,
} from '../src/net/signaling-protocol.js';
import { AddressQuota } from './address-quota.js';
import { addressKey, clientAddress } from './client-address.js';
import { hashPeerToken, PeerIdClaims } from './peer-claims.js';
import { listenUrls } from './listen-urls.js';
import { RoomRegistry } from './rooms.js';
import { sendText, serveStatic } from './static-files.js';
import { TokenBucket } from './token-bucket.js';

/** Every limit and period of the server, with its default and the reason for it. */
export interface SignalingLimits {
  /** Period of WebSocket-level pings to every client. */
  heartbeatIntervalMs: number;
  /** A client that has sent nothing (not even a pong) for this long is dropped. */
  heartbeatTimeoutMs: number;
  /** Sustained messages per second one connection may send. */
  messagesPerSecond: number;
  /** Messages one connection may send at once. */
  burstMessages: number;
  /** Largest frame the protocol reads; bigger ones get a 'too-large' error frame. */
  maxFrameBytes: number;
  /** Largest frame ws will buffer at all; bigger ones close the connection (1009) unread. */
  maxPayloadBytes: number;
  /** Refused frames (malformed, oversized, binary) after which the connection is closed (1008). */
  maxProtocolErrors: number;
  maxRooms: number;
  maxPeersPerRoom: number;
  /** Open WebSocket connections, joined or not. */
  maxConnections: number;
  /** Open connections from one client address (an IPv6 /64 counts as one address). */
  maxConnectionsPerAddress: number;
  /** Rooms the connections of one client address may be in at once. */
  maxRoomsPerAddress: number;
  /** How long a peer id stays bound to its owner's token after the owner left or disconnected. */
  claimRetentionMs: number;
  /** Bindings of departed peers kept in all (the oldest is forgotten first). */
  maxReleasedClaims: number;
  /** Bindings of departed peers kept for one client address (its oldest is forgotten first). */
  maxReleasedClaimsPerAddress: number;
  /** Unsent bytes queued to one client beyond which relays to it are dropped, not queued. */
  maxBufferedBytes: number;
  /** On close(), how long clients get to finish the closing handshake before being cut. */
  shutdownGraceMs: number;
}

export const DEFAULT_SIGNALING_LIMITS: Readonly<SignalingLimits> = Object.freeze({
  heartbeatIntervalMs: 15_000, // Browsers answer ws pings themselves; 15 s keeps NAT and proxy mappings alive.
  heartbeatTimeoutMs: 30_000, // Two missed pings: the tab is gone (sleeping laptop, lost network), free its peer id.
  messagesPerSecond: 50, // A settled tab sends one ping per 10 s; renegotiation is a handful of signals.
  burstMessages: 200, // A tab joining a 20-peer room sends an offer and ~10 ICE candidates per peer at once.
  maxFrameBytes: MAX_FRAME_BYTES, // The protocol's own cap: a 64 KiB signal plus its envelope.
  maxPayloadBytes: 2 * MAX_FRAME_BYTES, // Room to answer moderately oversized frames politely; beyond, ws cuts them unread.
  maxProtocolErrors: 16, // A buggy client sees its errors; a fuzzer or attacker stops costing log lines soon.
  maxRooms: 10_000, // Bounded memory: 10k rooms x 256 peers is the worst case, a few hundred MB at most.
  maxPeersPerRoom: 256, // A full mesh of 256 tabs is already far beyond what WebRTC in one browser sustains.
  maxConnections: 20_000, // Unjoined connections cost memory too.
  maxConnectionsPerAddress: 64, // One browser's tabs, or a small office behind one NAT; raise it for a bigger NAT.
  maxRoomsPerAddress: 32, // A person uses a handful of rooms; 10,000 rooms then take 313 addresses, not one.
  claimRetentionMs: 24 * 3_600_000, // A laptop closed overnight comes back to its own peer id.
  maxReleasedClaims: 100_000, // About 450 bytes of heap each (measured, docs/SIGNALING.md): ~45 MB at most.
  maxReleasedClaimsPerAddress: 1_024, // A day of new tabs of an office; one address minting ids evicts only its own.
  maxBufferedBytes: 1024 * 1024, // Signals are best effort: a client this far behind is better served by a retry.
  shutdownGraceMs: 1_000, // Lets clients see a clean 1001 close and reconnect elsewhere promptly.
});

/** Where the server's log lines go; tests pass a recorder to stay quiet and to read them. */
export interface SignalingLogger {
  info(message: string): void;
  warn(message: string): void;
}

export const CONSOLE_LOGGER: SignalingLogger = {
  info: (message) => console.log(message),
  warn: (message) => console.warn(message),
};

export interface StartServerOptions {
  /** TCP port; 0 picks any free port. */
  port: number;
  /** Interface to listen on; all interfaces when absent, so tabs on other machines of the LAN can join. */
  host?: string;
  /** Directory of the built UI; `dist/` at the repository root by default. */
  staticDir?: string;
  log?: SignalingLogger;
  limits?: Partial<SignalingLimits>;
  /**
   * Web origins (e.g. "https://app.example") whose pages may open a signaling WebSocket, besides
   * the server's own (a page whose Origin names the host it connected to). '*' allows any.
   * Clients that send no Origin (not browsers) are let in: Origin is a browser's word and stops
   * only a foreign page in the user's browser, which is what this is for.
   */
  allowedOrigins?: readonly string[];
  /**
   * How many reverse proxies in front of this server append the client's address to
   * X-Forwarded-For (0, the default: the header is ignored, since any client can send one).
   * Per-address caps then count the address the outermost trusted proxy saw.
   */
  trustedProxies?: number;
  /**
   * A certificate and its private key (PEM): the UI is then served over https and signaling over
   * wss. Pages on plain http from another machine are not secure contexts (see README, "LAN").
   */
  tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
}

export interface ServerStats {
  readonly connections: number;
  readonly rooms: number;
  readonly peers: number;
  /** Peer ids bound to a token: held now, or retained after their holder left. */
  readonly claims: number;
  /** Client addresses (IPv6 by /64) with an open connection or a room. */
  readonly addresses: number;
}

export interface RunningServer {
  /** The URL to open in a browser, e.g. http://localhost:8787/. */
  readonly url: string;
  /** Every URL it answers on: `url`, then one per LAN address when bound to all interfaces. */
  readonly urls: readonly string[];
  readonly port: number;
  stats(): ServerStats;
  /** Closes every client connection (1001), stops listening, and resolves when all is released. */
  close(): Promise<void>;
}

export const DEFAULT_STATIC_DIR = fileURLToPath(new URL('../dist/', import.meta.url));

/** One client WebSocket and what the server knows about it. */
interface Connection {
  readonly id: number;
  readonly socket: WebSocket;
  /** The client's address, for log lines: the TCP peer, or the forwarded one behind trusted proxies. */
  readonly remote: string;
  /** The key of its per-address share (client-address.ts). */
  readonly address: string;
  readonly bucket: TokenBucket;
  membership: { readonly room: string; readonly peerId: string } | undefined;
  protocolErrors: number;
  lastHeardMs: number;
  /** In a rate-limited episode: the 'rate-limited' error is sent once per episode, not per dropped frame. */
  rateLimited: boolean;
  /** In a congested episode (its send buffer is full): logged once per episode. */
  congested: boolean;
}

export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const limits: SignalingLimits = { ...DEFAULT_SIGNALING_LIMITS, ...options.limits };
  const log = options.log ?? CONSOLE_LOGGER;
  const staticDir = options.staticDir ?? DEFAULT_STATIC_DIR;
  const allowedOrigins = new Set(options.allowedOrigins ?? []);
  const rooms = new RoomRegistry<Connection>(limits);
  const claims = new PeerIdClaims<Connection>(limits);
  const quota = new AddressQuota(limits);
  const trustedProxies = options.trustedProxies ?? 0;
  const connections = new Set<Connection>();
  let nextConnectionId = 1;
  let closing: Promise<void> | undefined;

  const onRequest: RequestListener = (request, response) => {
    handleHttp(request, response).catch((error: unknown) => {
      log.warn(`http ${request.method ?? '?'} ${(request.url ?? '?').slice(0, 200)} failed: ${describeError(error)}`);
      if (!response.headersSent) sendText(response, 500, 'internal error');
      else response.destroy();
    });
  };
  // The same handlers either way: the upgrade to wss happens on the TLS server's 'upgrade' event.
  const httpServer: Server =
    options.tls === undefined ? createServer(onRequest) : createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, onRequest);
  // perMessageDeflate off: compression would let a small frame inflate past every size check.
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxPayloadBytes, perMessageDeflate: false });

  async function handleHttp(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const pathname = rawPathname(request.url);
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      sendText(response, 405, 'method not allowed', { Allow: 'GET, HEAD' });
    } else if (pathname === undefined) {
      sendText(response, 400, 'bad request');
    } else if (pathname === '/healthz') {
      sendText(response, 200, 'ok');
    } else if (pathname === SIGNAL_PATH) {
      sendText(response, 426, 'this path speaks WebSocket', { Upgrade: 'websocket' });
    } else {
      await serveStatic(request, response, staticDir, pathname);
    }
  }

  httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if (rawPathname(request.url) !== SIGNAL_PATH) {
      refuseUpgrade(socket, '404 Not Found');
    } else if (closing !== undefined) {
      refuseUpgrade(socket, '503 Service Unavailable');
    } else {
      wss.handleUpgrade(request, socket, head, (ws) => admit(ws, request));
    }
  });

  /** Lets a new WebSocket in, or tells it why not and closes it. Counted as the handshake completes, in order. */
  function admit(socket: WebSocket, request: IncomingMessage): void {
    const remote = clientAddress(request.socket.remoteAddress, request.headers['x-forwarded-for'], trustedProxies);
    const address = addressKey(remote);
    if (!originAllowed(request, allowedOrigins)) {
      log.warn(`refused a WebSocket from ${remote}: origin ${JSON.stringify(request.headers.origin).slice(0, 200)} is not allowed`);
      refuseSocket(socket, 1008, {
        code: 'origin-not-allowed',
        message: `pages of ${String(request.headers.origin).slice(0, 200)} may not use this signaling server (its operator can allow them with --allow-origin)`,
      });
    } else if (connections.size >= limits.maxConnections) {
      log.warn(`refused a WebSocket from ${remote}: ${connections.size} connections open`);
      refuseSocket(socket, 1013, { code: 'server-full', message: `the server has ${connections.size} connections open, its limit; try again later` });
    } else if (!quota.tryOpen(address)) {
      log.warn(`refused a WebSocket from ${remote}: ${quota.connectionsOf(address)} connections open from ${address}`);
      refuseSocket(socket, 1013, {
        code: 'too-many-connections',
        message: `${quota.connectionsOf(address)} connections are open from your address, the limit per address; close some tabs`,
      });
    } else {
      accept(socket, remote, address);
    }
  }

  function refuseSocket(socket: WebSocket, closeCode: number, error: SignalingError): void {
    socket.on('error', () => undefined);
    socket.send(encodeSignalingMessage({ type: 'error', ...error }));
    socket.close(closeCode, error.code);
    // A client that never answers the close must not keep its socket for ws's 30 s close timeout.
    setTimeout(() => socket.terminate(), limits.shutdownGraceMs).unref();
  }

  function accept(socket: WebSocket, remote: string, address: string): void {
    const now = performance.now();
    const connection: Connection = {
      id: nextConnectionId++,
      socket,
      remote,
      address,
      bucket: new TokenBucket(limits.messagesPerSecond, limits.burstMessages, now),
      membership: undefined,
      protocolErrors: 0,
      lastHeardMs: now,
      rateLimited: false,
      congested: false,
    };
    connections.add(connection);
    socket.on('message', (data: RawData, isBinary: boolean) => {
      try {
        handleFrame(connection, data, isBinary);
      } catch (error) {
        // A bug here must cost one connection, never the process.
        log.warn(`${label(connection)} internal error, closing: ${describeError(error)}`);
        socket.close(1011, 'internal error');
      }
    });
    socket.on('pong', () => {
      connection.lastHeardMs = performance.now();
    });
    // ws reports invalid UTF-8, oversized frames and protocol violations here, then closes.
    socket.on('error', (error) => log.warn(`${label(connection)} ${describeError(error)}`));
    socket.on('close', () => {
      connections.delete(connection);
      leaveRoom(connection);
      quota.close(connection.address);
    });
  }

  function handleFrame(connection: Connection, data: RawData, isBinary: boolean): void {
    // Frames still arriving after we closed the connection are not worth a reply or a log line.
    if (connection.socket.readyState !== WebSocket.OPEN) return;
    const now = performance.now();
    connection.lastHeardMs = now;
    // The bucket comes first: a flood is dropped before any parsing work is spent on it.
    if (!connection.bucket.tryTake(now)) {
      if (!connection.rateLimited) {
        connection.rateLimited = true;
        log.warn(`${label(connection)} rate-limited: dropping frames`);
        send(connection, { type: 'error', code: 'rate-limited', message: `over ${limits.messagesPerSecond} messages/s; frames dropped` });
      }
      return;
    }
    connection.rateLimited = false;
    if (isBinary) {
      refuse(connection, { code: 'binary-frame', message: 'binary frames are not part of the protocol; send JSON text' });
      return;
    }
    const bytes = rawBuffer(data);
    if (bytes.byteLength > limits.maxFrameBytes) {
      refuse(connection, { code: 'too-large', message: `frame is ${bytes.byteLength} bytes; the limit is ${limits.maxFrameBytes}` });
      return;
    }
    const parsed = parseClientMessage(bytes.toString('utf8'));
    if (!parsed.ok) {
      refuse(connection, parsed.error);
      return;
    }
    handleMessage(connection, parsed.message);
  }

  function handleMessage(connection: Connection, message: ClientMessage): void {
    switch (message.type) {
      case 'join': {
        // A join while joined moves the connection: it leaves its current room first.
        leaveRoom(connection);
        const outcome = joinRoom(connection, message);
        if (!outcome.ok) {
          send(connection, { type: 'error', ...outcome.error });
          return;
        }
        send(connection, { type: 'joined', room: message.room, peerId: message.peerId, peers: outcome.others });
        for (const other of outcome.others) {
          const member = rooms.member(message.room, other);
          if (member !== undefined) send(member, { type: 'peer-joined', peerId: message.peerId });
        }
        return;
      }
      case 'signal': {
        if (connection.membership === undefined) {
          send(connection, { type: 'error', code: 'not-joined', message: 'join a room before sending signals' });
          return;
        }
        const target = rooms.member(connection.membership.room, message.to);
        if (target === undefined) {
          send(connection, { type: 'error', code: 'unknown-peer', message: `no peer ${message.to} in this room` });
          return;
        }
        send(target, { type: 'signal', from: connection.membership.peerId, data: message.data });
        return;
      }
      case 'leave':
        if (connection.membership === undefined) {
          send(connection, { type: 'error', code: 'not-joined', message: 'not in a room' });
          return;
        }
        leaveRoom(connection);
        return;
      case 'ping':
        send(connection, { type: 'pong' });
        return;
    }
  }

  /**
   * Puts the connection into the room under the id, if the id is not another client's and the
   * room, the server and the connection's address have room for it. The id's owner (same token)
   * takes it even from a connection that still holds it: that is its own previous connection,
   * which a reload or a network change left behind and which the server has not seen close yet.
   */
  function joinRoom(connection: Connection, message: JoinMessage): { ok: true; others: string[] } | { ok: false; error: SignalingError } {
    const { room, peerId } = message;
    const tokenHash = message.token === undefined ? undefined : hashPeerToken(message.token);
    const verdict = claims.verdict(room, peerId, tokenHash, performance.now());
    if (verdict === 'taken') {
      return { ok: false, error: { code: 'peer-id-taken', message: `peer id ${peerId} of room ${room} belongs to another client (it joined with another token); pick another id` } };
    }
    if (!quota.mayEnter(connection.address, room)) {
      return { ok: false, error: { code: 'too-many-rooms', message: `connections from your address are in ${plural(quota.roomsOf(connection.address), 'room')}, the limit per address` } };
    }
    const holder = verdict === 'owner' ? claims.holder(room, peerId) : undefined;
    if (holder !== undefined && holder !== connection) replace(holder);
    const outcome = rooms.join(room, peerId, connection);
    if (!outcome.ok) return { ok: false, error: { code: outcome.code, message: joinRefusal(outcome.code, room, peerId) } };
    if (tokenHash !== undefined) claims.bind(room, peerId, tokenHash, connection.address, connection);
    quota.enter(connection.address, room);
    connection.membership = { room, peerId };
    return { ok: true, others: outcome.others };
  }

  /** The owner of `holder`'s id came back on another connection: the old one leaves and is told why. */
  function replace(holder: Connection): void {
    const membership = holder.membership;
    log.info(`${label(holder)} replaced by a new connection with the same token`);
    leaveRoom(holder);
    if (membership === undefined) return;
    send(holder, { type: 'error', code: 'peer-id-replaced', message: `a newer connection with this client's token took peer id ${membership.peerId} of room ${membership.room}` });
    holder.socket.close(1008, 'peer-id-replaced');
  }

  function leaveRoom(connection: Connection): void {
    const membership = connection.membership;
    if (membership === undefined) return;
    connection.membership = undefined;
    claims.release(membership.room, membership.peerId, connection, performance.now());
    quota.leave(connection.address, membership.room);
    for (const other of rooms.leave(membership.room, membership.peerId, connection)) {
      send(other, { type: 'peer-left', peerId: membership.peerId });
    }
  }

  function refuse(connection: Connection, error: SignalingError): void {
    connection.protocolErrors++;
    log.warn(`${label(connection)} ${error.code}: ${error.message}`);
    send(connection, { type: 'error', ...error });
    if (connection.protocolErrors >= limits.maxProtocolErrors) {
      log.warn(`${label(connection)} closed after ${connection.protocolErrors} refused frames`);
      connection.socket.close(1008, 'too many invalid frames');
    }
  }

  function send(connection: Connection, message: ServerMessage): void {
    const socket = connection.socket;
    if (socket.readyState !== WebSocket.OPEN) return;
    if (socket.bufferedAmount > limits.maxBufferedBytes) {
      if (!connection.congested) log.warn(`${label(connection)} is not reading: dropping frames to it`);
      connection.congested = true;
      return;
    }
    connection.congested = false;
    socket.send(encodeSignalingMessage(message));
  }

  const heartbeat = setInterval(() => {
    const now = performance.now();
    claims.sweep(now);
    for (const connection of connections) {
      if (now - connection.lastHeardMs > limits.heartbeatTimeoutMs) {
        log.info(`${label(connection)} silent for ${Math.round(now - connection.lastHeardMs)} ms: dropped`);
        connection.socket.terminate();
      } else {
        connection.socket.ping();
      }
    }
  }, limits.heartbeatIntervalMs);
  heartbeat.unref();

  await listen(httpServer, options.port, options.host).catch((error: unknown) => {
    clearInterval(heartbeat);
    throw error;
  });
  const port = boundPort(httpServer);
  const scheme = options.tls === undefined ? 'http' : 'https';
  const url = `${scheme}://${displayHost(options.host)}:${port}/`;
  const urls = [url, ...listenUrls(scheme, options.host, port).filter((other) => other !== url)];
  if (!existsSync(join(staticDir, 'index.html'))) {
    log.warn(`no built UI in ${staticDir} (build it first); serving signaling and /healthz only`);
  }

  async function shutdown(): Promise<void> {
    clearInterval(heartbeat);
    const open = [...connections];
    const allClosed = Promise.all(
      open.map((connection) =>
        connection.socket.readyState === WebSocket.CLOSED
          ? undefined
          : new Promise<void>((resolve) => connection.socket.once('close', () => resolve())),
      ),
    );
    for (const connection of open) connection.socket.close(1001, 'server shutting down');
    await withTimeout(allClosed, limits.shutdownGraceMs);
    for (const connection of open) connection.socket.terminate();
    wss.close();
    const stopped = new Promise<void>((resolve) => httpServer.close(() => resolve()));
    httpServer.closeAllConnections();
    await stopped;
  }

  return {
    url,
    urls,
    port,
    stats: () => ({ connections: connections.size, rooms: rooms.roomCount, peers: rooms.peerCount, claims: claims.size, addresses: quota.addressCount }),
    close: () => (closing ??= shutdown()),
  };
}

function joinRefusal(code: 'duplicate-peer' | 'room-full' | 'server-full', room: string, peerId: string): string {
  switch (code) {
    case 'duplicate-peer':
      return `peer id ${peerId} is already in room ${room}; pick another id`;
    case 'room-full':
      return `room ${room} is full`;
    case 'server-full':
      return 'the server has no room for another room';
  }
}

/**
 * The path of a request target, undecoded and unnormalised, so that the static file resolver
 * judges exactly what the client sent. Only origin-form targets ("/path?query") are accepted.
 */
function rawPathname(target: string | undefined): string | undefined {
  if (target === undefined || !target.startsWith('/')) return undefined;
  const end = target.search(/[?#]/);
  return end === -1 ? target : target.slice(0, end);
}

/**
 * Same origin (the page's Origin names the host it asked for: the server serves the UI itself,
 * and Vite's dev proxy keeps the Host), a listed origin, or no Origin at all. A foreign page in
 * the user's browser could otherwise list a room's peers and send them offers through this
 * server; a room secret keeps such a page out of the mesh anyway (peer-auth.ts), this keeps it
 * off the server.
 */
function originAllowed(request: IncomingMessage, allowed: ReadonlySet<string>): boolean {
  const origin = request.headers.origin;
  if (origin === undefined || allowed.has('*') || allowed.has(origin)) return true;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false; // "null" (a sandboxed or file: page) and anything unparsable
  }
  return host !== '' && host === request.headers.host;
}

function refuseUpgrade(socket: Duplex, status: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function rawBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function label(connection: Connection): string {
  const who = connection.membership === undefined ? '' : ` ${connection.membership.room}/${connection.membership.peerId}`;
  return `ws#${connection.id} ${connection.remote}${who}`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function listen(server: Server, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function boundPort(server: Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the server is not listening on a TCP port');
  return address.port;
}

function displayHost(host: string | undefined): string {
  if (host === undefined || host === '' || host === '0.0.0.0' || host === '::') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

async function withTimeout(promise: Promise<unknown>, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let settle = (): void => undefined;
  const timeout = new Promise<void>((resolve) => {
    settle = resolve;
    timer = setTimeout(resolve, timeoutMs);
  });
  try {
    await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
    settle();
  }
}
