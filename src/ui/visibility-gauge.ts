/**
 * How much of the cluster this node can see, and what that costs every read: the ratio drives
 * the confidence penalty, so it is the first thing to look at when answers seem unsure.
 */
import { LitElement, css, html, nothing } from 'lit';
import type { Visibility } from '../core/types.js';
import { PARTIAL_VISIBILITY_WARNING } from '../core/visibility.js';
import { formatFactor, formatPercent } from './format.js';
import { panel } from './theme.js';

export type Tone = 'good' | 'warn' | 'bad';

/** Green only when everything is visible; red once half the cluster or more is out of sight. */
export function visibilityTone(ratio: number): Tone {
  if (ratio >= 1) return 'good';
  if (ratio <= 0.5) return 'bad';
  return 'warn';
}

/** A half circle, filled left to right as the ratio grows. */
const ARC_PATH = 'M 12 78 A 63 63 0 0 1 138 78';

export class VisibilityGauge extends LitElement {
  static override properties = { visibility: { attribute: false } };

  declare visibility: Visibility | undefined;

  constructor() {
    super();
    this.visibility = undefined;
  }

  static override styles = [
    panel,
    css`
      .body {
        display: flex;
        align-items: center;
        gap: 12px;
      }
      svg { flex: none; }
      path { fill: none; stroke-width: 12; stroke-linecap: round; }
      .track { stroke: var(--em-faint); }
      text { font-size: 28px; font-weight: 700; }
      [data-tone='good'] .fill { stroke: var(--em-good); }
      [data-tone='good'] text { fill: var(--em-good); }
      [data-tone='warn'] .fill { stroke: var(--em-warn-strong); }
      [data-tone='warn'] text { fill: var(--em-warn); }
      [data-tone='bad'] .fill { stroke: var(--em-bad); }
      [data-tone='bad'] text { fill: var(--em-bad); }
      .figures {
        display: grid;
        grid-template-columns: auto auto;
        gap: 2px 12px;
        align-items: baseline;
      }
      .figures dt { color: var(--em-muted); }
      .figures dd {
        margin: 0;
        white-space: nowrap;
        font-weight: 600;
        font-variant-numeric: tabular-nums;
      }
      .warning { margin-top: 10px; }
    `,
  ];

  override render() {
    const visibility = this.visibility;
    if (!visibility) return html`<div class="panel"><h2>Visibility</h2><p class="empty">Waiting for the node…</p></div>`;
    const tone = visibilityTone(visibility.ratio);
    const showsWarning = visibility.ratio < 1;
    return html`
      <div class="panel" data-tone=${tone}>
        <h2>Visibility</h2>
        <div class="body">
          <svg width="136" height="80" viewBox="0 0 150 88" role="img" aria-label="visibility ${formatPercent(visibility.ratio)}">
            <path class="track" d=${ARC_PATH} />
            <path class="fill" d=${ARC_PATH} pathLength="100" stroke-dasharray="${Math.max(0.001, visibility.ratio * 100)} 100" />
            <text x="75" y="72" text-anchor="middle" data-testid="visibility-ratio">${formatPercent(visibility.ratio)}</text>
          </svg>
          <dl class="figures">
            <dt>Visible</dt>
            <dd data-testid="visibility-count">${visibility.visible} / ${visibility.total} members</dd>
            <dt>Penalty</dt>
            <dd data-testid="visibility-penalty" title="Multiplier applied to every confidence this node reports">× ${formatFactor(visibility.penalty)}</dd>
            <dt>Generation</dt>
            <dd>${visibility.generation}</dd>
          </dl>
        </div>
        ${showsWarning ? html`<div class="warning" role="status" data-testid="visibility-warning">${PARTIAL_VISIBILITY_WARNING}</div>` : nothing}
      </div>
    `;
  }
}

customElements.define('engram-visibility-gauge', VisibilityGauge);

declare global {
  interface HTMLElementTagNameMap {
    'engram-visibility-gauge': VisibilityGauge;
  }
}
