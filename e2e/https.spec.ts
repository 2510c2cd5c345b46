/**
 * `npm start -- --tls-cert c.pem --tls-key k.pem` as a person on the LAN uses it: the server
 * serves the UI over https and signaling over wss on a non-loopback address of this machine
 * (where plain http would not be a secure context), and two Chromium tabs opened there form a
 * mesh and replicate. The certificate is self-signed and made for this test, so the browser is
 * told to accept it, as a person accepts a mkcert or self-signed certificate once.
 */
import { expect, test } from '@playwright/test';
import { listenUrls } from '../signaling/listen-urls.js';
import { startServer } from '../signaling/server.js';
import { selfSignedCertificate } from '../test/self-signed-cert.js';
import { openNode, quietLog, waitForConvergence, waitForVisibility } from './cluster.js';

/** A non-loopback IPv4 address of this machine, where a page is a secure context only over https. */
function lanAddress(): string | undefined {
  const url = listenUrls('http', '0.0.0.0', 1)[0];
  return url === undefined ? undefined : new URL(url).hostname;
}

test('two tabs on https (UI) and wss (signaling) form a mesh and replicate', async ({ browser }) => {
  const address = lanAddress() ?? '127.0.0.1';
  const certificate = selfSignedCertificate([address]);
  const server = await startServer({ port: 0, host: address, log: quietLog, tls: { cert: certificate.cert, key: certificate.key } });
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  try {
    expect(server.url).toBe(`https://${address}:${server.port}/`);
    const url = `${server.url}?room=https-${Date.now()}#tls-secret`;
    const nodes = [await openNode(context, url), await openNode(context, url)];
    for (const node of nodes) {
      expect(await node.page.evaluate(() => ({ secure: window.isSecureContext, subtle: typeof crypto.subtle, handle: window.engram!.secureContext })))
        .toEqual({ secure: true, subtle: 'object', handle: true });
      await waitForVisibility(node, 2, 2, 30_000);
    }
    // The signaling socket really is wss: the page connected through it to find its peer.
    expect(await nodes[0]!.page.evaluate(() => window.engram!.signalingConnected())).toBe(true);
    const written = await nodes[0]!.page.evaluate(async () => (await window.engram!.remember({ content: 'served over https' })).id);
    await expect.poll(() => nodes[1]!.page.evaluate(async () => (await window.engram!.recall({ text: 'https' })).results.map((r) => r.id)), { timeout: 15_000 })
      .toEqual([written]);
    await waitForConvergence(nodes, 15_000);
  } finally {
    await context.close();
    await server.close();
    certificate.remove();
  }
});
