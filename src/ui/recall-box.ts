/**
 * Queries the local replica. It says how many memories match and pages through all of them in
 * the node's order (adjusted confidence, then most recent, then id: a total order, so ties never
 * shuffle). Each result shows the confidence its writer gave next to the one this node can vouch
 * for at its current visibility, when it was written, and Edit / Forget (with Undo).
 */
import { LitElement, css, html, nothing } from 'lit';
import type { RecallItem, RecallResult } from '../core/node.js';
import type { EngramHandle } from './engram-handle.js';
import { errorMessage, formatCount, formatFactor, parseTags } from './format.js';
import type { EditTarget } from './remember-form.js';
import { panel } from './theme.js';
import { timeAgo } from './time-ago.js';

interface AppliedQuery {
  readonly text: string;
  readonly tags: string[];
}

/** Results per page; "Show more" adds a page. */
export const RECALL_PAGE_SIZE = 20;
/** Relative times ("2 min ago") are re-read this often when nothing else re-renders the list. */
const TIME_REFRESH_MS = 30_000;

/** Fired (bubbling out of shadow roots) when a person asks to edit a memory; the app loads it into the form. */
export type EditMemoryEvent = CustomEvent<EditTarget>;

export class RecallBox extends LitElement {
  static override properties = {
    handle: { attribute: false },
    revision: { attribute: false },
    result: { state: true },
    error: { state: true },
    pages: { state: true },
    forgotten: { state: true },
    busyId: { state: true },
    nowMs: { state: true },
  };

  declare handle: EngramHandle | undefined;
  /** Bumped by the app when something a recall reads has changed; the current query is re-run. */
  declare revision: number;
  declare private result: RecallResult | undefined;
  declare private error: string | undefined;
  declare private pages: number;
  /** The memory forgotten last, kept so Undo can write it back as a new version. */
  declare private forgotten: RecallItem | undefined;
  declare private busyId: string | undefined;
  declare private nowMs: number;
  private query: AppliedQuery = { text: '', tags: [] };
  /** Answers can arrive out of order; only the latest request's answer is shown. */
  private requestSeq = 0;
  private ticker: ReturnType<typeof setInterval> | undefined;

  constructor() {
    super();
    this.handle = undefined;
    this.revision = 0;
    this.result = undefined;
    this.error = undefined;
    this.pages = 1;
    this.forgotten = undefined;
    this.busyId = undefined;
    this.nowMs = Date.now();
  }

  override connectedCallback(): void {
    super.connectedCallback();
    this.ticker = setInterval(() => (this.nowMs = Date.now()), TIME_REFRESH_MS);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearInterval(this.ticker);
    this.ticker = undefined;
  }

  static override styles = [
    panel,
    css`
      form {
        display: grid;
        grid-template-columns: minmax(0, 1fr) minmax(0, 130px) auto;
        gap: 8px;
        margin-bottom: 8px;
      }
      form input { min-width: 0; width: 100%; }
      .warning { margin-bottom: 8px; }
      ol {
        list-style: none;
        margin: 0;
        padding: 0;
      }
      li {
        display: grid;
        grid-template-columns: minmax(0, 1fr) auto;
        gap: 2px 14px;
        padding: 7px 0;
        border-top: 1px solid var(--em-faint);
      }
      li:first-child { border-top: none; }
      .content {
        overflow-wrap: anywhere;
      }
      .meta {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        gap: 4px 6px;
        font-size: 11px;
        color: var(--em-muted);
        min-width: 0;
      }
      .meta .mono { overflow-wrap: anywhere; font-size: 11px; }
      .tag {
        background: #ddf4ff;
        color: #0550ae;
        border-radius: 4px;
        padding: 0 5px;
        font-size: 11px;
      }
      .confidences {
        grid-row: 1 / span 2;
        grid-column: 2;
        display: grid;
        grid-template-columns: auto auto;
        gap: 0 10px;
        align-self: start;
        text-align: right;
        font-variant-numeric: tabular-nums;
      }
      .confidences span { font-size: 10px; color: var(--em-muted); text-transform: uppercase; letter-spacing: 0.04em; }
      .confidences b { font-family: var(--em-mono); font-size: 13px; font-weight: 600; }
      .confidences b.adjusted { color: var(--em-warn); }
      .confidences b.same { color: var(--em-text); }
      .actions { grid-column: 1 / -1; display: flex; gap: 6px; }
      .actions button { padding: 1px 8px; font-size: 11px; }
      .summary { font-size: 12px; color: var(--em-muted); margin-bottom: 4px; }
      .summary b { color: var(--em-text); }
      .more { display: flex; flex-wrap: wrap; align-items: center; gap: 8px; margin-top: 8px; font-size: 12px; color: var(--em-muted); }
      .undo {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        gap: 4px 8px;
        margin-bottom: 8px;
        padding: 4px 8px;
        border-radius: 4px;
        background: var(--em-idle-bg);
        overflow-wrap: anywhere;
      }
      .undo button { padding: 1px 8px; }
      @media (max-width: 430px) {
        form { grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
        form button { grid-column: 1 / -1; }
      }
    `,
  ];

