#!/usr/bin/env bash
# The browser tests drive the system's Chromium (Playwright cannot download its own here).
# On Debian as root it is installed with apt-get when absent; elsewhere, say what to install.
set -euo pipefail
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Chromium not found at $CHROMIUM: installing Debian's chromium package..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "The browser tests need Chromium at $CHROMIUM (or set CHROMIUM_PATH)." >&2
echo "Install it with your package manager (Debian/Ubuntu: apt-get install chromium) and run again." >&2
exit 1
