#!/usr/bin/env bash
# The cross-engine browser test drives Debian's Firefox ESR through puppeteer-core over WebDriver
# BiDi (Playwright's own Firefox is a patched build it cannot download here, and it cannot drive
# stock Firefox). On Debian as root it is installed with apt-get when absent; elsewhere, say what to install.
set -euo pipefail
FIREFOX="${FIREFOX_PATH:-/usr/bin/firefox-esr}"
if [ -x "$FIREFOX" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Firefox not found at $FIREFOX: installing Debian's firefox-esr package..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq firefox-esr >/dev/null
  exit 0
fi
echo "The cross-engine browser test needs Firefox at $FIREFOX (or set FIREFOX_PATH)." >&2
echo "Install it with your package manager (Debian/Ubuntu: apt-get install firefox-esr) and run again." >&2
exit 1
