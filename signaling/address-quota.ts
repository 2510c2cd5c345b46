/**
 * Each client address's share of the server: how many connections it has open and how many rooms
 * it is in. The global caps (SignalingLimits.maxConnections, maxRooms) bound memory; these
 * bound what one party can take of it, so that a client opening 10,000 rooms fills its own share
 * and not everyone's. Keys come from client-address.ts (IPv6 grouped by /64). Pure; no I/O.
 */

export interface AddressLimits {
  readonly maxConnectionsPerAddress: number;
  readonly maxRoomsPerAddress: number;
}

interface Share {
  connections: number;
  /** Room name to the number of this address's connections in it. */
  readonly rooms: Map<string, number>;
}

export class AddressQuota {
  private readonly shares = new Map<string, Share>();

  constructor(private readonly limits: AddressLimits) {}

  /** Addresses with at least one open connection. */
  get addressCount(): number {
    return this.shares.size;
  }

  connectionsOf(address: string): number {
    return this.shares.get(address)?.connections ?? 0;
  }

  roomsOf(address: string): number {
    return this.shares.get(address)?.rooms.size ?? 0;
  }

  /** Counts a new connection, or says false (and counts nothing) when the address has its share. */
  tryOpen(address: string): boolean {
    const share = this.shares.get(address) ?? { connections: 0, rooms: new Map<string, number>() };
    if (share.connections >= this.limits.maxConnectionsPerAddress) return false;
    share.connections++;
    this.shares.set(address, share);
    return true;
  }

  close(address: string): void {
    const share = this.shares.get(address);
    if (share === undefined) return;
    share.connections--;
    if (share.connections <= 0 && share.rooms.size === 0) this.shares.delete(address);
  }

  /** Whether one more connection of the address may be in `room`: always, if one already is. */
  mayEnter(address: string, room: string): boolean {
    const share = this.shares.get(address);
    if (share === undefined) return this.limits.maxRoomsPerAddress > 0;
    return share.rooms.has(room) || share.rooms.size < this.limits.maxRoomsPerAddress;
  }

  enter(address: string, room: string): void {
    const share = this.shares.get(address) ?? { connections: 0, rooms: new Map<string, number>() };
    share.rooms.set(room, (share.rooms.get(room) ?? 0) + 1);
    this.shares.set(address, share);
  }

  leave(address: string, room: string): void {
    const share = this.shares.get(address);
    const count = share?.rooms.get(room);
    if (share === undefined || count === undefined) return;
    if (count <= 1) share.rooms.delete(room);
    else share.rooms.set(room, count - 1);
    if (share.connections <= 0 && share.rooms.size === 0) this.shares.delete(address);
  }
}
