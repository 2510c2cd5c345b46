/**
 * Who is in which room: the signaling server's only state. Bounded (rooms per server, peers per
 * room) so that no sequence of joins can grow memory without limit, and empty rooms are deleted
 * at once. Generic over the member handle (a connection in the server, anything in tests); no I/O.
 */

export interface RoomLimits {
  readonly maxRooms: number;
  readonly maxPeersPerRoom: number;
}

export type JoinOutcome =
  | { readonly ok: true; /** The peers already in the room, the joiner excluded. */ readonly others: string[] }
  | { readonly ok: false; readonly code: 'duplicate-peer' | 'room-full' | 'server-full' };

export class RoomRegistry<Member> {
  private readonly rooms = new Map<string, Map<string, Member>>();

  constructor(private readonly limits: RoomLimits) {}

  get roomCount(): number {
    return this.rooms.size;
  }

  get peerCount(): number {
    let peers = 0;
    for (const members of this.rooms.values()) peers += members.size;
    return peers;
  }

  join(room: string, peerId: string, member: Member): JoinOutcome {
    const existing = this.rooms.get(room);
    if (existing === undefined && this.rooms.size >= this.limits.maxRooms) return { ok: false, code: 'server-full' };
    if (existing?.has(peerId)) return { ok: false, code: 'duplicate-peer' };
    if ((existing?.size ?? 0) >= this.limits.maxPeersPerRoom) return { ok: false, code: 'room-full' };
    const members = existing ?? new Map<string, Member>();
    const others = [...members.keys()];
    members.set(peerId, member);
    this.rooms.set(room, members);
    return { ok: true, others };
  }

  /** Removes the peer if `member` still holds its id; returns the members left to notify. */
  leave(room: string, peerId: string, member: Member): Member[] {
    const members = this.rooms.get(room);
    // Identity check: a stale leave must not evict a newer holder of the same id.
    if (members === undefined || members.get(peerId) !== member) return [];
    members.delete(peerId);
    if (members.size === 0) this.rooms.delete(room);
    return [...members.values()];
  }

  member(room: string, peerId: string): Member | undefined {
    return this.rooms.get(room)?.get(peerId);
  }

  peersOf(room: string): string[] {
    return [...(this.rooms.get(room)?.keys() ?? [])];
  }
}
