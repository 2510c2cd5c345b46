/**
 * The signaling protocol between a tab and the signaling server: JSON text frames over one
 * WebSocket at SIGNAL_PATH. The server only introduces peers of a room to each other and relays
 * their WebRTC offers, answers and ICE candidates; it never sees room secrets (peers prove them
 * to each other over the data channel). Pure: types, limits and validators, no I/O, shared by the
 * server (signaling/server.ts) and the browser client (signaling-client.ts).
 */

export const SIGNAL_PATH = '/signal';

/** Room names travel in URLs and logs: a safe alphabet and a bounded length. */
export const ROOM_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Peer ids are chosen by tabs (random ids, possibly `host:port`-like): bounded, no spaces or quotes. */
export const PEER_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
/**
 * A peer token: the credential that makes a peer id the sender's (see JoinMessage.token).
 * base64url; at least 22 characters, i.e. 128 random bits, so it cannot be guessed online.
 */
export const PEER_TOKEN_PATTERN = /^[A-Za-z0-9_-]{22,128}$/;

/** Largest relayed signal payload (its compact JSON, UTF-8). An SDP offer is 2-6 KB; 64 KiB is ample. */
export const MAX_SIGNAL_DATA_BYTES = 64 * 1024;
/** Largest frame either side accepts: a full signal plus its envelope (type, a 128-char peer id, quotes). */
export const MAX_FRAME_BYTES = MAX_SIGNAL_DATA_BYTES + 1024;

// ---- client → server ----

export interface JoinMessage {
  readonly type: 'join';
  readonly room: string;
  readonly peerId: string;
  /**
   * The joiner's credential for `peerId`. The first join of an id with a token binds the id to
   * that token; while the binding lasts (the holder is connected, and for a while after it
   * left), only a join with the same token gets the id, and such a join replaces a connection
   * of the same token that still holds it (a reload whose old socket the server has not seen
   * close). A join without a token is accepted only for an id nobody holds or has bound, and
   * binds nothing: anyone can take such an id once it is free.
   */
  readonly token?: string;
}
/** Relays `data` (a simple-peer signal object) to the peer `to` of the sender's room. */
export interface SignalToMessage {
  readonly type: 'signal';
  readonly to: string;
  readonly data: unknown;
}
export interface LeaveMessage {
  readonly type: 'leave';
}
/** Application heartbeat: browsers cannot see WebSocket-level pings, so they ping in JSON. */
export interface PingMessage {
  readonly type: 'ping';
}
export type ClientMessage = JoinMessage | SignalToMessage | LeaveMessage | PingMessage;

// ---- server → client ----

export interface JoinedMessage {
  readonly type: 'joined';
  readonly room: string;
  readonly peerId: string;
  /** The other peers already in the room (the joiner excluded). */
  readonly peers: readonly string[];
}
export interface PeerJoinedMessage {
  readonly type: 'peer-joined';
  readonly peerId: string;
}
export interface PeerLeftMessage {
  readonly type: 'peer-left';
  readonly peerId: string;
}
export interface SignalFromMessage {
  readonly type: 'signal';
  readonly from: string;
  readonly data: unknown;
}
export interface PongMessage {
  readonly type: 'pong';
}
export interface ErrorMessage {
  readonly type: 'error';
  readonly code: SignalingErrorCode;
  readonly message: string;
}
export type ServerMessage =
  | JoinedMessage
  | PeerJoinedMessage
  | PeerLeftMessage
  | SignalFromMessage
  | PongMessage
  | ErrorMessage;

