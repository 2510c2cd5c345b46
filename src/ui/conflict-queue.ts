/**
 * The review queue: memories whose concurrent versions disagree with confidences too close to
 * pick one automatically. A person keeps one version, or writes a merged one; either way the
 * new write supersedes every sibling on every replica.
 */
import { LitElement, css, html, nothing } from 'lit';
import type { Conflict } from '../core/merge.js';
import type { Dot, MemoryId, Version } from '../core/types.js';
import { dotKey } from '../core/vector-clock.js';
import type { EngramHandle } from './engram-handle.js';
import { errorMessage, formatFactor } from './format.js';
import { panel } from './theme.js';
import { timeAgo } from './time-ago.js';

export class ConflictQueue extends LitElement {
  static override properties = {
    handle: { attribute: false },
    conflicts: { attribute: false },
    busyId: { state: true },
    errors: { state: true },
  };

  declare handle: EngramHandle | undefined;
  declare conflicts: readonly Conflict[];
  /** The conflict being resolved: its buttons stay disabled until the write settles. */
  declare private busyId: MemoryId | undefined;
  declare private errors: ReadonlyMap<MemoryId, string>;

  constructor() {
    super();
    this.handle = undefined;
    this.conflicts = [];
    this.busyId = undefined;
    this.errors = new Map();
  }

  static override styles = [
    panel,
    css`
      .conflict {
        border: 1px solid var(--em-border);
        border-radius: 5px;
        padding: 8px 10px;
        margin-top: 8px;
      }
      .conflict:first-of-type { margin-top: 0; }
      .title .mono { overflow-wrap: anywhere; min-width: 0; }
      .title {
        display: flex;
        align-items: center;
        gap: 8px;
        margin-bottom: 6px;
      }
      .siblings {
        display: grid;
        grid-template-columns: repeat(auto-fit, minmax(min(100%, 180px), 1fr));
        gap: 8px;
      }
      .sibling {
        display: flex;
        flex-direction: column;
        gap: 4px;
        background: #fafbfc;
        border: 1px solid var(--em-faint);
        border-radius: 4px;
        padding: 6px 8px;
      }
      .sibling.shown { border-color: #b6d7ff; background: #f6faff; }
      .sibling .content { flex: 1; overflow-wrap: anywhere; }
      .sibling .deleted { color: var(--em-bad); font-style: italic; }
      .facts {
        display: grid;
        grid-template-columns: auto minmax(0, 1fr);
        gap: 0 8px;
        font-size: 11px;
      }
      .facts dt { color: var(--em-muted); }
      /* Wrapped, not cut: a writer id or a tag list is what a reviewer compares between versions. */
      .facts dd { margin: 0; font-family: var(--em-mono); overflow-wrap: anywhere; }
      .sibling button { align-self: flex-start; }
      details { margin-top: 6px; }
      summary { cursor: pointer; font-size: 12px; color: var(--em-accent); font-weight: 600; }
      .merge { display: flex; gap: 8px; align-items: flex-end; margin-top: 6px; }
      .merge textarea { flex: 1; min-height: 44px; resize: vertical; }
      .error { margin-top: 6px; }
    `,
  ];

  override render() {
    return html`
      <section class="panel" aria-labelledby="conflicts-title">
        <h2 id="conflicts-title">Conflicts <span class="count" data-testid="conflict-count">${this.conflicts.length} to review</span></h2>
        ${this.conflicts.length === 0
          ? html`<p class="empty">No conflicts: every memory has one clear version.</p>`
          : this.conflicts.map((conflict) => this.renderConflict(conflict))}
      </section>
    `;
  }

  private renderConflict(conflict: Conflict) {
    const busy = this.busyId !== undefined || !this.handle;
    const error = this.errors.get(conflict.id);
    const shownKey = dotKey(conflict.shown.dot);
    return html`
      <section class="conflict" data-conflict=${conflict.id}>
        <div class="title">
          <span class="mono">${conflict.id}</span>
          <span class="badge bad">${conflict.siblings.length} concurrent versions</span>
        </div>
        <div class="siblings">
          ${conflict.siblings.map((sibling) => this.renderSibling(conflict.id, sibling, dotKey(sibling.dot) === shownKey, busy))}
        </div>
        <details>
          <summary>Edit &amp; merge</summary>
          <div class="merge">
            <textarea aria-label="merged content" .value=${conflict.shown.deleted ? '' : conflict.shown.content}></textarea>
            <button class="primary" ?disabled=${busy} @click=${(event: Event) => this.merge(conflict.id, event)}>Write merged version</button>
          </div>
        </details>
        ${error ? html`<div class="error" role="alert">${error}</div>` : nothing}
      </section>
    `;
  }

  private renderSibling(id: MemoryId, sibling: Version, shown: boolean, busy: boolean) {
    return html`
      <div class="sibling ${shown ? 'shown' : ''}" data-dot=${dotKey(sibling.dot)}>
        <div class="content">${sibling.deleted ? html`<span class="deleted">forgotten</span>` : sibling.content}</div>
        <dl class="facts">
          <dt>confidence</dt><dd>${formatFactor(sibling.confidence)}${shown ? ' (shown)' : ''}</dd>
          <dt>written by</dt><dd title=${sibling.dot.node}>${sibling.dot.node}</dd>
          <dt>when</dt><dd>${timeAgo(sibling.writtenAt)}</dd>
          <dt>generation</dt><dd>${sibling.generation}</dd>
          ${sibling.tags.length > 0 ? html`<dt>tags</dt><dd title=${sibling.tags.join(', ')}>${sibling.tags.join(', ')}</dd>` : nothing}
        </dl>
        <button ?disabled=${busy} aria-label="Keep the version written by ${sibling.dot.node}" @click=${() => this.keep(id, sibling.dot)}>Keep this</button>
      </div>
    `;
  }

  private keep(id: MemoryId, dot: Dot): Promise<void> {
    return this.settle(id, (handle) => handle.resolve(id, { keep: dot }));
  }

  private merge(id: MemoryId, event: Event): Promise<void> {
    const textarea = (event.currentTarget as HTMLElement).parentElement?.querySelector('textarea');
    const content = textarea?.value ?? '';
    return this.settle(id, (handle) => handle.resolve(id, { content }));
  }

  private async settle(id: MemoryId, write: (handle: EngramHandle) => Promise<void>): Promise<void> {
    const handle = this.handle;
    if (!handle || this.busyId !== undefined) return;
    this.busyId = id;
    const errors = new Map(this.errors);
    errors.delete(id);
    this.errors = errors;
    try {
      // On success the node emits a conflict event and the app drops this entry from `conflicts`.
      await write(handle);
    } catch (error) {
      this.errors = new Map(this.errors).set(id, errorMessage(error));
    } finally {
      this.busyId = undefined;
    }
  }
}

customElements.define('engram-conflict-queue', ConflictQueue);

declare global {
  interface HTMLElementTagNameMap {
    'engram-conflict-queue': ConflictQueue;
  }
}
