/**
 * Signaling identity and refusals in a real browser: a tab's peer token lives in localStorage
 * under its node id and survives a reload, a raw client that knows the room and the id is
 * refused it after the reload, and a refusal reaches the page as a status with its reason code.
 */
import { expect, test } from '@playwright/test';
import WebSocket from 'ws';
import { startServer } from '../signaling/server.js';
import { openNode, quietLog } from './cluster.js';

/** A raw client's join of `peerId` without a token: the code of the server's answer. */
function rawJoin(url: string, room: string, peerId: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${url.replace(/^http/, 'ws')}signal`);
    socket.once('open', () => socket.send(JSON.stringify({ type: 'join', room, peerId })));
    socket.once('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { type: string; code?: string };
      socket.close();
      resolve(message.code ?? message.type);
    });
    socket.once('error', reject);
  });
}

test("a tab keeps its peer token across a reload, and a raw client that knows the room and the tab's id is refused it", async ({ browser }) => {
  const server = await startServer({ port: 0, host: '127.0.0.1', log: quietLog });
  const context = await browser.newContext();
  try {
    const room = 'identity';
    const tab = await openNode(context, `${server.url}?room=${room}`);
    await expect.poll(() => tab.page.evaluate(() => window.engram!.signalingStatus().state)).toBe('connected');
    const tokenKey = `engram-mesh:signaling-token:${tab.id}`;
    const token = await tab.page.evaluate((key) => localStorage.getItem(key), tokenKey);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);

    await tab.page.reload();
    await tab.page.waitForFunction(() => document.documentElement.dataset.engramReady === 'true');
    expect(await tab.page.evaluate(() => window.engram!.id)).toBe(tab.id);
    expect(await tab.page.evaluate((key) => localStorage.getItem(key), tokenKey)).toBe(token);
    await expect.poll(() => tab.page.evaluate(() => window.engram!.signalingStatus().state)).toBe('connected');
    expect(await rawJoin(server.url, room, tab.id)).toBe('peer-id-taken');
    expect(server.stats()).toMatchObject({ peers: 1, claims: 1 });
  } finally {
    await context.close();
    await server.close();
  }
});

test('a refused tab can say why: its signaling status carries the reason code and message', async ({ browser }) => {
  const server = await startServer({ port: 0, host: '127.0.0.1', log: quietLog, limits: { maxRoomsPerAddress: 1 } });
  const context = await browser.newContext();
  try {
    const first = await openNode(context, `${server.url}?room=one`);
    await expect.poll(() => first.page.evaluate(() => window.engram!.signalingStatus().state)).toBe('connected');
    const second = await openNode(context, `${server.url}?room=two`);
    await expect.poll(() => second.page.evaluate(() => window.engram!.signalingStatus().state)).toBe('refused');
    expect(await second.page.evaluate(() => window.engram!.signalingStatus())).toEqual({
      state: 'refused',
      code: 'too-many-rooms',
      message: 'connections from your address are in 1 room, the limit per address',
    });
    expect(await second.page.evaluate(() => window.engram!.signalingConnected())).toBe(false);
  } finally {
    await context.close();
    await server.close();
  }
});
