#!/usr/bin/env bash
# The partition suite cuts real packets when it can: each browser in its own network namespace,
# cut with iptables (e2e/harness/netns.ts). That needs root, iproute2 and iptables. As root on
# Debian the missing tools are installed with apt-get; anywhere else this only says what the
# suite will do instead (soft partitions), and never fails the test run.
set -euo pipefail
missing=()
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || missing+=(iproute2)
command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || missing+=(iptables)
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing ${missing[*]} for hard partitions in the browser tests..."
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  exit 0
fi
echo "Hard partitions need root, iproute2 and iptables (missing: ${missing[*]}); the partition suite will use soft partitions." >&2
exit 0
