/**
 * The console's palette and the panel frame every component shares. Colours are CSS custom
 * properties set once on <engram-app>; they inherit through shadow roots, so a page can retheme.
 */
import { css } from 'lit';

export const palette = css`
  :host {
    --em-bg: #f4f6f8;
    --em-panel: #ffffff;
    --em-border: #d9dee4;
    --em-text: #1f2328;
    --em-muted: #5f6b7a;
    --em-faint: #eef1f4;
    --em-accent: #0969da;
    --em-good: #1a7f37;
    --em-good-bg: #dafbe1;
    --em-warn: #9a6700;
    --em-warn-strong: #d4a72c;
    --em-warn-bg: #fff8c5;
    --em-bad: #cf222e;
    --em-bad-bg: #ffebe9;
    --em-idle: #8c959f;
    --em-idle-bg: #eaeef2;
    --em-mono: ui-monospace, SFMono-Regular, 'SF Mono', Menlo, Consolas, 'Liberation Mono', monospace;
  }
`;

/** A titled card: every component renders inside one. */
export const panel = css`
  :host {
    display: block;
    color: var(--em-text);
    font-size: 13px;
    line-height: 1.4;
  }
  .panel {
    background: var(--em-panel);
    border: 1px solid var(--em-border);
    border-radius: 6px;
    padding: 10px 12px 12px;
    box-sizing: border-box;
    height: 100%;
  }
  h2 {
    margin: 0 0 8px;
    font-size: 11px;
    font-weight: 600;
    letter-spacing: 0.06em;
    text-transform: uppercase;
    color: var(--em-muted);
    display: flex;
    align-items: baseline;
    gap: 8px;
  }
  h2 .count {
    font-weight: 500;
    letter-spacing: 0;
    text-transform: none;
  }
  .mono {
    font-family: var(--em-mono);
    font-size: 12px;
  }
  .muted {
    color: var(--em-muted);
  }
  .empty {
    color: var(--em-muted);
    font-style: italic;
    padding: 4px 0;
  }
  .badge {
    display: inline-block;
    padding: 0 7px;
    border-radius: 10px;
    font-size: 11px;
    font-weight: 600;
    line-height: 18px;
    white-space: nowrap;
  }
  .badge.good { color: var(--em-good); background: var(--em-good-bg); }
  .badge.warn { color: var(--em-warn); background: var(--em-warn-bg); }
  .badge.bad { color: var(--em-bad); background: var(--em-bad-bg); }
  .badge.idle { color: var(--em-muted); background: var(--em-idle-bg); }
  .warning {
    color: var(--em-warn);
    background: var(--em-warn-bg);
    border: 1px solid #eac54f;
    border-radius: 4px;
    padding: 4px 8px;
    font-weight: 600;
  }
  .error {
    color: var(--em-bad);
    background: var(--em-bad-bg);
    border: 1px solid #ffcecb;
    border-radius: 4px;
    padding: 4px 8px;
  }
  button {
    font: inherit;
    font-size: 12px;
    font-weight: 600;
    padding: 4px 10px;
    border-radius: 5px;
    border: 1px solid var(--em-border);
    background: #f6f8fa;
    color: var(--em-text);
    cursor: pointer;
  }
  button:hover:not(:disabled) { background: #eef1f4; }
  button.primary { background: var(--em-good); border-color: #1a7f37; color: #fff; }
  button.primary:hover:not(:disabled) { background: #1c8139; }
  button:disabled { opacity: 0.55; cursor: default; }
  input, textarea {
    font: inherit;
    font-size: 13px;
    font-weight: 400;
    color: var(--em-text);
    border: 1px solid var(--em-border);
    border-radius: 5px;
    padding: 4px 7px;
    box-sizing: border-box;
    background: #fff;
  }
  input:focus, textarea:focus {
    outline: 2px solid rgba(9, 105, 218, 0.3);
    border-color: var(--em-accent);
  }
`;