  protected override updated(changed: Map<PropertyKey, unknown>): void {
    if (changed.has('handle') || changed.has('revision')) void this.run();
  }

  override render() {
    const result = this.result;
    return html`
      <section class="panel" aria-labelledby="recall-title">
        <h2 id="recall-title">Recall</h2>
        <form @submit=${this.submit} data-testid="recall-form" role="search">
          <input name="text" placeholder="words in content or tags" autocomplete="off" aria-label="Words to find" />
          <input name="tags" placeholder="tags: a, b" autocomplete="off" aria-label="Tags to require (comma separated)" />
          <button type="submit" ?disabled=${!this.handle}>Recall</button>
        </form>
        ${this.error ? html`<div class="error" role="alert">${this.error}</div>` : nothing}
        ${this.forgotten
          ? html`<div class="undo" role="status" data-testid="forget-undo">
              <span>Forgot <span class="mono">${this.forgotten.id}</span> on every tab.</span>
              <button type="button" @click=${this.undoForget} ?disabled=${this.busyId !== undefined}>Undo</button>
              <button type="button" @click=${() => (this.forgotten = undefined)} aria-label="Dismiss">Dismiss</button>
            </div>`
          : nothing}
        ${result?.warning ? html`<div class="warning" role="status" data-testid="recall-warning">${result.warning}</div>` : nothing}
        ${result ? this.renderResults(result) : nothing}
      </section>
    `;
  }

  private renderResults(result: RecallResult) {
    const total = result.matched;
    const filtered = this.query.text.length > 0 || this.query.tags.length > 0;
    if (total === 0) {
      return filtered
        ? html`<p class="empty" data-testid="recall-empty">No memory matches this search.
            <button type="button" @click=${this.clearSearch}>Show all memories</button></p>`
        : html`<p class="empty" data-testid="recall-empty">No memories yet: write the first one under Remember.</p>`;
    }
    const penalised = result.visibility.penalty < 1;
    const shown = result.results;
    const remaining = total - shown.length;
    return html`
      <div class="summary" data-testid="recall-summary">
        <b>${formatCount(total)}</b> ${total === 1 ? 'memory' : 'memories'}${filtered ? ' match' : ''}, best first${shown.length < total ? html` · showing 1–${formatCount(shown.length)}` : nothing}.
        ${penalised
          ? html`<span>Adjusted = stated × ${formatFactor(result.visibility.penalty)}, the visibility penalty.</span>`
          : nothing}
      </div>
      <ol data-testid="recall-results">
        ${shown.map((item) => this.renderItem(item, penalised))}
      </ol>
      ${remaining > 0
        ? html`<div class="more">
            <button type="button" data-testid="recall-more" @click=${this.showMore}>Show ${formatCount(Math.min(RECALL_PAGE_SIZE, remaining))} more</button>
            <span>${formatCount(remaining)} not shown</span>
          </div>`
        : nothing}
    `;
  }

