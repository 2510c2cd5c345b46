/**
 * <engram-app>: the console for one tab's node. It owns the only subscription to the handle,
 * re-reads what changed at most ~10 times a second, and hands plain data to the panels; the
 * panels that act (remember, recall, resolve) get the handle itself.
 *
 *   const app = document.createElement('engram-app');
 *   app.handle = handle;               // anything implementing EngramHandle
 *   document.body.append(app);
 */
import { LitElement, css, html, nothing } from 'lit';
import type { Conflict } from '../core/merge.js';
import type { Member, Visibility } from '../core/types.js';
import type { BackgroundProblem, EngramEventKind, EngramHandle, HealStatus, LinkInfo, SignalingStatus, StorageStatus } from './engram-handle.js';
import { errorMessage } from './format.js';
import type { EditMemoryEvent } from './recall-box.js';
import { describeStatus, isolation, type Isolation, type StatusLine } from './status.js';
import { RenderThrottle } from './render-throttle.js';
import { palette } from './theme.js';
import './conflict-queue.js';
import './heal-progress.js';
import './member-table.js';
import './node-header.js';
import './recall-box.js';
import './remember-form.js';
import './status-area.js';
import './topology-view.js';
import './visibility-gauge.js';

/** What the panels show, read synchronously from the handle in one go so they agree with each other. */
interface Snapshot {
  readonly members: readonly Member[];
  readonly visibility: Visibility;
  readonly links: readonly LinkInfo[];
  readonly heal: HealStatus;
  readonly signalingConnected: boolean;
  readonly status: readonly StatusLine[];
  /** Why this tab is alone although peers tried to link (they all failed authentication), if it is. */
  readonly isolated: Isolation | undefined;
}

type RefreshCause = EngramEventKind | 'attach';

/** Events after which the (asynchronous, possibly scanning) conflict list must be re-read. */
const CONFLICT_CAUSES: ReadonlySet<RefreshCause> = new Set(['attach', 'conflict', 'write', 'heal']);
const MERKLE_CAUSES: ReadonlySet<RefreshCause> = new Set(['attach', 'write', 'heal', 'heal-progress']);
/** Events that can change what a recall returns (content, siblings, or the visibility penalty). */
const RECALL_CAUSES: ReadonlySet<RefreshCause> = new Set(['write', 'conflict', 'visibility', 'heal', 'membership', 'storage']);

function intersects(causes: ReadonlySet<RefreshCause>, wanted: ReadonlySet<RefreshCause>): boolean {
  for (const cause of causes) if (wanted.has(cause)) return true;
  return false;
}

export class EngramApp extends LitElement {
  static override properties = {
    handle: { attribute: false },
    snapshot: { state: true },
    conflicts: { state: true },
    merkleRoot: { state: true },
    recallRevision: { state: true },
    problem: { state: true },
  };

  declare handle: EngramHandle | undefined;
  declare private snapshot: Snapshot | undefined;
  declare private conflicts: readonly Conflict[];
  declare private merkleRoot: string | undefined;
  declare private recallRevision: number;
  /** The last failure reading from the node (e.g. it stopped), shown until a read succeeds. */
  declare private problem: string | undefined;

  private attachedTo: EngramHandle | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly throttle = new RenderThrottle<RefreshCause>((causes) => this.refresh(causes));
  /** Asynchronous reads can overtake each other; only the newest one's answer is kept. */
  private conflictsSeq = 0;
  private merkleSeq = 0;

  constructor() {
    super();
    this.handle = undefined;
    this.snapshot = undefined;
    this.conflicts = [];
    this.merkleRoot = undefined;
    this.recallRevision = 0;
    this.problem = undefined;
  }

  static override styles = [
    palette,
    css`
      :host {
        display: block;
        min-height: 100vh;
        box-sizing: border-box;
        padding: 12px 16px 16px;
        background: var(--em-bg);
        color: var(--em-text);
        font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif;
        font-size: 13px;
      }
      /* Two independent stacks side by side never wait for each other's rows: a grid of three
         columns would leave a hole under the shorter card of a row (a long conflict queue pushed
         Recall far below Topology at tablet width). So the cluster-health cards form one block,
         split into two sub-columns (subgrid) only where three columns fit, and the work cards
         (recall, remember, conflicts) form the other. */
      main {
        display: grid;
        grid-template-columns: 372px minmax(0, 1fr) minmax(0, 1fr);
        gap: 12px;
        align-items: start;
        margin-top: 12px;
      }
      .health {
        grid-column: 1 / span 2;
        display: grid;
        grid-template-columns: subgrid;
        gap: 12px;
        align-items: start;
        min-width: 0;
      }
      .column {
        display: flex;
        flex-direction: column;
        gap: 12px;
        min-width: 0;
      }
      .problem {
        margin-top: 12px;
        color: var(--em-bad);
        background: var(--em-bad-bg);
        border: 1px solid #ffcecb;
        border-radius: 6px;
        padding: 8px 12px;
      }
      .waiting { color: var(--em-muted); padding: 24px; }
      @media (max-width: 1100px) {
        main { grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
        .health { grid-column: 1; display: flex; flex-direction: column; }
      }
      @media (max-width: 760px) {
        main { grid-template-columns: minmax(0, 1fr); }
      }
      @media (max-width: 480px) {
        :host { padding: 8px; }
        main { gap: 8px; margin-top: 8px; }
        .health { gap: 8px; }
        .column { gap: 8px; }
      }
      engram-status-area { display: block; margin-top: 12px; }
    `,
  ];