export const SIGNALING_ERROR_CODES = [
  /** The frame is not JSON. */
  'bad-json',
  /** JSON, but not a message of the protocol (unknown type, missing or mistyped field, bad room name). */
  'bad-message',
  /** The frame or the signal data is over its size limit. */
  'too-large',
  /** A binary frame: the protocol is text only. */
  'binary-frame',
  /** The connection sends faster than its rate limit; the message was dropped. */
  'rate-limited',
  /** `signal` or `leave` before a successful `join`. */
  'not-joined',
  /** `signal` to a peer that is not (or no longer) in the room. Normal when a peer just left. */
  'unknown-peer',
  /** Another connection that joined without a token holds this peer id in the room: pick a new id (or wait for it to leave). */
  'duplicate-peer',
  /** The peer id is bound to another token (held now, or released recently): only its owner can take it. */
  'peer-id-taken',
  /** Another connection proved it owns this connection's peer id (the same token) and took it: this one is out. */
  'peer-id-replaced',
  /** The room has reached its peer limit. */
  'room-full',
  /** The server has reached its room or connection limit. */
  'server-full',
  /** The client's address has reached its share of connections. */
  'too-many-connections',
  /** The client's address is in as many rooms as it may be. */
  'too-many-rooms',
  /** The page's web origin may not use this server (see the server's --allow-origin). */
  'origin-not-allowed',
] as const;
export type SignalingErrorCode = (typeof SIGNALING_ERROR_CODES)[number];

/**
 * The codes that refuse a connection or a join (the rest refuse one frame): a client that gets
 * one is not in its room, and a page can tell its user why.
 */
export const REFUSAL_CODES = [
  'origin-not-allowed',
  'server-full',
  'too-many-connections',
  'too-many-rooms',
  'room-full',
  'peer-id-taken',
  'duplicate-peer',
  'peer-id-replaced',
] as const satisfies readonly SignalingErrorCode[];
export type RefusalCode = (typeof REFUSAL_CODES)[number];

export function isRefusalCode(code: SignalingErrorCode): code is RefusalCode {
  return (REFUSAL_CODES as readonly string[]).includes(code);
}

/** Why a frame was refused: the same code and message the server sends back in an error frame. */
export interface SignalingError {
  readonly code: SignalingErrorCode;
  readonly message: string;
}

export type ParseResult<T> = { readonly ok: true; readonly message: T } | { readonly ok: false; readonly error: SignalingError };

/** Encodes a message as the JSON text of one frame. */
export function encodeSignalingMessage(message: ClientMessage | ServerMessage): string {
  return JSON.stringify(message);
}

/**
 * Reads one client frame. Never throws: anything that is not a well-formed client message comes
 * back as a typed error. Unknown extra fields are dropped, so nothing but the protocol's own
 * fields is ever relayed to another peer.
 */
export function parseClientMessage(text: string): ParseResult<ClientMessage> {
  const object = parseObject(text);
  if (!object.ok) return object;
  const fields = object.message;
  switch (fields.type) {
    case 'join': {
      const room = fields.room;
      const peerId = fields.peerId;
      if (typeof room !== 'string' || !ROOM_PATTERN.test(room)) {
        return fail('bad-message', 'join.room must be 1-64 characters of A-Z a-z 0-9 _ -');
      }
      if (!isPeerId(peerId)) return fail('bad-message', 'join.peerId must be 1-128 characters of A-Z a-z 0-9 _ . : -');
      const token = fields.token;
      if (token === undefined) return ok({ type: 'join', room, peerId });
      if (!isPeerToken(token)) return fail('bad-message', 'join.token must be 22-128 characters of A-Z a-z 0-9 _ -');
      return ok({ type: 'join', room, peerId, token });
    }
    case 'signal': {
      const to = fields.to;
      if (!isPeerId(to)) return fail('bad-message', 'signal.to must be a peer id');
      const data = checkSignalData(fields);
      if (!data.ok) return data;
      return ok({ type: 'signal', to, data: data.message });
    }
    case 'leave':
      return ok({ type: 'leave' });
    case 'ping':
      return ok({ type: 'ping' });
    default:
      return fail('bad-message', `unknown message type ${describeType(fields.type)}`);
  }
}

