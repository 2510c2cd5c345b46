/**
 * Queries the local replica. Each result shows the confidence its writer gave next to the one
 * this node can vouch for at its current visibility, so a partition's effect on reads is visible.
 */
import { LitElement, css, html, nothing } from 'lit';
import type { RecallResult } from '../core/node.js';
import type { EngramHandle } from './engram-handle.js';
import { errorMessage, formatFactor, parseTags } from './format.js';
import { panel } from './theme.js';

interface AppliedQuery {
  readonly text: string;
  readonly tags: string[];
}

const RESULT_LIMIT = 20;

export class RecallBox extends LitElement {
  static override properties = {
    handle: { attribute: false },
    revision: { attribute: false },
    result: { state: true },
    error: { state: true },
  };

  declare handle: EngramHandle | undefined;
  /** Bumped by the app when something a recall reads has changed; the current query is re-run. */
  declare revision: number;
  declare private result: RecallResult | undefined;
  declare private error: string | undefined;
  private query: AppliedQuery = { text: '', tags: [] };
  /** Answers can arrive out of order; only the latest request's answer is shown. */
  private requestSeq = 0;

  constructor() {
    super();
    this.handle = undefined;
    this.revision = 0;
    this.result = undefined;
    this.error = undefined;
  }

  static override styles = [
    panel,
    css`
      form {
        display: grid;
        grid-template-columns: minmax(0, 1fr) 130px auto;
        gap: 8px;
        margin-bottom: 8px;
      }
      .warning { margin-bottom: 8px; }
      ol {
        list-style: none;
        margin: 0;
        padding: 0;
      }
      li {
        display: grid;
        grid-template-columns: 1fr auto;
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
      }
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
      .summary { font-size: 11px; color: var(--em-muted); margin-bottom: 4px; }
    `,
  ];

  protected override updated(changed: Map<PropertyKey, unknown>): void {
    if (changed.has('handle') || changed.has('revision')) void this.run();
  }

  override render() {
    const result = this.result;
    return html`
      <div class="panel">
        <h2>Recall</h2>
        <form @submit=${this.submit} data-testid="recall-form">
          <input name="text" placeholder="words in content or tags" autocomplete="off" aria-label="text" />
          <input name="tags" placeholder="tags: a, b" autocomplete="off" aria-label="tags" />
          <button type="submit" ?disabled=${!this.handle}>Recall</button>
        </form>
        ${this.error ? html`<div class="error" role="alert">${this.error}</div>` : nothing}
        ${result?.warning ? html`<div class="warning" role="status" data-testid="recall-warning">${result.warning}</div>` : nothing}
        ${result ? this.renderResults(result) : nothing}
      </div>
    `;
  }

  private renderResults(result: RecallResult) {
    if (result.results.length === 0) return html`<p class="empty">No memories match.</p>`;
    const penalised = result.visibility.penalty < 1;
    return html`
      <div class="summary">${result.results.length} ${result.results.length === 1 ? 'memory' : 'memories'}, best first · penalty × ${formatFactor(result.visibility.penalty)}</div>
      <ol data-testid="recall-results">
        ${result.results.map(
          (item) => html`
            <li data-memory=${item.id}>
              <div class="content">${item.content}</div>
              <div class="confidences">
                <span>stated</span><span>adjusted</span>
                <b class="stated">${formatFactor(item.confidence)}</b>
                <b class="adjusted ${penalised ? '' : 'same'}" data-testid="adjusted-confidence">${formatFactor(item.adjustedConfidence)}</b>
              </div>
              <div class="meta">
                <span class="mono">${item.id}</span>
                <span>by <span class="mono">${item.author}</span></span>
                ${item.tags.map((tag) => html`<span class="tag">${tag}</span>`)}
                ${item.conflict
                  ? html`<span class="badge bad" data-testid="conflict-badge">conflict · ${item.siblings} siblings</span>`
                  : item.siblings > 1
                    ? html`<span class="badge idle">${item.siblings} siblings</span>`
                    : nothing}
              </div>
            </li>
          `,
        )}
      </ol>
    `;
  }

  private submit(event: SubmitEvent): void {
    event.preventDefault();
    const fields = new FormData(event.currentTarget as HTMLFormElement);
    this.query = { text: String(fields.get('text') ?? '').trim(), tags: parseTags(String(fields.get('tags') ?? '')) };
    void this.run();
  }

  private async run(): Promise<void> {
    const handle = this.handle;
    if (!handle) return;
    const seq = ++this.requestSeq;
    const { text, tags } = this.query;
    try {
      const result = await handle.recall({ ...(text ? { text } : {}), ...(tags.length > 0 ? { tags } : {}), limit: RESULT_LIMIT });
      if (seq !== this.requestSeq) return;
      this.result = result;
      this.error = undefined;
    } catch (error) {
      if (seq !== this.requestSeq) return;
      this.error = errorMessage(error);
    }
  }
}

customElements.define('engram-recall-box', RecallBox);

declare global {
  interface HTMLElementTagNameMap {
    'engram-recall-box': RecallBox;
  }
}
