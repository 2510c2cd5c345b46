/**
 * The status area: every state this tab is in, one sentence each, worst first (see status.ts for
 * the wording). Each line starts with a word for its severity, so colour is never the only signal.
 */
import { LitElement, css, html } from 'lit';
import { repeat } from 'lit/directives/repeat.js';
import type { StatusLine, StatusTone } from './status.js';
import { panel } from './theme.js';

const TONE_LABEL: Record<StatusTone, string> = { bad: 'Problem', warn: 'Warning', info: 'Note', good: 'OK' };

export class StatusArea extends LitElement {
  static override properties = { lines: { attribute: false } };

  declare lines: readonly StatusLine[];

  constructor() {
    super();
    this.lines = [];
  }

  static override styles = [
    panel,
    css`
      ul { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 4px; }
      li {
        display: flex;
        gap: 8px;
        align-items: baseline;
        padding: 4px 8px;
        border-radius: 4px;
        border-left: 4px solid var(--em-idle);
        background: var(--em-faint);
        overflow-wrap: anywhere;
      }
      li .label { flex: none; font-weight: 700; font-size: 11px; text-transform: uppercase; letter-spacing: 0.04em; min-width: 5.2em; }
      li.bad { border-left-color: var(--em-bad); background: var(--em-bad-bg); }
      li.bad .label { color: var(--em-bad); }
      li.warn { border-left-color: var(--em-warn-strong); background: var(--em-warn-bg); }
      li.warn .label { color: var(--em-warn); }
      li.info { border-left-color: var(--em-accent); background: #eef6ff; }
      li.info .label { color: #0550ae; }
      li.good { border-left-color: var(--em-good); background: var(--em-good-bg); }
      li.good .label { color: var(--em-good); }
    `,
  ];

  override render() {
    return html`
      <section class="panel" aria-labelledby="status-title">
        <h2 id="status-title">Status</h2>
        <div role="status" aria-live="polite"><ul data-testid="status-lines">
          ${repeat(
            this.lines,
            (line) => line.key,
            (line) => html`<li class=${line.tone} data-status=${line.key}><span class="label">${TONE_LABEL[line.tone]}</span><span>${line.text}</span></li>`,
          )}
        </ul></div>
      </section>
    `;
  }
}

customElements.define('engram-status-area', StatusArea);

declare global {
  interface HTMLElementTagNameMap {
    'engram-status-area': StatusArea;
  }
}
