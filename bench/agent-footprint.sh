#!/usr/bin/env bash
# The agent's footprint at Metricbeat's default 10 s period, shipping cpu and memory events
# to a real local Kafka cluster: peak and final RSS (VmHWM/VmRSS) and CPU time
# (utime+stime from /proc/PID/stat) over the run, as a percentage of one core.
#
#   bench/agent-footprint.sh [SECONDS] [BINARY]
#
# SECONDS defaults to 180; BINARY defaults to target/release/metricpipe (built if missing).
# A 3-node cluster is started on port 19092 in a temporary directory and removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-180}
BIN=${2:-target/release/metricpipe}
if [ ! -x "$BIN" ]; then
  cargo build --release -p metricpipe
fi
WORK=$(mktemp -d)
AGENT_PID=
cleanup() {
  [ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null || true
  "$BIN" local down --dir "$WORK/cluster" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

BOOTSTRAP=$("$BIN" local up --dir "$WORK/cluster" --port 19092 --brokers 3 2>/dev/null | tail -1)
"$BIN" topics create --bootstrap-servers "$BOOTSTRAP" >/dev/null
cat > "$WORK/metricbeat.yml" <<YML
metricbeat.modules:
- module: system
  metricsets: [cpu, memory]
  enabled: true
  period: 10s
output.kafka:
  hosts: ["${BOOTSTRAP%%,*}"]
  topic: 'metric.all'
YML

"$BIN" agent -c "$WORK/metricbeat.yml" --path.data "$WORK/data" -E metricbeat.max_start_delay=0s \
  --log info 2>"$WORK/agent.log" &
AGENT_PID=$!
TICKS=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$AGENT_PID/stat"; }

# Let it start, connect and send its first events before measuring.
sleep 15
START_TICKS=$(cpu_ticks)
START_NS=$(date +%s%N)
sleep "$DURATION"
END_TICKS=$(cpu_ticks)
END_NS=$(date +%s%N)
RSS_KB=$(awk '/^VmRSS/ {print $2}' "/proc/$AGENT_PID/status")
HWM_KB=$(awk '/^VmHWM/ {print $2}' "/proc/$AGENT_PID/status")
THREADS=$(awk '/^Threads/ {print $2}' "/proc/$AGENT_PID/status")

kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || true
AGENT_PID=

awk -v t0="$START_TICKS" -v t1="$END_TICKS" -v n0="$START_NS" -v n1="$END_NS" -v hz="$TICKS" \
    -v rss="$RSS_KB" -v hwm="$HWM_KB" -v threads="$THREADS" 'BEGIN {
  secs = (n1 - n0) / 1e9
  cpu = (t1 - t0) / hz
  printf "measured over %.0f s at period 10s (2 events per 10 s)\n", secs
  printf "cpu time: %.2f s = %.4f %% of one core\n", cpu, 100 * cpu / secs
  printf "rss: %.1f MiB now, %.1f MiB peak; threads: %d\n", rss / 1024, hwm / 1024, threads
}'
echo "agent log (warnings and the final counts):"
sed "s/\x1b\[[0-9;]*m//g" "$WORK/agent.log" | grep -E "WARN|ERROR|agent stopped" | tail -5 || true
