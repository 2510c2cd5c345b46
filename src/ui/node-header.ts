/** The console's title bar: who this tab is, which room it is in, and whether it can find peers. */
import { LitElement, css, html, nothing } from 'lit';
import { panel } from './theme.js';

export class NodeHeader extends LitElement {
  static override properties = {
    nodeId: { attribute: false },
    room: { attribute: false },
    signalingConnected: { attribute: false },
    merkleRoot: { attribute: false },
  };

  declare nodeId: string;
  declare room: string;
  declare signalingConnected: boolean;
  /** Hex root of this replica's Merkle tree: equal across tabs that hold the same records. */
  declare merkleRoot: string | undefined;

  constructor() {
    super();
    this.nodeId = '';
    this.room = '';
    this.signalingConnected = false;
    this.merkleRoot = undefined;
  }

  static override styles = [
    panel,
    css`
      /* Wraps instead of shrinking: on a phone the fields go two to a row under the title and
         every value keeps a readable width (ellipsis with the full value on hover). */
      header {
        display: flex;
        flex-wrap: wrap;
        align-items: center;
        gap: 8px 24px;
        padding: 10px 16px;
        background: var(--em-panel);
        border: 1px solid var(--em-border);
        border-radius: 6px;
      }
      h1 {
        margin: 0;
        font-size: 16px;
        font-weight: 700;
        white-space: nowrap;
      }
      dl {
        display: grid;
        grid-template-columns: repeat(3, minmax(0, max-content));
        gap: 4px 24px;
        margin: 0;
        min-width: 0;
        flex: 1 1 auto;
      }
      dl div { min-width: 0; }
      dt {
        font-size: 10px;
        font-weight: 600;
        letter-spacing: 0.06em;
        text-transform: uppercase;
        color: var(--em-muted);
        white-space: nowrap;
      }
      dd {
        margin: 0;
        font-family: var(--em-mono);
        font-size: 13px;
        white-space: nowrap;
        overflow: hidden;
        text-overflow: ellipsis;
        max-width: 260px;
      }
      .signaling {
        margin-left: auto;
        display: flex;
        align-items: center;
        gap: 6px;
        font-weight: 600;
        white-space: nowrap;
      }
      .dot {
        width: 9px;
        height: 9px;
        border-radius: 50%;
        background: var(--em-bad);
      }
      .signaling.up .dot { background: var(--em-good); }
      .signaling.up { color: var(--em-good); }
      .signaling.down { color: var(--em-bad); }
      @media (max-width: 700px) {
        header { padding: 8px 10px; }
        dl { order: 3; flex-basis: 100%; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 4px 12px; }
        dl div.wide { grid-column: 1 / -1; }
        dd { max-width: none; }
      }
    `,
  ];

  override render() {
    const up = this.signalingConnected;
    return html`
      <header>
        <h1>Engram Mesh</h1>
        <dl>
          <div><dt>Node (this tab)</dt><dd data-testid="node-id" title=${this.nodeId}>${this.nodeId}</dd></div>
          <div><dt>Room</dt><dd data-testid="room" title=${this.room}>${this.room}</dd></div>
          ${this.merkleRoot === undefined
            ? nothing
            : html`<div class="wide" title="A fingerprint of every memory this tab holds: tabs that show the same one hold exactly the same memories.">
                <dt>Merkle root</dt><dd data-testid="merkle-root">${this.merkleRoot.slice(0, 16)}</dd>
              </div>`}
        </dl>
        <div class="signaling ${up ? 'up' : 'down'}" data-testid="signaling" title="The signaling server introduces peers; established links survive without it.">
          <span class="dot" aria-hidden="true"></span>${up ? 'Signaling connected' : 'Signaling disconnected'}
        </div>
      </header>
    `;
  }
}

customElements.define('engram-header', NodeHeader);

declare global {
  interface HTMLElementTagNameMap {
    'engram-header': NodeHeader;
  }
}
