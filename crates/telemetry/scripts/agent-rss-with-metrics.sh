#!/usr/bin/env bash
# What --metrics-addr costs the agent: RSS (VmHWM/VmRSS) and thread count of
# `metricpipe agent` (period 1s, shipping to a real 1-node local cluster) without and with
# the telemetry server, 30 s each; the second run is scraped once a second.
#
#   crates/telemetry/scripts/agent-rss-with-metrics.sh [BINARY]
#
# BINARY defaults to target/release/metricpipe (built if missing).
set -euo pipefail
cd "$(dirname "$0")/../../.."
BIN=${1:-target/release/metricpipe}
[ -x "$BIN" ] || cargo build --release -p metricpipe
W=$(mktemp -d)
P=
cleanup() {
  [ -n "$P" ] && kill "$P" 2>/dev/null || true
  "$BIN" local down --dir "$W/c" >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT
B=$("$BIN" local up --dir "$W/c" --port 39092 --brokers 1 2>/dev/null | tail -1)
"$BIN" topics create -b "$B" --replication-factor 1 >/dev/null
printf 'metricbeat.modules:\n- module: system\n  metricsets: [cpu, memory]\n  period: 1s\noutput.kafka:\n  hosts: ["%s"]\n  topic: metric.all\n' "$B" >"$W/mb.yml"
for mode in without with; do
  extra=()
  [ "$mode" = with ] && extra=(--metrics-addr 127.0.0.1:39464)
  METRICPIPE_LOG=warn "$BIN" agent -c "$W/mb.yml" --path.data "$W/data-$mode" "${extra[@]}" &
  P=$!
  for _ in $(seq 1 30); do
    [ "$mode" = with ] && curl -s 127.0.0.1:39464/metrics >/dev/null || true
    sleep 1
  done
  echo "$mode --metrics-addr: $(grep -E 'VmHWM|VmRSS' /proc/$P/status | tr -s ' \t' ' ' | tr '\n' ' ')threads=$(ls /proc/$P/task | wc -l)"
  if [ "$mode" = with ]; then
    curl -s 127.0.0.1:39464/metrics | grep -E '^metricpipe_agent_events_sent_total'
    curl -s -o /dev/null -w 'GET /readyz -> %{http_code}\n' 127.0.0.1:39464/readyz
  fi
  kill "$P"
  wait "$P" || true
  P=
done