/** Reads one server frame (the client's side of the same contract). Never throws. */
export function parseServerMessage(text: string): ParseResult<ServerMessage> {
  const object = parseObject(text);
  if (!object.ok) return object;
  const fields = object.message;
  switch (fields.type) {
    case 'joined': {
      const { room, peerId, peers } = fields;
      if (typeof room !== 'string' || !ROOM_PATTERN.test(room)) return fail('bad-message', 'joined.room is not a room name');
      if (!isPeerId(peerId)) return fail('bad-message', 'joined.peerId is not a peer id');
      if (!Array.isArray(peers) || !peers.every(isPeerId)) return fail('bad-message', 'joined.peers must be a list of peer ids');
      return ok({ type: 'joined', room, peerId, peers: peers.slice() });
    }
    case 'peer-joined':
    case 'peer-left': {
      const peerId = fields.peerId;
      if (!isPeerId(peerId)) return fail('bad-message', `${fields.type}.peerId is not a peer id`);
      return ok({ type: fields.type, peerId });
    }
    case 'signal': {
      const from = fields.from;
      if (!isPeerId(from)) return fail('bad-message', 'signal.from must be a peer id');
      const data = checkSignalData(fields);
      if (!data.ok) return data;
      return ok({ type: 'signal', from, data: data.message });
    }
    case 'pong':
      return ok({ type: 'pong' });
    case 'error': {
      const { code, message } = fields;
      if (!isErrorCode(code)) return fail('bad-message', `unknown error code ${describeType(code)}`);
      if (typeof message !== 'string') return fail('bad-message', 'error.message must be a string');
      return ok({ type: 'error', code, message });
    }
    default:
      return fail('bad-message', `unknown message type ${describeType(fields.type)}`);
  }
}

export function isPeerId(value: unknown): value is string {
  return typeof value === 'string' && PEER_ID_PATTERN.test(value);
}

export function isPeerToken(value: unknown): value is string {
  return typeof value === 'string' && PEER_TOKEN_PATTERN.test(value);
}

export function isErrorCode(value: unknown): value is SignalingErrorCode {
  return typeof value === 'string' && (SIGNALING_ERROR_CODES as readonly string[]).includes(value);
}

/** UTF-8 length of a string, without allocating the encoding. */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** Size of `data` as it will be relayed (compact JSON), or an error if it cannot be relayed. */
export function signalDataBytes(data: unknown): ParseResult<number> {
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch {
    // JSON.parse accepts nesting that JSON.stringify cannot walk back (stack overflow): refuse it.
    return fail('bad-message', 'signal.data nests too deeply');
  }
  if (json === undefined) return fail('bad-message', 'signal.data is missing');
  const bytes = utf8ByteLength(json);
  if (bytes > MAX_SIGNAL_DATA_BYTES) {
    return fail('too-large', `signal.data is ${bytes} bytes; the limit is ${MAX_SIGNAL_DATA_BYTES}`);
  }
  return ok(bytes);
}

function checkSignalData(fields: Record<string, unknown>): ParseResult<unknown> {
  if (!Object.hasOwn(fields, 'data')) return fail('bad-message', 'signal.data is missing');
  const data = fields.data;
  const size = signalDataBytes(data);
  if (!size.ok) return size;
  return ok(data);
}

function parseObject(text: string): ParseResult<Record<string, unknown>> {
  if (utf8ByteLength(text) > MAX_FRAME_BYTES) {
    return fail('too-large', `frame is over ${MAX_FRAME_BYTES} bytes`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail('bad-json', 'frame is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('bad-message', 'a message must be a JSON object with a "type"');
  }
  return ok(value as Record<string, unknown>);
}

function describeType(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 32));
  return `(${value === null ? 'null' : typeof value})`;
}

function ok<T>(message: T): ParseResult<T> {
  return { ok: true, message };
}

function fail(code: SignalingErrorCode, message: string): { readonly ok: false; readonly error: SignalingError } {
  return { ok: false, error: { code, message } };
}
