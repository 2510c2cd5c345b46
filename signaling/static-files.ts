/**
 * Serves the built UI (a directory of files) over HTTP: content types by extension, index.html for
 * directories, and no way out of the directory (no `..`, no encoded `..`, no symlink escape).
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
};

export function contentTypeFor(filePath: string): string {
  return CONTENT_TYPES[extname(filePath).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * The file a URL path names inside `rootDir`, or undefined if it names nothing there. Lexical
 * only (the symlink check is in serveStatic): decodes percent escapes first, so `%2e%2e%2f`
 * is judged as the `../` it stands for.
 */
export function resolveStaticPath(rootDir: string, urlPathname: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPathname);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const root = resolve(rootDir);
  const target = resolve(root, '.' + (decoded.startsWith('/') ? decoded : '/' + decoded));
  if (target !== root && !target.startsWith(root + sep)) return undefined;
  return target;
}

/** Answers a GET or HEAD for a static file: 200 with the file, or 404. */
export async function serveStatic(
  request: IncomingMessage,
  response: ServerResponse,
  rootDir: string,
  urlPathname: string,
): Promise<void> {
  const file = await findFile(rootDir, urlPathname);
  if (file === undefined) {
    sendText(response, 404, 'not found');
    return;
  }
  response.writeHead(200, {
    'Content-Type': contentTypeFor(file.path),
    'Content-Length': file.sizeBytes,
    'X-Content-Type-Options': 'nosniff',
    // index.html names hashed bundles: it must be revalidated, the bundles need not be.
    'Cache-Control': file.path.endsWith('.html') ? 'no-cache' : 'public, max-age=3600',
  });
  if (request.method === 'HEAD') {
    response.end();
    return;
  }
  const stream = createReadStream(file.path);
  stream.on('error', () => response.destroy());
  stream.pipe(response);
}

export function sendText(response: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...headers });
  response.end(body);
}

async function findFile(rootDir: string, urlPathname: string): Promise<{ path: string; sizeBytes: number } | undefined> {
  const lexical = resolveStaticPath(rootDir, urlPathname);
  if (lexical === undefined) return undefined;
  try {
    let path = lexical;
    let info = await stat(path);
    if (info.isDirectory()) {
      path = join(path, 'index.html');
      info = await stat(path);
    }
    if (!info.isFile()) return undefined;
    // A symlink inside the UI directory must not lead out of it.
    const realRoot = await realpath(rootDir);
    const realFile = await realpath(path);
    if (!realFile.startsWith(realRoot + sep)) return undefined;
    return { path: realFile, sizeBytes: info.size };
  } catch {
    // Missing file, unreadable directory, missing UI build: all the same to a browser.
    return undefined;
  }
}
