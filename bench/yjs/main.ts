/**
 * The comparison peer of the benchmark: one Y.Map in a Y.Doc, replicated by y-webrtc, driven by
 * bench/peer-yjs.ts through `window.yjsBench`. URL: ?signaling=ws://host:port&room=NAME.
 *
 * Set up as y-webrtc's README does, with two changes that only make it comparable: no STUN
 * servers (the benchmark network has no internet, and our app gets none either) and no
 * BroadcastChannel filtering (each node is its own browser process; every peer is over WebRTC).
 */
import { WebrtcProvider } from 'y-webrtc';
import * as Y from 'yjs';

/** What the benchmark reads and does in the page. */
export interface YjsBench {
  /** True once the provider's room is open and the signaling socket is connected. */
  readonly ready: boolean;
  /**
   * Writes `count` distinct entries `${label}-${k}`, 50 per Y transaction: one transaction of
   * thousands of entries is one update bigger than a data-channel message, which never syncs.
   * Resolves with the number written.
   */
  write(count: number, label: string): Promise<number>;
  size(): number;
  /** An order-independent hash of the map's entries: equal on replicas with equal content. */
  digest(): string;
  /** Peers with an open WebRTC connection. */
  peers(): number;
}

declare global {
  interface Window {
    yjsBench?: YjsBench;
  }
}

const ENTRIES_PER_TRANSACTION = 50;

const params = new URLSearchParams(window.location.search);
const signalingUrl = params.get('signaling');
const room = params.get('room');
if (!signalingUrl || !room) throw new Error('yjs bench page needs ?signaling=ws://host:port&room=NAME');

const doc = new Y.Doc();
const entries = doc.getMap<string>('entries');
const provider = new WebrtcProvider(room, doc, {
  signaling: [signalingUrl],
  filterBcConns: false,
  peerOpts: { config: { iceServers: [] } },
});

/** FNV-1a, 32 bits: cheap, and enough to tell replicas apart. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

window.yjsBench = {
  get ready() {
    // y-webrtc types its signaling connections as any[]; each is a lib0 WebsocketClient.
    const signaling = provider.signalingConns as { connected: boolean }[];
    return provider.room !== null && signaling.length > 0 && signaling.every((connection) => connection.connected);
  },
  async write(count, label) {
    let written = 0;
    while (written < count) {
      const batchEnd = Math.min(count, written + ENTRIES_PER_TRANSACTION);
      doc.transact(() => {
        for (let k = written; k < batchEnd; k++) entries.set(`${label}-${k}`, `${label} ${k}`);
      });
      written = batchEnd;
      // A macrotask between transactions: the provider sends each update, and incoming messages are read.
      await yieldToEventLoop();
    }
    return written;
  },
  size: () => entries.size,
  digest() {
    // A sum and a xor of per-entry hashes: independent of iteration order, which differs between replicas.
    let sum = 0;
    let xor = 0;
    entries.forEach((value, key) => {
      const hash = fnv1a(`${key}\u0000${value}`);
      sum = (sum + hash) >>> 0;
      xor = (xor ^ hash) >>> 0;
    });
    return `${entries.size}:${sum.toString(16)}:${xor.toString(16)}`;
  },
  peers() {
    let open = 0;
    provider.room?.webrtcConns.forEach((connection) => {
      if (connection.connected) open++;
    });
    return open;
  },
};
