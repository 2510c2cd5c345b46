/**
 * The Chromium every browser test here runs: the system's (Debian's package; Playwright's own
 * browser downloads are not assumed), with the flags a cluster of tabs on one machine needs.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS: string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // Host ICE candidates as real addresses, not mDNS names nobody here can resolve.
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];
