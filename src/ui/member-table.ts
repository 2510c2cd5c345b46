/** What this node believes about every member: SWIM state, incarnation, and how long since it last heard from each. */
import { LitElement, css, html } from 'lit';
import type { Member, MemberState, NodeId } from '../core/types.js';
import { formatAgo } from './format.js';
import { panel } from './theme.js';

const STATE_TONE: Record<MemberState, string> = {
  alive: 'good',
  suspect: 'warn',
  dead: 'bad',
  left: 'idle',
  sleeping: 'idle', // A frozen tab that said so: not a failure, it heals when it wakes.
};

/** "Last heard" must tick even when nothing else changes: that silence is what suspicion is made of. */
const AGO_REFRESH_MS = 1000;

export class MemberTable extends LitElement {
  static override properties = {
    members: { attribute: false },
    selfId: { attribute: false },
    clock: { attribute: false },
    countedTotal: { attribute: false },
    nowMs: { state: true },
  };

  declare members: readonly Member[];
  declare selfId: NodeId;
  /** The clock Member.lastHeardAt is measured on (the node's scheduler). */
  declare clock: () => number;
  /**
   * The total the node's visibility counts. Above the rows' count (left members aside) after a
   * restart: members the tab saw before it that have not answered yet, which have no row.
   */
  declare countedTotal: number | undefined;
  declare private nowMs: number;
  private ticker: ReturnType<typeof setInterval> | undefined;

  constructor() {
    super();
    this.members = [];
    this.selfId = '';
    this.clock = () => performance.now();
    this.countedTotal = undefined;
    this.nowMs = 0;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    this.ticker = setInterval(() => (this.nowMs = this.clock()), AGO_REFRESH_MS);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearInterval(this.ticker);
    this.ticker = undefined;
  }

  static override styles = [
    panel,
    css`
      table {
        width: 100%;
        border-collapse: collapse;
        font-variant-numeric: tabular-nums;
      }
      th {
        text-align: left;
        font-size: 11px;
        font-weight: 600;
        color: var(--em-muted);
        border-bottom: 1px solid var(--em-border);
        padding: 3px 8px 5px 0;
      }
      td {
        padding: 5px 8px 5px 0;
        border-bottom: 1px solid var(--em-faint);
        white-space: nowrap;
      }
      tr:last-child td { border-bottom: none; }
      th.num, td.num { text-align: right; }
      .id {
        display: inline-block;
        vertical-align: bottom;
        font-family: var(--em-mono);
        font-size: 12px;
        max-width: 190px;
        overflow: hidden;
        text-overflow: ellipsis;
      }
      .self-mark {
        margin-left: 6px;
        color: var(--em-accent);
        font-size: 11px;
        font-weight: 600;
      }
      tr.self td { background: #f6faff; }
      .unheard { margin: 8px 0 0; font-size: 12px; color: var(--em-muted); }
      :host { container-type: inline-size; }
      th { white-space: nowrap; }
      /* A narrow panel (phones, tablets' two columns): one card per member, each value labelled,
         instead of columns that do not fit. A container query: the panel's width is what matters. */
      @container (max-width: 400px) {
        table, tbody, tr, td { display: block; }
        thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); }
        tr {
          display: grid;
          grid-template-columns: repeat(3, minmax(0, 1fr));
          gap: 2px 8px;
          padding: 6px 0;
          border-bottom: 1px solid var(--em-faint);
        }
        tr:last-child { border-bottom: none; }
        td { border: none; padding: 0; white-space: normal; }
        tr.self { background: #f6faff; }
        tr.self td { background: none; }
        td.node { grid-column: 1 / -1; }
        td.num { text-align: left; }
        td[data-label]::before {
          content: attr(data-label);
          display: block;
          font-size: 10px;
          color: var(--em-muted);
          text-transform: uppercase;
          letter-spacing: 0.04em;
        }
        .id { max-width: 100%; }
      }
    `,
  ];

  protected override willUpdate(changed: Map<PropertyKey, unknown>): void {
    // Fresh data deserves a fresh "now"; the ticker only covers the quiet seconds between.
    if (changed.has('members') || changed.has('clock')) this.nowMs = this.clock();
  }

  private renderUnheard() {
    const counted = this.members.filter((member) => member.state !== 'left' && member.state !== 'sleeping').length;
    const unheard = (this.countedTotal ?? counted) - counted;
    if (unheard <= 0) return '';
    return html`<p class="unheard" data-testid="members-unheard">
      + ${unheard} member${unheard === 1 ? '' : 's'} this tab saw before it restarted, not heard from since (counted as not visible)
    </p>`;
  }

  override render() {
    const rows = [...this.members].sort(
      (a, b) => Number(b.id === this.selfId) - Number(a.id === this.selfId) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
    return html`
      <section class="panel" aria-labelledby="members-title">
        <h2 id="members-title">Members <span class="count">${this.members.length}</span></h2>
        <table data-testid="member-table">
          <thead>
            <tr>
              <th scope="col">Node</th><th scope="col">State</th>
              <th scope="col" class="num" title="A member's own counter, raised when it refutes a suspicion of itself">Incarnation</th>
              <th scope="col" class="num">Last heard</th>
            </tr>
          </thead>
          <tbody>
            ${rows.map((member) => {
              const isSelf = member.id === this.selfId;
              return html`
                <tr class=${isSelf ? 'self' : ''} data-member=${member.id} data-state=${member.state}>
                  <td class="node"><span class="id" title=${member.id}>${member.id}</span>${isSelf ? html`<span class="self-mark">this tab</span>` : ''}</td>
                  <td data-label="State"><span class="badge ${STATE_TONE[member.state]}">${member.state}</span></td>
                  <td class="num" data-label="Incarnation">${member.incarnation}</td>
                  <td class="num" data-label="Last heard">${isSelf ? '—' : formatAgo(member.lastHeardAt, this.nowMs)}</td>
                </tr>
              `;
            })}
          </tbody>
        </table>
        ${this.renderUnheard()}
      </section>
    `;
  }
}

customElements.define('engram-member-table', MemberTable);

declare global {
  interface HTMLElementTagNameMap {
    'engram-member-table': MemberTable;
  }
}
