/**
 * A browser tab as a running Engram node, in one call: the tab's node id, its memories in
 * IndexedDB, peers found through a signaling server, data over authenticated WebRTC data
 * channels, and each peer handed to the node once its link is open. This is what the app in
 * this repository runs on (src/app/main.ts) and what `import { openBrowserNode } from
 * 'engram-mesh'` gives other apps.
 */
import SimplePeer from 'simple-peer/simplepeer.min.js';
import type { EngramConfig } from '../core/config.js';
import { EngramError } from '../core/errors.js';
import { EngramNode } from '../core/node.js';
import type { NodeId } from '../core/types.js';
import { SignalingClient, signalingUrl as sameOriginSignalingUrl, storedPeerToken } from '../net/signaling-client.js';
import { ROOM_PATTERN } from '../net/signaling-protocol.js';
import { WebRtcTransport } from '../net/webrtc-transport.js';
import { IndexedDbStorage } from '../store/indexeddb-storage.js';
import { browserReplicaEnvironment, claimReplica } from '../store/replica-claim.js';
import { StorageHealth } from '../store/storage-health.js';
import { FaultTransport } from './fault-transport.js';
import { PageHandle } from './page-handle.js';
import { browserScheduler, CryptoRandom } from './platform.js';

/** The running node `openBrowserNode` resolves to (the same object the app exposes as `window.engram`). */
export type BrowserNode = PageHandle;

export interface BrowserNodeOptions {
  /** The room to join: 1-64 characters of A-Z a-z 0-9 _ -. Only tabs in the same room form a cluster. */
  readonly room: string;
  /**
   * The room secret. Peers prove to each other that they know it before any data flows, so
   * neither the signaling server nor a stranger who knows the room name can join or read.
   * Without it, anyone who knows the room name can join.
   */
  readonly secret?: string;
  /**
   * The signaling server's WebSocket URL, e.g. `wss://signal.example/signal`. Default: `/signal`
   * on the page's own origin (where `engram-signaling --static DIR` serves the app).
   */
  readonly signalingUrl?: string;
  /** STUN/TURN servers for peers on other networks; tabs on one host or LAN need none. */
  readonly iceServers?: RTCIceServer[];
  /** Overrides of the node's tunables (periods, timeouts, fan-outs); see `DEFAULT_CONFIG`. */
  readonly config?: Partial<EngramConfig>;
  /** Where signaling problems are reported; console.warn by default. The client reconnects by itself. */
  readonly onSignalingError?: (error: { code: string; message: string }) => void;
}

/**
 * Opens this tab's node and joins the room. Resolves once the node runs (it finds its peers
 * afterwards: watch `visibility()` or `on('membership', …)`); rejects with
 * `EngramError('invalid-argument')` for a bad room or URL, or with the storage's error.
 */
export async function openBrowserNode(options: BrowserNodeOptions): Promise<BrowserNode> {
  if (!ROOM_PATTERN.test(options.room)) {
    throw new EngramError('invalid-argument', `room must be 1-64 characters of A-Z a-z 0-9 _ -, got ${JSON.stringify(options.room)}`);
  }
  const url = options.signalingUrl ?? sameOriginSignalingUrl(window.location);
  if (!/^wss?:\/\//.test(url)) throw new EngramError('invalid-argument', `signalingUrl must be a ws:// or wss:// URL, got ${JSON.stringify(url)}`);

  // ---- Which replica this tab runs as (replica-claim.ts): its own id on a reload, else one a
  // closed tab left (so memories outlive their tab), else a new one. ----
  const identity = await claimReplica(browserReplicaEnvironment(), options.room);
  const nodeId: NodeId = identity.nodeId;

  const opened: { close(): void }[] = [];
  try {
    // The health monitor tells a full store from a broken one and notices a vanished database;
    // it asks for persistent storage in the background, since the answer may wait on a prompt.
    const health = new StorageHealth(globalThis.navigator?.storage);
    // The first figures before the node's start commit, so a store already full is told apart.
    await health.refreshEstimate();
    void health.requestPersistence();
    const storage = await IndexedDbStorage.open(identity.databaseName, { health });
    opened.push(storage);
    const signaling = new SignalingClient({
      url,
      room: options.room,
      peerId: nodeId,
      token: storedPeerToken(nodeId), // localStorage, per node id: the token travels with the replica to whichever tab runs it
      onError: options.onSignalingError ?? ((error) => console.warn(`signaling: ${error.code}: ${error.message}`)),
    });
    opened.push(signaling);
    // The client may join before the handle exists: track its status from the start.
    const signalingStatus = { connected: false };
    signaling.on('status', (connected) => (signalingStatus.connected = connected));
    const random = new CryptoRandom();
    const rtc = new WebRtcTransport({
      signaler: signaling,
      room: options.room,
      ...(options.secret ? { secret: options.secret } : {}),
      SimplePeer,
      iceServers: options.iceServers ?? [],
      scheduler: browserScheduler,
      random,
    });
    opened.unshift(rtc);
    // Soft faults (window.engram.faults, the partition harness's soft mode) sit between node and network.
    const transport = new FaultTransport(rtc, browserScheduler, () => random.next());
    const node = await EngramNode.open({
      id: nodeId,
      transport,
      storage,
      scheduler: browserScheduler,
      random,
      ...(options.config ? { config: options.config } : {}),
    });
    node.start([]);
    // Peers come from the signaling server; a peer is contacted once its authenticated link is
    // open. Without this the node never learns of anyone and stays at 1 of 1.
    rtc.on('link', (peer, state) => {
      if (state === 'open') node.addPeers([peer]);
    });
    // Page lifecycle (Energy Saver, mobile): a tab about to be frozen says so, and peers keep its
    // link and show it sleeping; on resume it rejoins and heals at once. A tab frozen without
    // these events is handled as a crash, and refutes and heals when it comes back.
    document.addEventListener('freeze', () => node.suspend());
    document.addEventListener('resume', () => node.resume());
    node.on('membership', ({ member }) => rtc.holdSilentPeer(member.id, member.state === 'sleeping'));
    // Replicas no tab adopted for a long time are merged into this one and deleted, in the
    // background: the node answers meanwhile, and healing spreads what they held.
    const handle = new PageHandle(
      options.room,
      node,
      rtc,
      transport,
      signaling,
      signalingStatus,
      () => {
        for (const resource of opened) resource.close();
        identity.release();
      },
      health,
    );
    // Folded replicas open without the health monitor: deleting one once folded is not this
    // tab's database vanishing. Their failures reach the page like every background failure.
    void identity.foldIdle({ absorb: (records) => node.absorb(records), openStorage: (name) => IndexedDbStorage.open(name) }).then(
      (report) => {
        for (const { nodeId: idle, error } of report.failed) {
          handle.reportProblem('replica-fold', new Error(`Could not fold the idle replica ${idle} into this tab: ${error.message}`));
        }
      },
      (error: unknown) => handle.reportProblem('replica-fold', new Error(`Could not fold idle replicas into this tab: ${error instanceof Error ? error.message : String(error)}`)),
    );
    return handle;
  } catch (error) {
    for (const resource of opened.reverse()) resource.close();
    identity.release();
    throw error;
  }
}
