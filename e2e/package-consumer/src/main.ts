// An app of its own that embeds engram-mesh: this tab is a node of the room named in the URL.
import { openBrowserNode, type BrowserNode } from 'engram-mesh';
import 'engram-mesh/ui'; // registers <engram-visibility-gauge> and the other components

declare global {
  interface Window {
    engram?: BrowserNode; // for scripts and tests (engram-mesh/testing uses it for soft cuts)
  }
}

const room = new URLSearchParams(location.search).get('room') ?? 'notes';
const status = document.querySelector('#status')!;
const gauge = document.querySelector('engram-visibility-gauge') as HTMLElement & { visibility?: unknown };

openBrowserNode({
  room,
  secret: location.hash.slice(1) || undefined, // the fragment never reaches the server
  signalingUrl: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/signal`,
}).then(
  (node) => {
    window.engram = node;
    const show = () => {
      const { visible, total } = node.visibility();
      status.textContent = `node ${node.id}: ${visible} of ${total} members visible`;
      gauge.visibility = node.visibility();
    };
    node.on('visibility', show);
    node.on('write', ({ id, local }) => console.log(`${local ? 'wrote' : 'received'} ${id}`));
    show();
  },
  (error: unknown) => (status.textContent = `could not start: ${String(error)}`),
);
