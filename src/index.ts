/**
 * `engram-mesh`: the package's browser entry. `openBrowserNode` is a tab as a node in one call;
 * the rest is for apps that bring their own transport, storage or wiring: the node, the ports
 * it runs on, the adapters this package has, and the errors it throws.
 */
export { openBrowserNode, type BrowserNode, type BrowserNodeOptions } from './browser/open-browser-node.js';
export { PageHandle, type BrowserNodeEvents, type Faults } from './browser/page-handle.js';
export { FaultTransport, type FaultStats } from './browser/fault-transport.js';
export { browserScheduler, CryptoRandom } from './browser/platform.js';

export { EngramNode, type EngramEvents, type EngramNodeOptions, type Resolution, type RecallItem, type RecallQuery, type RecallResult } from './core/node.js';
export { DEFAULT_CONFIG, resolveConfig, type EngramConfig } from './core/config.js';
export { DecodeError, EngramError, type DecodeErrorCode, type EngramErrorCode } from './core/errors.js';
export type { Lane, Random, Scheduler, Storage, StorageBatch, TimerHandle, Transport } from './core/ports.js';
export type { Dot, GenerationEntry, Member, MemberState, MemoryContent, MemoryId, MemoryRecord, NodeId, NodeState, Version, VersionVector, Visibility } from './core/types.js';
export type { Conflict } from './core/merge.js';
export type { HealProgress, HealReport } from './core/heal.js';
export { SeededRandom } from './core/random.js';

export { MemoryStorage, type MemoryStorageOptions } from './store/memory-storage.js';
export { IndexedDbStorage, databaseName } from './store/indexeddb-storage.js';
export { claimNodeId, browserIdentityEnvironment, type NodeIdentity } from './store/node-identity.js';

export type { Signaler, SignalerEvents } from './net/signaler.js';
export { MemorySignalingHub, MemorySignaler } from './net/memory-signaler.js';
export { SignalingClient, signalingUrl, type SignalingClientOptions } from './net/signaling-client.js';
export { ROOM_PATTERN, type SignalingError, type SignalingErrorCode } from './net/signaling-protocol.js';
export { WebRtcTransport, type WebRtcTransportOptions, type SimplePeerConstructor } from './net/webrtc-transport.js';
export { PeerAuthError, type PeerAuthErrorCode } from './net/peer-auth.js';

export type { EngramEvent, EngramEventKind, EngramHandle, HealStatus, LinkInfo, LinkState } from './ui/engram-handle.js';
