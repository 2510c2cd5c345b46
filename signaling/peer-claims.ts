/**
 * Who owns which peer id of which room: the signaling server's answer to "20 ms after a tab's
 * socket closed, anyone who knew the room name could join with its id and receive the offers
 * meant for it". The first join of an id with a token (JoinMessage.token) binds the id to a
 * SHA-256 of that token; the binding outlives the connection by `claimRetentionMs`, and only a
 * join with the same token may take the id while it lasts.
 *
 * Only the hash is kept, so the server's memory (a heap snapshot, a core dump) holds nothing a
 * reader could present as the token. Released bindings are bounded per address and in total,
 * oldest evicted first, so that a client minting ids cannot grow memory without limit nor push
 * out the bindings of clients at other addresses. Pure: time comes in as an argument; no I/O.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export interface ClaimLimits {
  /** How long a peer id stays bound to its token after its holder disconnected or left. */
  readonly claimRetentionMs: number;
  /** Released bindings kept in all; beyond it the oldest is forgotten. */
  readonly maxReleasedClaims: number;
  /** Released bindings kept for one client address; beyond it that address's oldest is forgotten. */
  readonly maxReleasedClaimsPerAddress: number;
}

/** What a join with `tokenHash` (or none) may do with an id. */
export type ClaimVerdict =
  /** Nobody has bound the id: anyone may join with it. */
  | 'unbound'
  /** Bound to this very token: the joiner is its owner and may take it, even from its holder. */
  | 'owner'
  /** Bound to another token, or the joiner has none: refused. */
  | 'taken';

interface Claim<Member> {
  readonly key: string;
  readonly tokenHash: Buffer;
  /** The address that last held the id: released bindings are counted against it. */
  address: string;
  holder: Member | undefined;
  releasedAtMs: number;
}

/** SHA-256 of a token: what the server keeps in place of the token itself. */
export function hashPeerToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export class PeerIdClaims<Member> {
  private readonly claims = new Map<string, Claim<Member>>();
  /** Released claims, oldest release first (a Map keeps insertion order; a re-release re-inserts). */
  private readonly released = new Map<string, Claim<Member>>();
  private readonly releasedByAddress = new Map<string, Map<string, Claim<Member>>>();

  constructor(private readonly limits: ClaimLimits) {}

  /** Bindings held by a live connection or retained after one. */
  get size(): number {
    return this.claims.size;
  }

  get releasedCount(): number {
    return this.released.size;
  }

  verdict(room: string, peerId: string, tokenHash: Buffer | undefined, nowMs: number): ClaimVerdict {
    const claim = this.live(claimKey(room, peerId), nowMs);
    if (claim === undefined) return 'unbound';
    // Constant time, so that response timing tells nothing about how much of a guess was right.
    return tokenHash !== undefined && timingSafeEqual(claim.tokenHash, tokenHash) ? 'owner' : 'taken';
  }

  /** The connection that holds a bound id now, if any. */
  holder(room: string, peerId: string): Member | undefined {
    return this.claims.get(claimKey(room, peerId))?.holder;
  }

  /** Binds the id to `tokenHash` (first join) or hands it to `member` (its owner came back). */
  bind(room: string, peerId: string, tokenHash: Buffer, address: string, member: Member): void {
    const key = claimKey(room, peerId);
    const claim = this.claims.get(key);
    if (claim === undefined) {
      this.claims.set(key, { key, tokenHash, address, holder: member, releasedAtMs: 0 });
      return;
    }
    this.unrelease(claim);
    claim.holder = member;
    claim.address = address;
  }

  /** The holder left or disconnected: the binding is retained for claimRetentionMs. A stale member changes nothing. */
  release(room: string, peerId: string, member: Member, nowMs: number): void {
    const claim = this.claims.get(claimKey(room, peerId));
    if (claim === undefined || claim.holder !== member) return;
    claim.holder = undefined;
    claim.releasedAtMs = nowMs;
    this.released.set(claim.key, claim);
    const ofAddress = this.releasedByAddress.get(claim.address) ?? new Map<string, Claim<Member>>();
    ofAddress.set(claim.key, claim);
    this.releasedByAddress.set(claim.address, ofAddress);
    if (ofAddress.size > this.limits.maxReleasedClaimsPerAddress) this.forget(first(ofAddress));
    if (this.released.size > this.limits.maxReleasedClaims) this.forget(first(this.released));
  }

  /** Forgets every released binding older than the retention. Cheap: stops at the first one still retained. */
  sweep(nowMs: number): void {
    for (const claim of this.released.values()) {
      if (nowMs - claim.releasedAtMs < this.limits.claimRetentionMs) return;
      this.forget(claim);
    }
  }

  private live(key: string, nowMs: number): Claim<Member> | undefined {
    const claim = this.claims.get(key);
    if (claim?.holder === undefined && claim !== undefined && nowMs - claim.releasedAtMs >= this.limits.claimRetentionMs) {
      this.forget(claim);
      return undefined;
    }
    return claim;
  }

  private forget(claim: Claim<Member> | undefined): void {
    if (claim === undefined) return;
    this.unrelease(claim);
    this.claims.delete(claim.key);
  }

  private unrelease(claim: Claim<Member>): void {
    this.released.delete(claim.key);
    const ofAddress = this.releasedByAddress.get(claim.address);
    ofAddress?.delete(claim.key);
    if (ofAddress?.size === 0) this.releasedByAddress.delete(claim.address);
  }
}

/** Room names cannot contain a space (ROOM_PATTERN), so "room id" is unambiguous. */
function claimKey(room: string, peerId: string): string {
  return `${room} ${peerId}`;
}

function first<T>(map: ReadonlyMap<string, T>): T | undefined {
  for (const value of map.values()) return value;
  return undefined;
}
