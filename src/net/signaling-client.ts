/**
 * The Signaler over the signaling server's WebSocket (signaling/server.ts): joins one room as one
 * peer id, reports who is there, relays signals, and keeps itself connected — app-level pings
 * to notice a dead connection (browsers hide WebSocket pings), and reconnection with jittered
 * exponential backoff and a re-join whenever the connection is lost. Runs in the browser with the
 * global WebSocket and in Node with the `ws` package's (pass it as `WebSocket`).
 *
 * It joins with a token, the credential that makes its peer id its own on the server
 * (signaling/peer-claims.ts): the same token on every reconnection, so that nobody else can
 * take the id while it is away. Across reloads the app passes the token in; storedPeerToken()
 * keeps one per node id in localStorage. It reports why it is not in its room (status()): a
 * refusal with the server's reason code, or an unreachable server.
 */
import { EngramError } from '../core/errors.js';
import type { Signaler, SignalerEvents } from './signaler.js';
import {
  encodeSignalingMessage,
  isPeerId,
  isPeerToken,
  isRefusalCode,
  parseServerMessage,
  ROOM_PATTERN,
  SIGNAL_PATH,
  signalDataBytes,
  type ClientMessage,
  type RefusalCode,
  type ServerMessage,
  type SignalingError,
} from './signaling-protocol.js';

/** The part of the WebSocket API the client uses: the browser's WebSocket and `ws`'s both have it. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'close' | 'error', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface SignalingClientOptions {
  /** ws(s)://host/signal; see signalingUrl(). */
  readonly url: string;
  readonly room: string;
  readonly peerId: string;
  /**
   * The credential for `peerId` (22-128 base64url characters, e.g. newPeerToken()). The first
   * join binds the id to it on the server, and only a client holding it can take the id again,
   * also for a while after this one left (a reload). The app passes the same token across
   * reloads (storedPeerToken()); without one the client makes a fresh token, kept only as long
   * as this client object lives.
   */
  readonly token?: string;
  /** The WebSocket implementation; the global one when absent (browsers, Node 22+). */
  readonly WebSocket?: WebSocketConstructor;
  /**
   * Errors the server reported, and frames from it that could not be read. A refused join
   * (status() 'refused': 'peer-id-taken', 'room-full', 'server-full', ...) is retried with
   * backoff, since most refusals pass (a room or server frees up, a binding expires); the app may
   * instead close this client and start one with another id. After 'peer-id-replaced' (a newer
   * client with the same token took the id) it stops: two clients fighting over one id helps no one.
   */
  readonly onError?: (error: SignalingError) => void;
  readonly timing?: Partial<SignalingClientTiming>;
  /** A float in [0, 1) for backoff jitter. */
  readonly random?: () => number;
}

export interface SignalingClientTiming {
  /** Period of app-level pings while connected. */
  pingIntervalMs: number;
  /** Nothing heard from the server for this long: the connection is dead, reconnect. */
  silenceTimeoutMs: number;
  /** First reconnection delay; it doubles with each failed attempt. */
  reconnectMinDelayMs: number;
  /** Longest reconnection delay. */
  reconnectMaxDelayMs: number;
}

export const DEFAULT_SIGNALING_CLIENT_TIMING: Readonly<SignalingClientTiming> = Object.freeze({
  pingIntervalMs: 10_000, // Well inside the 30-60 s idle timeouts of common proxies and NATs.
  silenceTimeoutMs: 25_000, // Two and a half pings unanswered: a half-open TCP connection, not a slow one.
  reconnectMinDelayMs: 500, // A restarting server is back in about a second; come back soon after.
  reconnectMaxDelayMs: 10_000, // A long outage costs each tab one attempt per ~10 s, and recovery within 10 s.
});

