/**
 * What state this tab is in, in words: one pure function from what the handle reports to the
 * sentences the status area shows, so every state a person can meet (signaling refused, peers
 * that failed authentication, an insecure page, storage trouble, a partition, a heal) has one
 * explanation, tested in node without a DOM. Outcomes of an ordinary partition (an interrupted
 * heal, unreachable peers) read as information, not as failures.
 */
import type { Member, NodeId, Visibility } from '../core/types.js';
import type { BackgroundProblem, HealStatus, LinkInfo, SignalingStatus, StorageStatus } from './engram-handle.js';
import { formatBytes, formatCount, formatFactor } from './format.js';

export type StatusTone = 'good' | 'info' | 'warn' | 'bad';

export interface StatusLine {
  /** Stable per kind of state, for tests and for keyed rendering. */
  readonly key: string;
  readonly tone: StatusTone;
  readonly text: string;
}

export interface StatusInput {
  readonly room: string;
  readonly signalingConnected: boolean;
  readonly signaling?: SignalingStatus | undefined;
  readonly links: readonly LinkInfo[];
  readonly members: readonly Member[];
  readonly visibility: Visibility;
  readonly heal: HealStatus;
  readonly storage?: StorageStatus | undefined;
  /** Background failures nobody awaited (EngramHandle.problems). */
  readonly problems?: readonly BackgroundProblem[] | undefined;
  readonly secureContext?: boolean | undefined;
}

/** Why a link to a peer is not open, as far as the UI can tell. */
export type LinkProblem = 'wrong-secret' | 'auth-failed' | 'network';

/**
 * The transport's code when it gives one; otherwise read from its message. Today's messages:
 * "authentication failed: peer X did not prove knowledge of the room key" (their secret differs)
 * and "... refused our proof or our handshake" (they judged ours wrong): both mean the secrets differ.
 */
export function linkProblem(link: LinkInfo): LinkProblem | undefined {
  if (link.state === 'open') return undefined;
  const code = link.lastErrorCode;
  if (code === 'wrong-secret') return 'wrong-secret';
  if (code === 'network') return 'network';
  if (code !== undefined) return 'auth-failed';
  const message = link.lastError;
  if (message === undefined) return undefined;
  if (/room key|refused our proof/i.test(message)) return 'wrong-secret';
  if (/authentication failed/i.test(message)) return 'auth-failed';
  return 'network';
}

const SIGNALING_REFUSALS: Readonly<Record<string, string>> = {
  'origin-not-allowed':
    'The signaling server refused this page: it only accepts pages from the origins it was started with (--allow-origin). Open the app from the server’s own address, or add this origin there.',
  'server-full': 'The signaling server is full and refused this tab; it tries again later. Peers already linked keep working.',
  'room-full': 'This room is full on the signaling server, which refused this tab; it tries again later.',
  'peer-id-taken': 'Another tab already uses this tab’s node id on the signaling server; reload this tab to get a new one.',
  'duplicate-peer': 'Another tab already uses this tab’s node id on the signaling server; reload this tab to get a new one.',
};

function signalingLine(input: StatusInput): StatusLine {
  const status: SignalingStatus = input.signaling ?? { state: input.signalingConnected ? 'connected' : 'unreachable' };
  switch (status.state) {
    case 'connected':
      return { key: 'signaling-connected', tone: 'good', text: 'Connected to the signaling server: other tabs in this room can find this one.' };
    case 'connecting':
      return { key: 'signaling-connecting', tone: 'info', text: 'Connecting to the signaling server…' };
    case 'refused': {
      const reason = (status.code && SIGNALING_REFUSALS[status.code]) ?? `The signaling server refused this tab${status.message ? `: ${status.message}` : ''}.`;
      return { key: 'signaling-refused', tone: 'bad', text: reason };
    }
    case 'unreachable':
      return {
        key: 'signaling-unreachable',
        tone: 'warn',
        text: 'Cannot reach the signaling server, so no new peer can find this tab (it keeps trying). Memories on this device still work, and peers already linked keep syncing.',
      };
  }
}

function peerWord(count: number): string {
  return count === 1 ? '1 peer' : `${formatCount(count)} peers`;
}

