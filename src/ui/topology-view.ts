/**
 * The mesh as this node sees it: every known node on a circle (this one at the top), a line for
 * each of this node's links coloured by its state, dashed where the member at the far end is not
 * alive. A partition shows as dashed lines to one side while the links may still be open.
 */
import { LitElement, css, html, svg } from 'lit';
import type { Member, MemberState, NodeId } from '../core/types.js';
import type { LinkInfo, LinkState } from './engram-handle.js';
import { formatBytes, linkSummary } from './format.js';
import { panel } from './theme.js';

const WIDTH = 340;
const HEIGHT = 250;
const CENTRE_X = WIDTH / 2;
const CENTRE_Y = HEIGHT / 2 + 2;
const RADIUS = 88;
const NODE_RADIUS = 9;
/** Beyond this many nodes the labels would overlap; each node keeps its name in a tooltip. */
const MAX_LABELLED_NODES = 14;
const LABEL_CHARS = 9;

interface PlacedNode {
  readonly id: NodeId;
  readonly x: number;
  readonly y: number;
  readonly angle: number;
  readonly state: MemberState | undefined;
}

/** This node at the top, the others clockwise in id order, so the picture is stable across renders. */
export function placeOnCircle(selfId: NodeId, ids: readonly NodeId[]): Array<{ id: NodeId; x: number; y: number; angle: number }> {
  const others = [...new Set(ids)].filter((id) => id !== selfId).sort();
  const ordered = [selfId, ...others];
  return ordered.map((id, index) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * index) / ordered.length;
    return { id, angle, x: CENTRE_X + RADIUS * Math.cos(angle), y: CENTRE_Y + RADIUS * Math.sin(angle) };
  });
}

function shortLabel(id: NodeId): string {
  return id.length > LABEL_CHARS ? `${id.slice(0, LABEL_CHARS - 1)}…` : id;
}

export class TopologyView extends LitElement {
  static override properties = {
    selfId: { attribute: false },
    members: { attribute: false },
    links: { attribute: false },
  };

  declare selfId: NodeId;
  declare members: readonly Member[];
  declare links: readonly LinkInfo[];

  constructor() {
    super();
    this.selfId = '';
    this.members = [];
    this.links = [];
  }

  static override styles = [
    panel,
    css`
      svg { display: block; margin: 0 auto; max-width: 100%; height: auto; }
      line { stroke-width: 2.5; }
      line.open { stroke: var(--em-good); }
      line.connecting, line.authenticating { stroke: var(--em-accent); }
      line.failed { stroke: var(--em-bad); }
      line.closed, line.none { stroke: var(--em-idle); }
      line.not-alive { stroke-dasharray: 6 5; }
      circle { stroke: #fff; stroke-width: 2; }
      circle.alive { fill: var(--em-good); }
      circle.suspect { fill: var(--em-warn-strong); }
      circle.dead { fill: var(--em-bad); }
      circle.left, circle.unknown { fill: var(--em-idle); }
      circle.self-ring { fill: none; stroke: var(--em-accent); stroke-width: 2; }
      text { font-size: 11px; fill: var(--em-text); font-family: var(--em-mono); }
      text.self { font-weight: 700; fill: var(--em-accent); }
      .legend {
        display: flex;
        flex-wrap: wrap;
        gap: 4px 14px;
        justify-content: center;
        font-size: 11px;
        color: var(--em-muted);
        margin-top: 4px;
      }
      .legend span { display: inline-flex; align-items: center; gap: 5px; }
      .swatch { width: 18px; height: 0; border-top: 2.5px solid; }
      .swatch.open { border-color: var(--em-good); }
      .swatch.connecting { border-color: var(--em-accent); }
      .swatch.failed { border-color: var(--em-bad); }
      .swatch.not-alive { border-top-style: dashed; border-color: var(--em-idle); }
    `,
  ];

  override render() {
    const membersById = new Map(this.members.map((member) => [member.id, member] as const));
    const linksByPeer = new Map(this.links.map((link) => [link.peer, link] as const));
    const ids = [...membersById.keys(), ...linksByPeer.keys(), this.selfId];
    const nodes: PlacedNode[] = placeOnCircle(this.selfId, ids).map((placed) => ({
      ...placed,
      state: membersById.get(placed.id)?.state,
    }));
    const self = nodes[0];
    const labelled = nodes.length <= MAX_LABELLED_NODES;
    return html`
      <section class="panel" aria-labelledby="topology-title">
        <h2 id="topology-title">Topology <span class="count">${linkSummary(this.links, this.members)}</span></h2>
        <svg width=${WIDTH} height=${HEIGHT} viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="mesh topology" data-testid="topology">
          ${self ? nodes.slice(1).map((node) => this.renderEdge(self, node, linksByPeer.get(node.id))) : ''}
          ${nodes.map((node) => this.renderNode(node, labelled))}
        </svg>
        <div class="legend">
          <span><i class="swatch open"></i>open</span>
          <span><i class="swatch connecting"></i>connecting</span>
          <span><i class="swatch failed"></i>failed</span>
          <span><i class="swatch not-alive"></i>member not alive</span>
        </div>
      </section>
    `;
  }

  private renderEdge(self: PlacedNode, node: PlacedNode, link: LinkInfo | undefined) {
    const notAlive = node.state !== undefined && node.state !== 'alive';
    if (!link && !notAlive) return svg``;
    const linkState: LinkState | 'none' = link?.state ?? 'none';
    const title = link
      ? `${node.id}: link ${link.state}, ${formatBytes(link.bytesIn)} in / ${formatBytes(link.bytesOut)} out${notAlive ? `, member ${node.state}` : ''}`
      : `${node.id}: no link, member ${node.state}`;
    return svg`
      <line class="${linkState} ${notAlive ? 'not-alive' : ''}" data-peer=${node.id} data-link=${linkState}
        x1=${self.x} y1=${self.y} x2=${node.x} y2=${node.y}><title>${title}</title></line>
    `;
  }

  private renderNode(node: PlacedNode, labelled: boolean) {
    const isSelf = node.id === this.selfId;
    const labelRadius = RADIUS + NODE_RADIUS + 8;
    const cos = Math.cos(node.angle);
    const labelX = CENTRE_X + labelRadius * cos;
    const labelY = CENTRE_Y + labelRadius * Math.sin(node.angle) + 4;
    const anchor = Math.abs(cos) < 0.3 ? 'middle' : cos > 0 ? 'start' : 'end';
    // Labels straight above or below sit clear of the node by moving up or down a little more.
    const verticalNudge = Math.abs(cos) < 0.3 ? Math.sign(Math.sin(node.angle)) * 4 : 0;
    return svg`
      <g data-node=${node.id} data-state=${node.state ?? 'unknown'}>
        ${isSelf ? svg`<circle class="self-ring" cx=${node.x} cy=${node.y} r=${NODE_RADIUS + 4}></circle>` : ''}
        <circle class=${node.state ?? 'unknown'} cx=${node.x} cy=${node.y} r=${NODE_RADIUS}>
          <title>${node.id}${isSelf ? ' (this tab)' : ''}: ${node.state ?? 'not a member yet'}</title>
        </circle>
        ${labelled
          ? svg`<text class=${isSelf ? 'self' : ''} x=${labelX} y=${labelY + verticalNudge} text-anchor=${anchor}>${shortLabel(node.id)}</text>`
          : ''}
      </g>
    `;
  }
}

customElements.define('engram-topology', TopologyView);

declare global {
  interface HTMLElementTagNameMap {
    'engram-topology': TopologyView;
  }
}