/** The signaling endpoint of the server that served the page at `location`. */
export function signalingUrl(location: { readonly protocol: string; readonly host: string }): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${SIGNAL_PATH}`;
}

/** Where the client stands with the server, for a page to show and explain. */
export type SignalingState = 'connected' | 'connecting' | 'refused' | 'unreachable';

export interface SignalingStatus {
  readonly state: SignalingState;
  /** With 'refused': the server's reason. */
  readonly code?: RefusalCode;
  /** With 'refused' or 'unreachable': a sentence a person can act on. */
  readonly message?: string;
}

/** A fresh peer token: 32 random bytes (256 bits), base64url. */
export function newPeerToken(getRandomValues: (bytes: Uint8Array) => Uint8Array = (bytes) => globalThis.crypto.getRandomValues(bytes)): string {
  const bytes = getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The part of `window.localStorage` storedPeerToken uses. */
export interface TokenStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/**
 * The peer token of a node id, from `store` (localStorage in the browser), made and kept there on
 * first use. Kept per node id and in localStorage, not per tab: a replica (its node id and
 * database) that another tab of the same browser adopts later must bring its token along, or
 * that tab would be refused its own id until the server forgot the binding. Without storage
 * (private modes that throw), a fresh token: the id is then protected until the page goes away.
 */
export function storedPeerToken(nodeId: string, store: TokenStore | undefined = defaultTokenStore()): string {
  const key = `engram-mesh:signaling-token:${nodeId}`;
  try {
    const stored = store?.getItem(key) ?? null;
    if (stored !== null && isPeerToken(stored)) return stored;
    const token = newPeerToken();
    store?.setItem(key, token);
    return token;
  } catch {
    return newPeerToken();
  }
}

function defaultTokenStore(): TokenStore | undefined {
  try {
    return (globalThis as { localStorage?: TokenStore }).localStorage;
  } catch {
    return undefined; // some browsers throw on mere access when storage is disabled
  }
}

/** WebSocket.OPEN, which not every implementation exposes as a static. */
const OPEN = 1;

type Listeners = { [K in keyof SignalerEvents]: Set<SignalerEvents[K]> };

export class SignalingClient implements Signaler {
  readonly selfId: string;
  private readonly url: string;
  private readonly room: string;
  private readonly token: string;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly onError: (error: SignalingError) => void;
  private readonly timing: SignalingClientTiming;
  private readonly random: () => number;
  private readonly listeners: Listeners = {
    signal: new Set(),
    peers: new Set(),
    'peer-joined': new Set(),
    'peer-left': new Set(),
    status: new Set(),
  };

  private readonly statusListeners = new Set<(status: SignalingStatus) => void>();

  private socket: WebSocketLike | undefined;
  private joined = false;
  private closed = false;
  private currentStatus: SignalingStatus = { state: 'connecting' };
  /** The server refused the current socket (its error frame came before its close). */
  private refusedThisSocket = false;
  /** Connections since the last successful join: the backoff exponent. */
  private failedAttempts = 0;
  private lastHeardMs = 0;
  private livenessTimer: ReturnType<typeof setInterval> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;

  /** Connects at once; listeners registered right after construction miss nothing. */
  constructor(options: SignalingClientOptions) {
    if (!ROOM_PATTERN.test(options.room)) {
      throw new EngramError('invalid-argument', `room must be 1-64 characters of A-Z a-z 0-9 _ -, got ${JSON.stringify(options.room)}`);
    }
    if (!isPeerId(options.peerId)) {
      throw new EngramError('invalid-argument', `peer id must be 1-128 characters of A-Z a-z 0-9 _ . : -, got ${JSON.stringify(options.peerId)}`);
    }
    if (options.token !== undefined && !isPeerToken(options.token)) {
      throw new EngramError('invalid-argument', 'token must be 22-128 characters of A-Z a-z 0-9 _ - (see newPeerToken())');
    }
    const WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (WebSocketImpl === undefined) {
      throw new EngramError('invalid-argument', 'no WebSocket implementation here: pass options.WebSocket');
    }
    this.selfId = options.peerId;
    this.url = options.url;
    this.room = options.room;
    this.token = options.token ?? newPeerToken();
    this.WebSocketImpl = WebSocketImpl;
    this.onError = options.onError ?? (() => undefined);
    this.timing = { ...DEFAULT_SIGNALING_CLIENT_TIMING, ...options.timing };
    this.random = options.random ?? Math.random;
    this.connect();
  }

  /** Best effort: dropped while not joined (the transport retries connection setup itself). */
  send(to: string, data: unknown): void {
    if (!isPeerId(to)) {
      this.onError({ code: 'bad-message', message: `cannot signal ${JSON.stringify(to)}: not a peer id` });
      return;
    }
    const size = signalDataBytes(data);
    if (!size.ok) {
      this.onError(size.error);
      return;
    }
    if (this.joined) this.transmit({ type: 'signal', to, data });
  }

  on<K extends keyof SignalerEvents>(event: K, listener: SignalerEvents[K]): () => void {
    const listeners = this.listeners[event] as Set<SignalerEvents[K]>;
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  }

  /** Where the client stands: connected (joined), connecting, refused (with the server's reason) or unreachable. */
  status(): SignalingStatus {
    return this.currentStatus;
  }

  /** Calls `listener` on every change of status(); returns the unsubscribe. */
  onStatusChange(listener: (status: SignalingStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => {
      this.statusListeners.delete(listener);
    };
  }

  /** Leaves the room and stops reconnecting, for good. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    if (this.joined) this.transmit({ type: 'leave' });
    this.disconnect();
    if (this.currentStatus.state !== 'refused') this.setStatus({ state: 'unreachable', message: 'this signaling client was closed' });
  }

  private connect(): void {
    this.reconnectTimer = undefined;
    const socket = new this.WebSocketImpl(this.url);
    this.socket = socket;
    this.refusedThisSocket = false;
    this.lastHeardMs = performance.now();
    // Every handler checks that its socket is still the current one: a replaced socket's late
    // events must not touch the state of its successor.
    socket.addEventListener('open', () => {
      if (this.socket === socket) this.transmit({ type: 'join', room: this.room, peerId: this.selfId, token: this.token });
    });
    socket.addEventListener('message', (event) => {
      if (this.socket !== socket) return;
      this.lastHeardMs = performance.now();
      if (typeof event.data !== 'string') {
        this.onError({ code: 'binary-frame', message: 'the server sent a binary frame' });
        return;
      }
      const parsed = parseServerMessage(event.data);
      if (parsed.ok) this.handle(parsed.message);
      else this.onError(parsed.error);
    });
    // 'error' is always followed by 'close', which does the work.
    socket.addEventListener('error', () => undefined);
    socket.addEventListener('close', () => {
      if (this.socket !== socket) return;
      this.noteUnreachable(`the signaling server at ${this.url} closed the connection or cannot be reached; retrying`);
      this.reconnect();
    });
    // Started before 'open' so that a connection attempt that hangs is abandoned too.
    this.livenessTimer = setInterval(() => {
      if (performance.now() - this.lastHeardMs > this.timing.silenceTimeoutMs) {
        this.noteUnreachable(`the signaling server at ${this.url} has not answered for ${Math.round(this.timing.silenceTimeoutMs / 1000)} s; retrying`);
        this.reconnect();
      } else if (socket.readyState === OPEN) this.transmit({ type: 'ping' });
    }, this.timing.pingIntervalMs);
  }

  private handle(message: ServerMessage): void {
    switch (message.type) {
      case 'joined':
        this.failedAttempts = 0;
        this.joined = true;
        this.setStatus({ state: 'connected' });
        this.emit('status', true);
        this.emit('peers', [...message.peers]);
        return;
      case 'peer-joined':
        if (this.joined) this.emit('peer-joined', message.peerId);
        return;
      case 'peer-left':
        if (this.joined) this.emit('peer-left', message.peerId);
        return;
      case 'signal':
        if (this.joined) this.emit('signal', message.from, message.data);
        return;
      case 'pong':
        return;
      case 'error':
        this.onError({ code: message.code, message: message.message });
        if (!isRefusalCode(message.code)) return;
        this.refusedThisSocket = true;
        this.setStatus({ state: 'refused', code: message.code, message: message.message });
        if (message.code === 'peer-id-replaced') {
          this.stop();
          return;
        }
        // A refused join leaves this connection useless: start over, with backoff.
        this.reconnect();
        return;
    }
  }

  /** A socket ended without a refusal: the server is unreachable (a refusal explains itself and stays shown). */
  private noteUnreachable(message: string): void {
    if (!this.refusedThisSocket && !this.closed) this.setStatus({ state: 'unreachable', message });
  }

  /** Stops for good without a leave (the server has already taken the id away). */
  private stop(): void {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.disconnect();
  }

  private setStatus(status: SignalingStatus): void {
    this.currentStatus = status;
    for (const listener of [...this.statusListeners]) listener(status);
  }

  private reconnect(): void {
    this.disconnect();
    if (this.closed) return;
    // Exponential backoff with +-25% jitter, so tabs that lost the server together do not all
    // come back in the same instant.
    const ceilingMs = Math.min(
      this.timing.reconnectMaxDelayMs,
      this.timing.reconnectMinDelayMs * 2 ** Math.min(this.failedAttempts, 30),
    );
    const delayMs = Math.min(this.timing.reconnectMaxDelayMs, ceilingMs * (0.75 + 0.5 * this.random()));
    this.failedAttempts++;
    this.reconnectTimer = setTimeout(() => this.connect(), delayMs);
  }

  /** Drops the current socket (if any) and reports the loss of a joined connection. */
  private disconnect(): void {
    clearInterval(this.livenessTimer);
    this.livenessTimer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    // CONNECTING sockets can be closed too: the browser aborts the handshake.
    socket?.close(1000, this.closed ? 'leaving' : 'reconnecting');
    if (this.joined) {
      this.joined = false;
      // Lost a joined connection: reconnecting, unless the reason is already known (a refusal).
      if (this.currentStatus.state === 'connected') this.setStatus({ state: 'connecting' });
      this.emit('status', false);
    }
  }

  private transmit(message: ClientMessage): void {
    if (this.socket?.readyState === OPEN) this.socket.send(encodeSignalingMessage(message));
  }

  private emit<K extends keyof SignalerEvents>(event: K, ...args: Parameters<SignalerEvents[K]>): void {
    for (const listener of [...this.listeners[event]]) {
      (listener as (...listenerArgs: Parameters<SignalerEvents[K]>) => void)(...args);
    }
  }
}