/** A tab alone in its room although peers tried to link, because every one failed authentication. */
export interface Isolation {
  /** How many peers were refused. */
  readonly refusedPeers: number;
  /** 'wrong-secret' when any of them holds another room secret; else the handshake failed otherwise. */
  readonly reason: 'wrong-secret' | 'auth-failed';
}

/**
 * Whether this tab sees only itself because authentication failed with every peer it tried: then
 * a 1 / 1 view is not "everything visible", and the gauge must not read as healthy.
 */
export function isolation(visibility: Visibility, links: readonly LinkInfo[]): Isolation | undefined {
  if (visibility.total > 1 || links.some((link) => link.state === 'open')) return undefined;
  const problems = links.map(linkProblem).filter((problem) => problem === 'wrong-secret' || problem === 'auth-failed');
  if (problems.length === 0) return undefined;
  return { refusedPeers: problems.length, reason: problems.includes('wrong-secret') ? 'wrong-secret' : 'auth-failed' };
}

function linkLines(input: StatusInput): StatusLine[] {
  const byProblem = new Map<LinkProblem, NodeId[]>();
  for (const link of input.links) {
    const problem = linkProblem(link);
    if (problem) byProblem.set(problem, [...(byProblem.get(problem) ?? []), link.peer]);
  }
  const alone = input.visibility.total <= 1;
  const lines: StatusLine[] = [];
  const wrongSecret = byProblem.get('wrong-secret');
  if (wrongSecret) {
    lines.push({
      key: 'peers-wrong-secret',
      tone: 'bad',
      text: `${peerWord(wrongSecret.length)} in room “${input.room}” could not prove the same room secret as this tab, so ${alone ? 'this tab is alone: it' : 'it'} cannot exchange memories with ${wrongSecret.length === 1 ? 'it' : 'them'}. Every tab of a room needs the same secret after # in its address.`,
    });
  }
  const authFailed = byProblem.get('auth-failed');
  if (authFailed) {
    const insecure = input.secureContext === false ? ' This page is not a secure context, which authentication needs.' : '';
    lines.push({ key: 'peers-auth-failed', tone: 'bad', text: `${peerWord(authFailed.length)} failed authentication, so no memories are exchanged with ${authFailed.length === 1 ? 'it' : 'them'}.${insecure}` });
  }
  const network = byProblem.get('network');
  if (network) {
    lines.push({
      key: 'peers-network',
      tone: 'warn',
      text: `${peerWord(network.length)} could not be reached over the network (WebRTC); this tab keeps retrying. Across networks a TURN server may be needed (?ice=…).`,
    });
  }
  return lines;
}

/** "(12.0 MiB of 20.0 MiB used)", when the browser gave both figures. */
function usageOf(storage: StorageStatus): string {
  return storage.usageBytes !== undefined && storage.quotaBytes !== undefined ? ` (${formatBytes(storage.usageBytes)} of ${formatBytes(storage.quotaBytes)} used)` : '';
}

function storageLine(storage: StorageStatus, alone: boolean): StatusLine | undefined {
  const usage = usageOf(storage);
  switch (storage.state) {
    case 'full':
      return {
        key: 'storage-full',
        tone: 'bad',
        text: `The browser’s storage for this site is full${usage}: new memories are not saved. Everything stored can still be read and forgotten; forget memories you no longer need, or free space for this site in the browser’s settings.`,
      };
    case 'lost':
      return {
        key: 'storage-lost',
        tone: 'bad',
        text: `${storage.message ?? 'This tab’s database is gone: nothing is saved any more.'} Recall is refused rather than answered from what this tab still holds in memory; ${
          // A reload brings memories back only from peers; promising that to a tab alone would lie.
          alone
            ? 'no other tab of this room is connected, so memories written only here are gone: write down anything you still see before reloading.'
            : 'peers still hold what they had, and a reload brings it back from them.'
        }`,
      };
    case 'failed':
      return { key: 'storage-failed', tone: 'bad', text: `Saving to this device failed, so recent writes may not survive a reload.${storage.message ? ` ${storage.message}` : ''}` };
    case 'ok':
      if (storage.persisted === false) {
        return {
          key: 'storage-evictable',
          tone: 'info',
          text: `Memories are saved on this device${usage}, but the browser did not grant persistent storage, so it may evict them when the disk runs low.`,
        };
      }
      if (storage.persisted === true) {
        return { key: 'storage-persisted', tone: 'good', text: `Memories are saved on this device${usage}, and the browser granted persistent storage: it will not evict them.` };
      }
      return usage ? { key: 'storage-ok', tone: 'good', text: `Memories are saved on this device${usage}.` } : undefined;
  }
}