  private renderItem(item: RecallItem, penalised: boolean) {
    const busy = this.busyId !== undefined;
    const edited = item.writtenAt !== item.createdAt;
    return html`
      <li data-memory=${item.id}>
        <div class="content">${item.content}</div>
        <div class="confidences">
          <span title="The confidence its writer gave">stated</span><span title="What this tab can vouch for now: stated × the visibility penalty">adjusted</span>
          <b class="stated">${formatFactor(item.confidence)}</b>
          <b class="adjusted ${penalised ? '' : 'same'}" data-testid="adjusted-confidence">${formatFactor(item.adjustedConfidence)}</b>
        </div>
        <div class="meta">
          <span class="mono">${item.id}</span>
          <span>by <span class="mono">${item.author}</span></span>
          <span>${edited ? 'edited' : 'written'} ${timeAgo(item.writtenAt, this.nowMs)}</span>
          ${item.tags.map((tag) => html`<span class="tag">${tag}</span>`)}
          ${item.conflict
            ? html`<span class="badge bad" data-testid="conflict-badge">conflict · ${item.siblings} siblings</span>`
            : item.siblings > 1
              ? html`<span class="badge idle">${item.siblings} siblings</span>`
              : nothing}
        </div>
        <div class="actions">
          <button type="button" data-action="edit" aria-label="Edit ${item.id}" @click=${() => this.requestEdit(item)}>Edit</button>
          <button type="button" data-action="forget" aria-label="Forget ${item.id}" ?disabled=${busy} @click=${() => this.forget(item)}>Forget</button>
        </div>
      </li>
    `;
  }

  private requestEdit(item: RecallItem): void {
    const detail: EditTarget = { id: item.id, content: item.content, tags: item.tags, confidence: item.confidence };
    this.dispatchEvent(new CustomEvent('engram-edit', { detail, bubbles: true, composed: true }));
  }

  private async forget(item: RecallItem): Promise<void> {
    const handle = this.handle;
    if (!handle || this.busyId !== undefined) return;
    this.busyId = item.id;
    this.error = undefined;
    try {
      await handle.forget(item.id);
      this.forgotten = item;
    } catch (error) {
      this.error = `Could not forget ${item.id}: ${errorMessage(error)}`;
    } finally {
      this.busyId = undefined;
    }
    void this.run();
  }

  /** Writes the forgotten content back as a new version, which supersedes the forget everywhere. */
  private async undoForget(): Promise<void> {
    const handle = this.handle;
    const item = this.forgotten;
    if (!handle || !item || this.busyId !== undefined) return;
    this.busyId = item.id;
    try {
      await handle.remember({ id: item.id, content: item.content, tags: [...item.tags], confidence: item.confidence });
      this.forgotten = undefined;
    } catch (error) {
      this.error = `Could not undo: ${errorMessage(error)}`;
    } finally {
      this.busyId = undefined;
    }
    void this.run();
  }

  private clearSearch(): void {
    this.renderRoot.querySelector('form')?.reset();
    this.query = { text: '', tags: [] };
    this.pages = 1;
    void this.run();
  }

  private readonly showMore = (): void => {
    this.pages += 1;
    void this.run();
  };

  private submit(event: SubmitEvent): void {
    event.preventDefault();
    const fields = new FormData(event.currentTarget as HTMLFormElement);
    this.query = { text: String(fields.get('text') ?? '').trim(), tags: parseTags(String(fields.get('tags') ?? '')) };
    this.pages = 1;
    void this.run();
  }

  private async run(): Promise<void> {
    const handle = this.handle;
    if (!handle) return;
    const seq = ++this.requestSeq;
    const { text, tags } = this.query;
    try {
      const result = await handle.recall({ ...(text ? { text } : {}), ...(tags.length > 0 ? { tags } : {}), limit: this.pages * RECALL_PAGE_SIZE });
      if (seq !== this.requestSeq) return;
      this.result = result;
      this.error = undefined;
    } catch (error) {
      if (seq !== this.requestSeq) return;
      // The last answer is not kept on screen: after a refusal (a vanished database) it would
      // show memories as if nothing had happened.
      this.result = undefined;
      this.error = errorMessage(error);
    }
  }
}

customElements.define('engram-recall-box', RecallBox);

declare global {
  interface HTMLElementTagNameMap {
    'engram-recall-box': RecallBox;
  }
  interface HTMLElementEventMap {
    'engram-edit': EditMemoryEvent;
  }
}
