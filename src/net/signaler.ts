/**
 * How a transport finds peers and exchanges WebRTC offers, answers and ICE candidates with them.
 * The browser implements it over the signaling server's WebSocket (signaling-client.ts); tests
 * implement it in memory. Contract: best effort — a signal may be lost while the server is away;
 * the transport retries connection setup itself.
 */
export interface SignalerEvents {
  /** A signal (simple-peer signal data) from another peer of the room. */
  signal: (from: string, data: unknown) => void;
  /** The full list of other peers in the room, on every (re)join. */
  peers: (peerIds: string[]) => void;
  'peer-joined': (peerId: string) => void;
  'peer-left': (peerId: string) => void;
  /** Connection to the signaling service went up (true) or down (false). */
  status: (connected: boolean) => void;
}

export interface Signaler {
  readonly selfId: string;
  send(to: string, data: unknown): void;
  on<K extends keyof SignalerEvents>(event: K, listener: SignalerEvents[K]): () => void;
  close(): void;
}
