/**
 * Anti-entropy at work: while a heal runs, how far the record transfer has got; when idle, how
 * the last one ended and what it moved, including whose partitioned writes it brought in.
 */
import { LitElement, css, html, nothing } from 'lit';
import type { HealOutcome, HealProgress, HealReport } from '../core/heal.js';
import type { HealStatus } from './engram-handle.js';
import { countOf, formatBytes, formatCount, formatDuration, formatPercent } from './format.js';
import { panel } from './theme.js';
import { timeAgo } from './time-ago.js';

const OUTCOME_TONE: Record<HealOutcome, string> = {
  converged: 'good',
  equal: 'good',
  busy: 'warn',
  // Roots still differ at the end because writes kept arriving meanwhile; the next heal continues.
  diverged: 'idle',
  // An ordinary partition interrupts heals with peers that went out of reach: not a failure.
  aborted: 'idle',
  pulled: 'good',
  served: 'good',
};

/** Most writers a report lists; a heal after a long partition can bring writes from many. */
const MAX_SIDES_SHOWN = 4;

export class HealProgressView extends LitElement {
  static override properties = { status: { attribute: false } };

  declare status: HealStatus;

  constructor() {
    super();
    this.status = { active: undefined, serving: [], last: undefined };
  }

  static override styles = [
    panel,
    css`
      .line {
        display: flex;
        align-items: center;
        gap: 8px;
        flex-wrap: wrap;
      }
      .bar {
        position: relative;
        height: 10px;
        border-radius: 5px;
        background: var(--em-faint);
        overflow: hidden;
        margin: 8px 0 6px;
      }
      /* No transitions or animations: each animated frame is style, layout, paint and a composite,
         and during a heal (five tabs on two cores, in the benchmark) a sliding bar and a width
         transition cost ~0.4 s of CPU a heal, a fifth of its time. The figures say it moves. */
      .bar > div {
        height: 100%;
        background: var(--em-accent);
        border-radius: 5px;
      }
      .bar.indeterminate > div {
        width: 100%;
        background: repeating-linear-gradient(-45deg, var(--em-accent) 0 6px, transparent 6px 12px);
        opacity: 0.45;
      }
      .figures {
        display: grid;
        grid-template-columns: auto 1fr;
        gap: 1px 12px;
        font-variant-numeric: tabular-nums;
        margin: 6px 0 0;
      }
      .figures dt { color: var(--em-muted); }
      .figures dd { margin: 0; font-weight: 600; }
      .big { font-size: 15px; font-weight: 700; font-variant-numeric: tabular-nums; }
      ul { margin: 8px 0 0; padding-left: 16px; font-size: 12px; }
      li { margin: 1px 0; }
    `,
  ];

  override render() {
    const { active, serving, last } = this.status;
    const busy = active !== undefined || serving.length > 0;
    return html`
      <section class="panel" aria-labelledby="heal-title">
        <h2 id="heal-title">Heal ${busy ? html`<span class="badge warn">in progress</span>` : nothing}</h2>
        ${active
          ? this.renderActive(active)
          : last
            ? this.renderLast(last)
            : serving.length > 0
              ? nothing
              : html`<p class="empty">No heal yet: replicas have not needed one.</p>`}
        ${serving.length > 0 ? this.renderServing(serving) : nothing}
      </section>
    `;
  }

  /** One-way sessions: this node sends what others lack while it receives in its own session. */
  private renderServing(serving: readonly HealProgress[]) {
    return html`
      <ul class="serving" data-testid="heal-serving">
        ${serving.map(
          (progress) => html`<li>
            sending to <span class="mono">${progress.peer}</span>: ${countOf(progress.recordsSent, 'record')} ·
            ${formatBytes(progress.bytesSent)} <span class="muted">(one-way, phase ${progress.phase})</span>
          </li>`,
        )}
      </ul>
    `;
  }

  private renderActive(progress: HealProgress) {
    const expected = progress.recordsExpected;
    const fraction = expected === undefined ? undefined : expected === 0 ? 1 : Math.min(1, progress.recordsReceived / expected);
    return html`
      <div data-testid="heal-active">
        <div class="line">
          <span class="big" data-testid="heal-records">
            ${expected === undefined ? countOf(progress.recordsReceived, 'record') : `${formatCount(progress.recordsReceived)} / ${countOf(expected, 'record')}`} received
          </span>
          ${fraction === undefined ? nothing : html`<span class="muted">${formatPercent(fraction)}</span>`}
          <span class="muted">from <span class="mono">${progress.peer}</span> · step: ${progress.phase}</span>
        </div>
        <div class="bar ${fraction === undefined ? 'indeterminate' : ''}" role="progressbar" aria-label="heal progress" aria-valuemin="0" aria-valuemax="1"
          aria-valuenow=${fraction ?? nothing}>
          <div style=${fraction === undefined ? '' : `width: ${(fraction * 100).toFixed(1)}%`}></div>
        </div>
        <dl class="figures">
          <dt>received</dt><dd>${formatBytes(progress.bytesReceived)}</dd>
          <dt>sent</dt><dd>${formatBytes(progress.bytesSent)} · ${countOf(progress.recordsSent, 'record')}</dd>
        </dl>
      </div>
    `;
  }

  private renderLast(report: HealReport) {
    const sides = [...report.sides].sort((a, b) => b.versions - a.versions);
    return html`
      <div data-testid="heal-last">
        <div class="line">
          <span class="muted">Last heal</span>
          <span class="badge ${OUTCOME_TONE[report.outcome]}" data-testid="heal-outcome">${report.outcome === 'aborted' ? 'interrupted' : report.outcome === 'diverged' ? 'unfinished' : report.outcome}</span>
          <span class="muted">with <span class="mono">${report.peer}</span> as ${report.role}, ${timeAgo(report.finishedAt)}, took ${formatDuration(report.finishedAt - report.startedAt)}</span>
        </div>
        <dl class="figures">
          <dt>received</dt><dd>${countOf(report.recordsReceived, 'record')} · ${formatBytes(report.bytesReceived)}</dd>
          <dt>sent</dt><dd>${countOf(report.recordsSent, 'record')} · ${formatBytes(report.bytesSent)}</dd>
        </dl>
        ${sides.length === 0
          ? nothing
          : html`<ul>
              ${sides.slice(0, MAX_SIDES_SHOWN).map(
                (side) => html`<li>
                  ${countOf(side.versions, 'version')} by <span class="mono">${side.writer}</span> in generation ${side.generation}${side.partial
                    ? html` <span class="badge warn" title="The writer saw only part of the cluster then">partitioned</span>`
                    : nothing}
                </li>`,
              )}
              ${sides.length > MAX_SIDES_SHOWN ? html`<li class="muted">and ${sides.length - MAX_SIDES_SHOWN} more writers</li>` : nothing}
            </ul>`}
      </div>
    `;
  }
}

customElements.define('engram-heal-progress', HealProgressView);

declare global {
  interface HTMLElementTagNameMap {
    'engram-heal-progress': HealProgressView;
  }
}