  override connectedCallback(): void {
    super.connectedCallback();
    // Re-attach after a move in the DOM; the first attach happens in willUpdate.
    if (this.handle && !this.unsubscribe) this.attach(this.handle);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.detach();
  }

  protected override willUpdate(changed: Map<PropertyKey, unknown>): void {
    if (changed.has('handle') && this.handle !== this.attachedTo) {
      if (this.handle) this.attach(this.handle);
      else this.detach();
    }
  }

  override render() {
    const handle = this.handle;
    const snapshot = this.snapshot;
    if (!handle || !snapshot) return html`<div class="waiting">Starting the node…</div>`;
    const clock = handle.now ? () => (handle.now as () => number).call(handle) : () => performance.now();
    return html`
      <engram-header
        .nodeId=${handle.id}
        .room=${handle.room}
        .signalingConnected=${snapshot.signalingConnected}
        .merkleRoot=${this.merkleRoot}
      ></engram-header>
      ${this.problem ? html`<div class="problem" role="alert">${this.problem}</div>` : nothing}
      <engram-status-area .lines=${snapshot.status}></engram-status-area>
      <main @engram-edit=${this.startEdit}>
        <div class="health">
          <div class="column">
            <engram-visibility-gauge .visibility=${snapshot.visibility} .isolated=${snapshot.isolated}></engram-visibility-gauge>
            <engram-topology .selfId=${handle.id} .members=${snapshot.members} .links=${snapshot.links}></engram-topology>
          </div>
          <div class="column">
            <engram-member-table
              .members=${snapshot.members}
              .selfId=${handle.id}
              .clock=${clock}
              .countedTotal=${snapshot.visibility.total}
            ></engram-member-table>
            <engram-heal-progress .status=${snapshot.heal}></engram-heal-progress>
          </div>
        </div>
        <div class="column">
          <engram-recall-box .handle=${handle} .revision=${this.recallRevision}></engram-recall-box>
          <engram-remember-form .handle=${handle}></engram-remember-form>
          <engram-conflict-queue .handle=${handle} .conflicts=${this.conflicts}></engram-conflict-queue>
        </div>
      </main>
    `;
  }

  /** "Edit" on a recall result: the form takes the memory and is brought into view. */
  private startEdit(event: EditMemoryEvent): void {
    const form = this.renderRoot.querySelector('engram-remember-form');
    if (!form) return;
    void form.edit(event.detail);
    form.scrollIntoView({ block: 'nearest' });
  }

  private attach(handle: EngramHandle): void {
    this.detach();
    this.attachedTo = handle;
    this.conflicts = [];
    this.merkleRoot = undefined;
    this.unsubscribe = handle.subscribe((event) => this.throttle.note(event.kind));
    this.refresh(new Set(['attach']));
  }

  private detach(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.attachedTo = undefined;
    this.throttle.cancel();
  }

  private refresh(causes: ReadonlySet<RefreshCause>): void {
    const handle = this.attachedTo;
    if (!handle) return;
    try {
      const members = handle.members();
      const visibility = handle.visibility();
      const links = handle.links();
      const heal = handle.healStatus();
      const signalingConnected = handle.signalingConnected();
      // Optional parts of the seam: a handle without them still renders, minus their lines.
      const signaling: SignalingStatus | undefined = handle.signalingStatus?.();
      const storage: StorageStatus | undefined = handle.storageStatus?.();
      const problems: readonly BackgroundProblem[] | undefined = handle.problems?.();
      const status = describeStatus({
        room: handle.room,
        signalingConnected,
        signaling,
        links,
        members,
        visibility,
        heal,
        storage,
        problems,
        secureContext: handle.secureContext,
      });
      this.snapshot = { members, visibility, links, heal, signalingConnected, status, isolated: isolation(visibility, links) };
      this.problem = undefined;
    } catch (error) {
      this.problem = `Cannot read the node: ${errorMessage(error)}`;
      return;
    }
    if (intersects(causes, RECALL_CAUSES)) this.recallRevision += 1;
    if (intersects(causes, CONFLICT_CAUSES)) void this.loadConflicts(handle);
    if (intersects(causes, MERKLE_CAUSES)) void this.loadMerkleRoot(handle);
  }

  private async loadConflicts(handle: EngramHandle): Promise<void> {
    const seq = ++this.conflictsSeq;
    try {
      const conflicts = await handle.conflicts();
      if (seq === this.conflictsSeq && handle === this.attachedTo) this.conflicts = conflicts;
    } catch (error) {
      if (seq === this.conflictsSeq) this.problem = `Cannot read conflicts: ${errorMessage(error)}`;
    }
  }

  private async loadMerkleRoot(handle: EngramHandle): Promise<void> {
    const seq = ++this.merkleSeq;
    try {
      const root = await handle.merkleRoot();
      if (seq === this.merkleSeq && handle === this.attachedTo) this.merkleRoot = root;
    } catch (error) {
      if (seq === this.merkleSeq) this.problem = `Cannot read the Merkle root: ${errorMessage(error)}`;
    }
  }
}

customElements.define('engram-app', EngramApp);

declare global {
  interface HTMLElementTagNameMap {
    'engram-app': EngramApp;
  }
}