const PROBLEM_SOURCES: Readonly<Record<BackgroundProblem['source'], string>> = {
  storage: 'Background storage work failed',
  'peer-message': 'A message from a peer could not be read',
  'replica-fold': 'Merging a replica a closed tab left failed',
  node: 'Background work of the node failed',
};

/** One line per background problem, newest first, at most this many (the rest are counted). */
const PROBLEM_LINES = 3;

function problemLines(problems: readonly BackgroundProblem[]): StatusLine[] {
  const newest = [...problems].reverse();
  const lines = newest.slice(0, PROBLEM_LINES).map((problem, index): StatusLine => {
    const from = problem.peer ? ` (peer ${problem.peer})` : '';
    const times = problem.count > 1 ? `, ${formatCount(problem.count)} times` : '';
    return { key: `problem-${problem.source}-${index}`, tone: problem.source === 'peer-message' ? 'warn' : 'bad', text: `${PROBLEM_SOURCES[problem.source]}${from}${times}: ${problem.message}` };
  });
  const more = newest.length - PROBLEM_LINES;
  if (more > 0) lines.push({ key: 'problem-more', tone: 'warn', text: `${more === 1 ? '1 other background problem' : `${formatCount(more)} other background problems`} happened before these.` });
  return lines;
}

function visibilityLine(input: StatusInput, peersRefused: boolean): StatusLine | undefined {
  const { visible, total, penalty } = input.visibility;
  if (total <= 1) {
    if (peersRefused) return undefined;
    return { key: 'alone', tone: 'info', text: `This tab is the only member of room “${input.room}” so far. Open the same address (secret included) in another tab or device to share memories.` };
  }
  if (visible < total) {
    return {
      key: 'partition',
      tone: 'warn',
      text: `You see ${visible} of ${total} members: reads may be incomplete, so every confidence is lowered (× ${formatFactor(penalty)}). Writes still work and reach the others when they are back.`,
    };
  }
  return { key: 'all-visible', tone: 'good', text: `All ${total} members are visible: reads are complete.` };
}

function healLine(heal: HealStatus): StatusLine | undefined {
  const active = heal.active;
  if (active) {
    const expected = active.recordsExpected === undefined ? '' : ` of ${formatCount(active.recordsExpected)}`;
    return { key: 'heal-active', tone: 'info', text: `Catching up with a peer: ${formatCount(active.recordsReceived)}${expected} records received so far.` };
  }
  const last = heal.last;
  if (last?.outcome === 'aborted') {
    return { key: 'heal-interrupted', tone: 'info', text: 'The last catch-up with a peer was interrupted (it went out of reach); it starts again when they meet.' };
  }
  if (last?.outcome === 'diverged') {
    // Normal while writes continue during a heal (issue 14: an ordinary partition's outcomes are not failures).
    return { key: 'heal-diverged', tone: 'info', text: 'The last catch-up ended before the replicas matched (writes kept arriving meanwhile); the next one continues it.' };
  }
  return undefined;
}

/** The status area's lines, most urgent first. */
export function describeStatus(input: StatusInput): StatusLine[] {
  const lines: StatusLine[] = [];
  if (input.secureContext === false) {
    lines.push({
      key: 'insecure-context',
      tone: 'bad',
      text: 'This page came over plain http: code served that way can be altered in transit, so the room secret protects less, and the browser withholds the cryptography peers need to authenticate. Use https.',
    });
  }
  const links = linkLines(input);
  const storage = input.storage ? storageLine(input.storage, input.visibility.total <= 1) : undefined;
  lines.push(...links);
  if (storage) lines.push(storage);
  lines.push(...problemLines(input.problems ?? []));
  lines.push(signalingLine(input));
  const visibility = visibilityLine(input, links.some((line) => line.key === 'peers-wrong-secret' || line.key === 'peers-auth-failed'));
  if (visibility) lines.push(visibility);
  const heal = healLine(input.heal);
  if (heal) lines.push(heal);
  const rank: Record<StatusTone, number> = { bad: 0, warn: 1, info: 2, good: 3 };
  return lines.sort((a, b) => rank[a.tone] - rank[b.tone]);
}
