/** Writes a memory, or (with an id) a new version of one: concurrent versions from two tabs are how conflicts arise. */
import { LitElement, css, html, nothing } from 'lit';
import type { EngramHandle } from './engram-handle.js';
import { errorMessage, formatFactor, parseTags } from './format.js';
import { panel } from './theme.js';

const DEFAULT_CONFIDENCE = 0.8;

export class RememberForm extends LitElement {
  static override properties = {
    handle: { attribute: false },
    confidence: { state: true },
    busy: { state: true },
    error: { state: true },
    savedId: { state: true },
  };

  declare handle: EngramHandle | undefined;
  declare private confidence: number;
  declare private busy: boolean;
  declare private error: string | undefined;
  declare private savedId: string | undefined;

  constructor() {
    super();
    this.handle = undefined;
    this.confidence = DEFAULT_CONFIDENCE;
    this.busy = false;
    this.error = undefined;
    this.savedId = undefined;
  }

  static override styles = [
    panel,
    css`
      form {
        display: grid;
        grid-template-columns: 1fr 1fr;
        gap: 8px 10px;
      }
      label {
        display: flex;
        flex-direction: column;
        gap: 3px;
        font-size: 11px;
        font-weight: 600;
        color: var(--em-muted);
      }
      .wide { grid-column: 1 / -1; }
      textarea { resize: vertical; min-height: 52px; }
      .confidence {
        display: flex;
        align-items: center;
        gap: 8px;
      }
      .confidence input[type='range'] { flex: 1; padding: 0; border: none; accent-color: var(--em-accent); }
      .confidence output {
        font-family: var(--em-mono);
        font-size: 12px;
        color: var(--em-text);
        min-width: 30px;
        text-align: right;
      }
      .actions {
        display: flex;
        align-items: center;
        gap: 10px;
      }
      .saved { color: var(--em-good); font-size: 12px; }
    `,
  ];

  override render() {
    return html`
      <div class="panel">
        <h2>Remember</h2>
        <form @submit=${this.submit} data-testid="remember-form">
          <label class="wide">Content
            <textarea name="content" rows="2" placeholder="What should the cluster remember?"></textarea>
          </label>
          <label>Tags (comma separated)
            <input name="tags" placeholder="ops, deploy" autocomplete="off" />
          </label>
          <label>Memory id (optional: new version)
            <input name="id" placeholder="leave empty for a new memory" autocomplete="off" />
          </label>
          <label class="wide">Confidence
            <span class="confidence">
              <input name="confidence" type="range" min="0" max="1" step="0.05" .value=${String(this.confidence)}
                @input=${(event: Event) => (this.confidence = Number((event.target as HTMLInputElement).value))} />
              <output data-testid="confidence-value">${formatFactor(this.confidence)}</output>
            </span>
          </label>
          ${this.error ? html`<div class="error wide" role="alert" data-testid="remember-error">${this.error}</div>` : nothing}
          <div class="actions wide">
            <button class="primary" type="submit" ?disabled=${this.busy || !this.handle}>${this.busy ? 'Writing…' : 'Remember'}</button>
            ${this.savedId ? html`<span class="saved" data-testid="remember-saved">Saved as <span class="mono">${this.savedId}</span></span>` : nothing}
          </div>
        </form>
      </div>
    `;
  }

  private async submit(event: SubmitEvent): Promise<void> {
    event.preventDefault();
    const handle = this.handle;
    if (!handle) return;
    const form = event.currentTarget as HTMLFormElement;
    const fields = new FormData(form);
    const content = String(fields.get('content') ?? '');
    const tags = parseTags(String(fields.get('tags') ?? ''));
    const id = String(fields.get('id') ?? '').trim();
    this.busy = true;
    this.error = undefined;
    this.savedId = undefined;
    try {
      const written = await handle.remember({ content, tags, confidence: this.confidence, ...(id ? { id } : {}) });
      this.savedId = written.id;
      (form.elements.namedItem('content') as HTMLTextAreaElement).value = '';
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
