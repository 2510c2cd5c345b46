/**
 * The server over TLS (https for the UI, wss for signaling) and the URLs it prints for other
 * machines of the LAN. The browser side (two Chromium tabs replicating over https) is
 * e2e/https.spec.ts.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parseServerMessage, type ServerMessage } from '../src/net/signaling-protocol.js';
import { signalingUrl } from '../src/net/signaling-client.js';
import { listenUrls, type InterfaceTable } from '../signaling/listen-urls.js';
import { startServer, type RunningServer } from '../signaling/server.js';
import { selfSignedCertificate, type TestCertificate } from './self-signed-cert.js';

const quiet = { info: () => undefined, warn: () => undefined };

describe('the URLs printed for other machines', () => {
  const table: InterfaceTable = {
    lo: [
      { address: '127.0.0.1', family: 'IPv4', internal: true, netmask: '255.0.0.0', mac: '00:00:00:00:00:00', cidr: '127.0.0.1/8' },
      { address: '::1', family: 'IPv6', internal: true, netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', mac: '00:00:00:00:00:00', cidr: '::1/128', scopeid: 0 },
    ],
    eth0: [
      { address: 'fe80::1', family: 'IPv6', internal: false, netmask: 'ffff:ffff:ffff:ffff::', mac: '02:00:00:00:00:01', cidr: 'fe80::1/64', scopeid: 2 },
      { address: '2001:db8::7', family: 'IPv6', internal: false, netmask: 'ffff:ffff:ffff:ffff::', mac: '02:00:00:00:00:01', cidr: '2001:db8::7/64', scopeid: 0 },
      { address: '192.168.1.20', family: 'IPv4', internal: false, netmask: '255.255.255.0', mac: '02:00:00:00:00:01', cidr: '192.168.1.20/24' },
    ],
    wlan0: [{ address: '10.0.0.5', family: 'IPv4', internal: false, netmask: '255.0.0.0', mac: '02:00:00:00:00:02', cidr: '10.0.0.5/8' }],
  };

  it('bound to every IPv4 interface: one URL per LAN IPv4 address, loopback left out', () => {
    expect(listenUrls('https', '0.0.0.0', 8787, table)).toEqual(['https://192.168.1.20:8787/', 'https://10.0.0.5:8787/']);
  });

  it('bound to all interfaces by default: IPv4 first, then routable IPv6 in brackets (no link-local)', () => {
    expect(listenUrls('http', undefined, 9000, table)).toEqual(['http://192.168.1.20:9000/', 'http://10.0.0.5:9000/', 'http://[2001:db8::7]:9000/']);
  });

  it('bound to one address: no other URL', () => {
    expect(listenUrls('http', '127.0.0.1', 8787, table)).toEqual([]);
    expect(listenUrls('http', '192.168.1.20', 8787, table)).toEqual([]);
  });
});

describe('the server with a certificate', () => {
  let certificate: TestCertificate;
  let server: RunningServer;
  let staticDir: string;

  beforeAll(async () => {
    certificate = selfSignedCertificate();
    staticDir = mkdtempSync(join(tmpdir(), 'engram-tls-ui-'));
    writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>tls</title>');
    server = await startServer({ port: 0, host: '127.0.0.1', log: quiet, staticDir, tls: { cert: certificate.cert, key: certificate.key } });
  });

  afterAll(async () => {
    await server?.close();
    certificate?.remove();
    if (staticDir !== undefined) rmSync(staticDir, { recursive: true, force: true });
  });

  it('says https in its URL', () => {
    expect(server.url).toBe(`https://127.0.0.1:${server.port}/`);
    expect(server.urls).toEqual([server.url]);
  });

  it('serves the UI over https with that certificate (verified against it, not ignored)', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      httpsGet(server.url, { ca: certificate.cert }, (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => resolve(text));
      }).on('error', reject);
    });
    expect(body).toBe('<!doctype html><title>tls</title>');
  });

  it('does not answer plain http on the same port', async () => {
    const outcome = await new Promise<string>((resolve) => {
      httpGet(`http://127.0.0.1:${server.port}/healthz`, (response) => resolve(`status ${response.statusCode}`)).on('error', () => resolve('error'));
    });
    expect(outcome).not.toBe('status 200');
  });

  it('speaks signaling over wss at the URL a page on https picks', async () => {
    const url = signalingUrl(new URL(server.url));
    expect(url).toBe(`wss://127.0.0.1:${server.port}/signal`);
    const received: ServerMessage[] = [];
    const socket = new WebSocket(url, { ca: certificate.cert });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const joined = new Promise<void>((resolve) => {
      socket.on('message', (data: Buffer) => {
        const parsed = parseServerMessage(data.toString());
        if (parsed.ok) received.push(parsed.message);
        if (parsed.ok && parsed.message.type === 'joined') resolve();
      });
    });
    socket.send(JSON.stringify({ type: 'join', room: 'tls-room', peerId: 'alice' }));
    await joined;
    socket.close();
    expect(received).toEqual([{ type: 'joined', room: 'tls-room', peerId: 'alice', peers: [] }]);
  });
});

describe('the command line with TLS', () => {
  it('starts https from ENGRAM_TLS_CERT / ENGRAM_TLS_KEY and prints its URL', async () => {
    const certificate = selfSignedCertificate();
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'signaling/main.ts', '--port', '0', '--host', '127.0.0.1'], {
        env: { ...process.env, ENGRAM_TLS_CERT: certificate.certFile, ENGRAM_TLS_KEY: certificate.keyFile },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const line = await new Promise<string>((resolve, reject) => {
        let output = '';
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const match = /running at (\S+)/.exec(output);
          if (match?.[1] !== undefined) resolve(match[1]);
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}: ${output}`)));
      });
      child.kill('SIGTERM');
      expect(line).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/);
    } finally {
      certificate.remove();
    }
  });

  it('refuses a certificate without its key', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'signaling/main.ts', '--port', '0', '--tls-cert', 'c.pem'], {
      env: { ...process.env, ENGRAM_TLS_KEY: '', ENGRAM_TLS_CERT: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('TLS needs both a certificate (--tls-cert) and its key (--tls-key)');
  });
});
