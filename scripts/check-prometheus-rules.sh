#!/usr/bin/env bash
# `promtool check rules` and `promtool test rules` over deploy/prometheus.
#
#   scripts/check-prometheus-rules.sh
#
# promtool comes from PATH, or else from Debian's `prometheus` package, unpacked (not
# installed: installing would start a Prometheus server) into ~/.cache/metricpipe/promtool.
set -euo pipefail
cd "$(dirname "$0")/.."
promtool=$(command -v promtool || true)
if [ -z "$promtool" ]; then
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/metricpipe/promtool
  promtool=$cache/usr/bin/promtool
  if [ ! -x "$promtool" ]; then
    mkdir -p "$cache"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    # The package lists may be missing on a fresh machine.
    (cd "$work" && { apt-get download prometheus >/dev/null 2>&1 || { apt-get update -qq && apt-get download prometheus; }; })
    dpkg -x "$work"/prometheus_*.deb "$work/x"
    install -D -m 0755 "$work/x/usr/bin/promtool" "$promtool"
  fi
fi
"$promtool" --version | head -1
"$promtool" check rules deploy/prometheus/metricpipe-rules.yml
(cd deploy/prometheus && "$promtool" test rules metricpipe-rules.test.yml)
