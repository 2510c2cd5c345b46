/**
 * The URLs a server bound to an address answers on, for people to open on other machines: bound
 * to all interfaces (`--host 0.0.0.0`, the default), one per non-internal address of this host, so
 * the person starting it sees which address a phone or second laptop on the LAN should use.
 */
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

export type InterfaceTable = NodeJS.Dict<NetworkInterfaceInfo[]>;

/**
 * LAN URLs for `host` (undefined, '', '0.0.0.0' or '::' mean all interfaces; any other host gets
 * none: its own URL is the only one). IPv4 first; IPv6 link-local addresses are left out, since
 * a browser cannot use them without a zone index.
 */
export function listenUrls(
  scheme: 'http' | 'https',
  host: string | undefined,
  port: number,
  interfaces: InterfaceTable = networkInterfaces(),
): string[] {
  const allInterfaces = host === undefined || host === '' || host === '0.0.0.0' || host === '::';
  if (!allInterfaces) return [];
  const addresses = Object.values(interfaces)
    .flatMap((entries) => entries ?? [])
    .filter((entry) => !entry.internal && (host !== '0.0.0.0' || entry.family === 'IPv4'))
    .filter((entry) => !(entry.family === 'IPv6' && entry.address.toLowerCase().startsWith('fe80:')))
    .sort((a, b) => (a.family === b.family ? 0 : a.family === 'IPv4' ? -1 : 1));
  const urls = addresses.map((entry) => `${scheme}://${entry.family === 'IPv6' ? `[${entry.address}]` : entry.address}:${port}/`);
  return [...new Set(urls)];
}
