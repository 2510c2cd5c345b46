/**
 * How much of the cluster this node can see, and what that costs every read: the ratio drives
 * the confidence penalty, so it is the first thing to look at when answers seem unsure.
 */
import { LitElement, css, html, nothing } from 'lit';
import { DEFAULT_CONFIG } from '../core/config.js';
import type { Visibility } from '../core/types.js';
import { PARTIAL_VISIBILITY_WARNING } from '../core/visibility.js';
import { countOf, formatFactor, formatPercent } from './format.js';
import type { Isolation } from './status.js';
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
  static override properties = { visibility: { attribute: false }, isolated: { attribute: false } };

  declare visibility: Visibility | undefined;
  /**
   * Set when this tab is alone because every peer failed authentication: its 1 / 1 view is then
   * not "everything visible" (issue 14: such a tab showed a green 100%), so the gauge says alone, in red.
   */
  declare isolated: Isolation | undefined;

  constructor() {
    super();
    this.visibility = undefined;
    this.isolated = undefined;
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
      .body { flex-wrap: wrap; }
      .explain { margin: 8px 0 0; font-size: 12px; }
      .explain p { margin: 0 0 4px; }
      details { margin-top: 4px; font-size: 12px; }
      summary { cursor: pointer; color: var(--em-accent); font-weight: 600; }
      details p { margin: 4px 0 0; }
      code { font-family: var(--em-mono); font-size: 11px; overflow-wrap: anywhere; }
    `,
  ];

  override render() {
    const visibility = this.visibility;
    if (!visibility) return html`<div class="panel"><h2>Visibility</h2><p class="empty">Waiting for the node…</p></div>`;
    const isolated = this.isolated;
    const tone = isolated ? 'bad' : visibilityTone(visibility.ratio);
    const showsWarning = visibility.ratio < 1;
    const refused = isolated ? countOf(isolated.refusedPeers, 'peer') : '';
    return html`
      <section class="panel" data-tone=${tone} aria-labelledby="visibility-title">
        <h2 id="visibility-title">Visibility</h2>
        <div class="body">
          <svg width="136" height="80" viewBox="0 0 150 88" role="img" aria-label=${isolated ? `visibility: alone, ${refused} refused` : `visibility ${formatPercent(visibility.ratio)}`}>
            <path class="track" d=${ARC_PATH} />
            <path class="fill" d=${ARC_PATH} pathLength="100" stroke-dasharray="${isolated ? 0.001 : Math.max(0.001, visibility.ratio * 100)} 100" />
            <text x="75" y="72" text-anchor="middle" data-testid="visibility-ratio">${isolated ? 'alone' : formatPercent(visibility.ratio)}</text>
          </svg>
          <dl class="figures">
            <dt>Visible</dt>
            <dd data-testid="visibility-count">${visibility.visible} / ${visibility.total} members</dd>
            ${visibility.sleeping
              ? html`<dt title="Tabs that said they were being frozen: not failed, they heal what they missed when they wake">Sleeping</dt>
                  <dd data-testid="visibility-sleeping">${visibility.sleeping}</dd>`
              : nothing}
            ${isolated ? html`<dt>Refused</dt><dd data-testid="visibility-refused">${refused}</dd>` : nothing}
            <dt>Penalty</dt>
            <dd data-testid="visibility-penalty" title="Multiplier applied to every confidence this node reports">× ${formatFactor(visibility.penalty)}</dd>
            <dt title="Bumped each time this tab's view of the membership changes; every write records it">Generation</dt>
            <dd>${visibility.generation}</dd>
          </dl>
        </div>
        <div class="explain">
          <p data-testid="visibility-explained">
            ${isolated
              ? `Visibility: this tab is alone, because ${refused} in this room ${isolated.refusedPeers === 1 ? 'was' : 'were'} refused (${isolated.reason === 'wrong-secret' ? 'a different room secret' : 'failed authentication'}): it reads only its own memories, not what the room holds.`
              : `Visibility: this tab can reach ${visibility.visible} of the ${visibility.total} members it knows, so ${visibility.ratio >= 1
                  ? 'it reads every memory the room holds.'
                  : 'memories written only on the others may be missing from what it reads.'}`}
          </p>
          <p data-testid="penalty-explained">
            Penalty: every confidence this tab reports is multiplied by ${formatFactor(visibility.penalty)}${isolated
              ? ': the refused peers never became members, so it cannot count what they hold.'
              : visibility.penalty >= 1
              ? ', which changes nothing while all members are visible.'
              : ', so an answer it cannot fully vouch for reads as less certain.'}
          </p>
          <details>
            <summary>How the penalty is computed</summary>
            <p><code>penalty = floor + (1 − floor) × (1 − (1 − visible/total)²)</code></p>
            <p>with floor ${formatFactor(DEFAULT_CONFIG.visibilityPenaltyFloor)}: losing the first few members costs little, being nearly alone costs much. Here: ${visibility.visible}/${visibility.total} = ${formatPercent(visibility.ratio)} → × ${formatFactor(visibility.penalty)}.</p>
          </details>
        </div>
        ${showsWarning ? html`<div class="warning" role="status" data-testid="visibility-warning">${PARTIAL_VISIBILITY_WARNING}</div>` : nothing}
      </section>
    `;
  }
}

customElements.define('engram-visibility-gauge', VisibilityGauge);

declare global {
  interface HTMLElementTagNameMap {
    'engram-visibility-gauge': VisibilityGauge;
  }
}
