/**
 * The preview page (ui-preview.html): the console on a fake 5-node cluster in a 3|2 partition,
 * for screenshots and DOM tests without a network. The heal advances in steps after mounting,
 * so a screenshot that shows it past zero also proves the console re-renders on events.
 */
import './engram-app.js';
import { createPartitionedClusterHandle, PREVIEW_NODES } from './fake-handle.js';

const HEAL_STEP_RECORDS = 480;
const HEAL_STOP_RECORDS = 6_240;
const HEAL_STEP_MS = 100;
const BYTES_PER_RECORD = 412;
const HEARTBEAT_MS = 700;

const handle = createPartitionedClusterHandle();
const app = document.createElement('engram-app');
app.handle = handle;
document.body.append(app);

let received = 0;
const healTicker = setInterval(() => {
  received = Math.min(HEAL_STOP_RECORDS, received + HEAL_STEP_RECORDS);
  const active = handle.healStatus().active;
  if (active) handle.setHealProgress({ ...active, recordsReceived: received, bytesReceived: received * BYTES_PER_RECORD });
  if (received >= HEAL_STOP_RECORDS) {
    clearInterval(healTicker);
    // Lets a screenshot script wait for the final state rather than guess a delay.
    setTimeout(() => (document.documentElement.dataset.previewReady = 'true'), 300);
  }
}, HEAL_STEP_MS);

// Peers on this side keep talking, so their "last heard" stays fresh; the far side stays silent.
const nearSide = new Set<string>([PREVIEW_NODES.peerB, PREVIEW_NODES.peerC]);
setInterval(() => {
  const nowMs = handle.now();
  handle.setMembers(handle.members().map((member) => (nearSide.has(member.id) ? { ...member, lastHeardAt: nowMs - 300 } : member)));
}, HEARTBEAT_MS);
