/**
 * The tab as a node: identity from sessionStorage, memories in IndexedDB, peers through the
 * signaling server, data over authenticated WebRTC data channels, and the Lit UI on top.
 * URL: ?room=NAME (default "lobby"), #SECRET (the room secret; the fragment never reaches the
 * server), optional ?ice=<JSON array of RTCIceServer> for STUN/TURN across networks.
 */
import SimplePeer from 'simple-peer/simplepeer.min.js';
import { EngramNode } from '../core/node.js';
import { ROOM_PATTERN } from '../net/signaling-protocol.js';
import { SignalingClient, signalingUrl, storedPeerToken } from '../net/signaling-client.js';
import { WebRtcTransport } from '../net/webrtc-transport.js';
import { databaseName, IndexedDbStorage } from '../store/indexeddb-storage.js';
import { browserIdentityEnvironment, claimNodeId } from '../store/node-identity.js';
import '../ui/engram-app.js';
import { FaultTransport } from './fault-transport.js';
import { PageHandle } from './page-handle.js';
import { browserScheduler, CryptoRandom } from './platform.js';

declare global {
  interface Window {
    engram?: PageHandle;
    engramError?: string;
  }
}

export interface PageConfig {
  readonly room: string;
  readonly secret: string | undefined;
  readonly iceServers: RTCIceServer[];
}

export function readPageConfig(location: Location): PageConfig {
  const params = new URLSearchParams(location.search);
  const room = params.get('room') ?? 'lobby';
  if (!ROOM_PATTERN.test(room)) throw new Error(`room must be 1-64 characters of A-Z a-z 0-9 _ -, got "${room}"`);
  const fragment = decodeURIComponent(location.hash.replace(/^#/, ''));
  const secret = fragment.startsWith('secret=') ? fragment.slice('secret='.length) : fragment;
  const ice = params.get('ice');
  const iceServers = ice ? (JSON.parse(ice) as RTCIceServer[]) : [];
  return { room, secret: secret.length > 0 ? secret : undefined, iceServers };
}

async function boot(): Promise<PageHandle> {
  const config = readPageConfig(window.location);
  const identity = await claimNodeId(browserIdentityEnvironment());
  const nodeId = identity.nodeId;
  const storage = await IndexedDbStorage.open(databaseName(config.room, nodeId));
  const signaling = new SignalingClient({
    url: signalingUrl(window.location),
    room: config.room,
    peerId: nodeId,
    token: storedPeerToken(nodeId), // localStorage, per node id: the token travels with the replica to whichever tab runs it
    onError: (error) => console.warn(`signaling: ${error.code}: ${error.message}`),
  });
  // The client may join before the page handle exists: track its status from the start.
  const signalingStatus = { connected: false };
  signaling.on('status', (connected) => (signalingStatus.connected = connected));
  const random = new CryptoRandom();
  const rtc = new WebRtcTransport({
    signaler: signaling,
    room: config.room,
    ...(config.secret ? { secret: config.secret } : {}),
    SimplePeer,
    iceServers: config.iceServers,
    scheduler: browserScheduler,
    random,
  });
  const transport = new FaultTransport(rtc, browserScheduler, () => random.next());
  const node = await EngramNode.open({ id: nodeId, transport, storage, scheduler: browserScheduler, random });
  node.start([]);
  // Peers come from the signaling server; a peer is contacted once its authenticated link is open.
  rtc.on('link', (peer, state) => {
    if (state === 'open') node.addPeers([peer]);
  });
  const handle = new PageHandle(config.room, node, rtc, transport, signaling, signalingStatus);
  window.addEventListener('pagehide', () => {
    void handle.leave();
    signaling.close();
    identity.release();
  });
  return handle;
}

boot().then(
  (handle) => {
    window.engram = handle;
    const app = document.querySelector('engram-app') ?? document.body.appendChild(document.createElement('engram-app'));
    (app as HTMLElement & { handle?: PageHandle }).handle = handle;
    document.documentElement.dataset.engramReady = 'true';
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    window.engramError = message;
    document.documentElement.dataset.engramReady = 'error';
    document.body.textContent = `Engram Mesh could not start: ${message}`;
    console.error(error);
  },
);
