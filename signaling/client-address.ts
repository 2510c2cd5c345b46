/**
 * Which client a connection comes from, for the per-address caps (address-quota.ts): the TCP
 * peer, or, behind reverse proxies the operator trusts, the address the outermost of them saw.
 * Addresses are grouped as one party controls them: an IPv4 address alone, an IPv6 address by
 * its /64 (one host or home network is routinely given a whole /64, so counting single IPv6
 * addresses would let one machine multiply its share by 2^64).
 */
import { isIPv4, isIPv6 } from 'node:net';

/**
 * The client's address. `trustedProxies` is how many reverse proxies in front of the server
 * append to X-Forwarded-For (0: the header is ignored, as anyone can send it). Each proxy
 * appends the address it received from, so with N trusted proxies the Nth entry from the right
 * is the one the outermost trusted proxy saw; entries left of it are whatever the client wrote.
 */
export function clientAddress(socketAddress: string | undefined, forwardedFor: string | string[] | undefined, trustedProxies: number): string {
  const direct = socketAddress ?? '?';
  if (trustedProxies <= 0 || forwardedFor === undefined) return direct;
  const entries = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) return direct;
  // Fewer entries than trusted proxies: every entry was written by a trusted proxy; the first is the client.
  const index = Math.max(0, entries.length - trustedProxies);
  const entry = entries[index] ?? direct;
  return isIPv4(entry) || isIPv6(entry) ? entry : direct;
}

/** The key a client's connections and rooms are counted under: IPv4 as is, IPv6 by /64. */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (!isIPv6(address)) return address;
  return `${expandIPv6(address).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, as lowercase hex without leading zeros. */
function expandIPv6(address: string): string[] {
  const withoutZone = address.split('%')[0] ?? address;
  const [head = '', tail] = withoutZone.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  // An embedded IPv4 tail (::1.2.3.4) is two groups; it never reaches the /64 prefix, so count it and move on.
  const groupCount = (groups: string[]): number => groups.reduce((sum, group) => sum + (group.includes('.') ? 2 : 1), 0);
  const missing = tail === undefined ? 0 : 8 - groupCount(headGroups) - groupCount(tailGroups);
  const groups = [...headGroups, ...Array<string>(Math.max(0, missing)).fill('0'), ...tailGroups];
  return groups.map((group) => (group.includes('.') ? group : (Number.parseInt(group, 16) || 0).toString(16)));
}
