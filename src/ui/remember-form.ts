/**
 * Writes a memory, or a new version of one after "Edit" on a recall result: the form then says
 * "Editing <id> · Cancel" and clears that state once the version is written, so the next memory
 * written is a new one and never silently replaces the one just edited. Concurrent edits of one
 * memory from two tabs are how conflicts arise.
 */
import { LitElement, css, html, nothing } from 'lit';
import type { MemoryId } from '../core/types.js';
import type { EngramHandle } from './engram-handle.js';
import { errorMessage, formatFactor, parseTags } from './format.js';
import { panel } from './theme.js';

/** The node's own default (EngramNode.remember: confidence ?? 1), so the slider does not change what a write means. */
const DEFAULT_CONFIDENCE = 1;

/** What "Edit" loads into the form. */
export interface EditTarget {
  readonly id: MemoryId;
  readonly content: string;
  readonly tags: readonly string[];
  readonly confidence: number;
}

export class RememberForm extends LitElement {
  static override properties = {
    handle: { attribute: false },
    confidence: { state: true },
    busy: { state: true },
    error: { state: true },
    saved: { state: true },
    editing: { state: true },
  };

  declare handle: EngramHandle | undefined;
  declare private confidence: number;
  declare private busy: boolean;
  declare private error: string | undefined;
  declare private saved: { id: MemoryId; edited: boolean } | undefined;
  /** The memory the next write is a new version of; undefined: the next write is a new memory. */
  declare editing: MemoryId | undefined;

  constructor() {
    super();
    this.handle = undefined;
    this.confidence = DEFAULT_CONFIDENCE;
    this.busy = false;
    this.error = undefined;
    this.saved = undefined;
    this.editing = undefined;
  }

  static override styles = [
    panel,
    css`
      form {
        display: grid;
        grid-template-columns: minmax(0, 1fr) minmax(0, 1fr);
        gap: 8px 10px;
      }
      label {
        display: flex;
        flex-direction: column;
        gap: 3px;
        font-size: 11px;
        font-weight: 600;
        color: var(--em-muted);
        min-width: 0;
      }
      label input, label textarea { width: 100%; }
      .wide { grid-column: 1 / -1; }
      textarea { resize: vertical; min-height: 52px; }
      .confidence {
        display: flex;
        align-items: center;
        gap: 8px;
      }
      .confidence input[type='range'] { flex: 1; min-width: 0; padding: 0; border: none; accent-color: var(--em-accent); }
      .confidence output {
        font-family: var(--em-mono);
        font-size: 12px;
        color: var(--em-text);
        min-width: 30px;
        text-align: right;
      }
      .actions {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        gap: 10px;
      }
      .saved { color: var(--em-good); font-size: 12px; overflow-wrap: anywhere; }
      .editing {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        gap: 4px 8px;
        padding: 4px 8px;
        border-radius: 4px;
        background: #eef6ff;
        border: 1px solid #b6d7ff;
        color: #0550ae;
        font-weight: 600;
        overflow-wrap: anywhere;
      }
      .editing button { padding: 1px 8px; }
      @media (max-width: 430px) {
        form { grid-template-columns: minmax(0, 1fr); }
      }
    `,
  ];

  /** Loads a memory into the form: the next write is a new version of it. */
  async edit(target: EditTarget): Promise<void> {
    this.editing = target.id;
    this.confidence = target.confidence;
    this.saved = undefined;
    this.error = undefined;
    await this.updateComplete;
    const form = this.form();
    if (!form) return;
    (form.elements.namedItem('content') as HTMLTextAreaElement).value = target.content;
    (form.elements.namedItem('tags') as HTMLInputElement).value = target.tags.join(', ');
    (form.elements.namedItem('content') as HTMLTextAreaElement).focus();
  }

  /** Leaves editing: the form is empty and the next write is a new memory. */
  cancelEdit(): void {
    this.editing = undefined;
    this.confidence = DEFAULT_CONFIDENCE;
    this.form()?.reset();
  }

  override render() {
    const editing = this.editing;
    return html`
      <section class="panel" aria-labelledby="remember-title">
        <h2 id="remember-title">${editing ? 'Edit memory' : 'Remember'}</h2>
        <form @submit=${this.submit} data-testid="remember-form">
          ${editing
            ? html`<div class="editing wide" role="status" data-testid="remember-editing">
                <span>Editing <span class="mono">${editing}</span></span><span aria-hidden="true">·</span>
                <button type="button" @click=${() => this.cancelEdit()} data-testid="remember-cancel">Cancel</button>
              </div>`
            : nothing}
          <label class="wide">Content
            <textarea name="content" rows="2" placeholder="What should the cluster remember?"></textarea>
          </label>
          <label>Tags (comma separated)
            <input name="tags" placeholder="ops, deploy" autocomplete="off" />
          </label>
          <label>Confidence (how sure you are)
            <span class="confidence">
              <input name="confidence" type="range" min="0" max="1" step="0.05" .value=${String(this.confidence)}
                aria-valuetext=${formatFactor(this.confidence)}
                @input=${(event: Event) => (this.confidence = Number((event.target as HTMLInputElement).value))} />
              <output data-testid="confidence-value">${formatFactor(this.confidence)}</output>
            </span>
          </label>
          ${this.error ? html`<div class="error wide" role="alert" data-testid="remember-error">${this.error}</div>` : nothing}
          <div class="actions wide">
            <button class="primary" type="submit" ?disabled=${this.busy || !this.handle}>
              ${this.busy ? 'Writing…' : editing ? 'Save new version' : 'Remember'}
            </button>
            ${this.saved
              ? html`<span class="saved" role="status" data-testid="remember-saved">${this.saved.edited ? 'Saved a new version of' : 'Saved as'} <span class="mono">${this.saved.id}</span></span>`
              : nothing}
          </div>
        </form>
      </section>
    `;
  }

  private form(): HTMLFormElement | null {
    return this.renderRoot.querySelector('form');
  }

  private async submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const handle = this.handle;
    if (!handle) return;
    const form = event.currentTarget as HTMLFormElement;
    const fields = new FormData(form);
    const content = String(fields.get('content') ?? '');
    const tags = parseTags(String(fields.get('tags') ?? ''));
    const id = this.editing;
    this.busy = true;
    this.error = undefined;
    this.saved = undefined;
    try {
      const written = await handle.remember({ content, tags, confidence: this.confidence, ...(id ? { id } : {}) });
      this.saved = { id: written.id, edited: id !== undefined };
      // Only after the write: a failed one keeps the edit so the person can fix and retry.
      if (this.editing === id) this.cancelEdit();
      else (form.elements.namedItem('content') as HTMLTextAreaElement).value = '';
    } catch (error) {
      // The node validates (empty content, bad confidence, stopped node); its message says what to fix.
      this.error = errorMessage(error);
    } finally {
      this.busy = false;
    }
  }
}

customElements.define('engram-remember-form', RememberForm);

declare global {
  interface HTMLElementTagNameMap {
    'engram-remember-form': RememberForm;
  }
}
