/**
 * The page of this repository's app: reads the room from the URL, opens the tab's node with the
 * package's own `openBrowserNode`, exposes it as `window.engram` and mounts the Lit console.
 * It uses only the package's public entry points (src/index.ts = `engram-mesh`, src/ui/index.ts
 * = `engram-mesh/ui`), as any other app would.
 * URL: ?room=NAME (default "lobby"), #SECRET (the room secret; the fragment never reaches the
 * server), optional ?ice=<JSON array of RTCIceServer> for STUN/TURN across networks.
 */
import { openBrowserNode, ROOM_PATTERN, signalingUrl, type BrowserNode } from '../index.js';
import '../ui/index.js';

declare global {
  interface Window {
    engram?: BrowserNode;
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

async function boot(): Promise<BrowserNode> {
  const config = readPageConfig(window.location);
  const handle = await openBrowserNode({
    room: config.room,
    ...(config.secret ? { secret: config.secret } : {}),
    signalingUrl: signalingUrl(window.location),
    iceServers: config.iceServers,
  });
  window.addEventListener('pagehide', () => void handle.close());
  return handle;
}

boot().then(
  (handle) => {
    window.engram = handle;
    const app = document.querySelector('engram-app') ?? document.body.appendChild(document.createElement('engram-app'));
    (app as HTMLElement & { handle?: BrowserNode }).handle = handle;
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
