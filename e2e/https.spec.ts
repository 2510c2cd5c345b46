/**
 * `npm start -- --tls-cert c.pem --tls-key k.pem`: the server serves the UI over https and
 * signaling over wss, and two Chromium tabs opened there form a mesh and replicate. It listens on
 * loopback: this machine's own LAN address is not a traffic target here (only loopback and the
 * test's own namespaces are); the plain-http LAN case, where a page is not a secure context, is
 * e2e/lan.spec.ts in namespaces. The certificate is self-signed and made for this test, so the
 * browser is told to accept it, as a person accepts a mkcert or self-signed certificate once.
 */
import { expect, test } from '@playwright/test';
import { startServer } from '../signaling/server.js';
import { selfSignedCertificate } from '../test/self-signed-cert.js';
import { openNode, quietLog, waitForConvergence, waitForVisibility } from './cluster.js';

test('two tabs on https (UI) and wss (signaling) form a mesh and replicate', async ({ browser }) => {
  const address = '127.0.0.1';
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
