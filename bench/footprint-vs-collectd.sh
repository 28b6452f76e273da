#!/usr/bin/env bash
# The agent's footprint beside collectd's write_kafka plugin, in the same run: both collect cpu
# and memory every 10 s and ship them to the same local 3-node Kafka cluster. For each: peak RSS
# (VmHWM), RSS at the end, and CPU time (utime+stime from /proc/PID/stat) over the window, as a
# percentage of one core.
#
#   bench/footprint-vs-collectd.sh [SECONDS] [BINARY]
#
# SECONDS defaults to 600 (the issue's 10 minutes); BINARY to target/release/metricpipe (built
# if missing). collectd comes from Debian: `apt-get install collectd-core librdkafka1 libyajl2`.
# Extends bench/agent-footprint.sh (agent only) with the lightweight peer.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-600}
BIN=${2:-target/release/metricpipe}
COLLECTD=${COLLECTD:-/usr/sbin/collectd}
if [ ! -x "$COLLECTD" ] || ldd /usr/lib/collectd/write_kafka.so 2>/dev/null | grep -q "not found"; then
  echo "collectd with write_kafka is missing: apt-get install collectd-core librdkafka1 libyajl2" >&2
  exit 1
fi
if [ ! -x "$BIN" ]; then
  cargo build --release -p metricpipe
fi
WORK=$(mktemp -d)
AGENT_PID=
COLLECTD_PID=
cleanup() {
  [ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null || true
  [ -n "$COLLECTD_PID" ] && kill "$COLLECTD_PID" 2>/dev/null || true
  "$BIN" local down --dir "$WORK/cluster" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=${PORT:-19192}
BOOTSTRAP=$("$BIN" local up --dir "$WORK/cluster" --port "$PORT" --brokers 3 2>/dev/null | tail -1)
"$BIN" topics create --bootstrap-servers "$BOOTSTRAP" >/dev/null
"$BIN" topics create --bootstrap-servers "$BOOTSTRAP" --all-topic collectd.metrics >/dev/null
FIRST=${BOOTSTRAP%%,*}

cat > "$WORK/metricbeat.yml" <<YML
metricbeat.modules:
- module: system
  metricsets: [cpu, memory]
  enabled: true
  period: 10s
output.kafka:
  hosts: ["$FIRST"]
  topic: 'metric.all'
YML

# collectd's closest setup: the cpu and memory plugins every 10 s, aggregated cpu as
# percentages, JSON to Kafka through write_kafka (librdkafka, like the agent).
cat > "$WORK/collectd.conf" <<CONF
Hostname "collectd-peer"
FQDNLookup false
BaseDir "$WORK/collectd"
PIDFile "$WORK/collectd.pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
Interval 10
LoadPlugin logfile
<Plugin logfile>
  LogLevel warning
  File "$WORK/collectd.log"
</Plugin>
LoadPlugin cpu
LoadPlugin memory
LoadPlugin write_kafka
<Plugin cpu>
  ReportByCpu false
  ReportByState true
  ValuesPercentage true
</Plugin>
<Plugin write_kafka>
  Property "metadata.broker.list" "$FIRST"
  <Topic "collectd.metrics">
    Format JSON
  </Topic>
</Plugin>
CONF
mkdir -p "$WORK/collectd"

"$BIN" agent -c "$WORK/metricbeat.yml" --path.data "$WORK/data" -E metricbeat.max_start_delay=0s \
  --log warn 2>"$WORK/agent.log" &
AGENT_PID=$!
"$COLLECTD" -f -C "$WORK/collectd.conf" 2>"$WORK/collectd.stderr" &
COLLECTD_PID=$!

TICKS=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
field_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# Let both start, connect and send their first events before measuring.
sleep 15
for p in "$AGENT_PID:agent:$WORK/agent.log" "$COLLECTD_PID:collectd:$WORK/collectd.log"; do
  if ! kill -0 "${p%%:*}" 2>/dev/null; then
    name=${p#*:}; echo "${name%%:*} did not stay up; its log:" >&2; cat "${p##*:}" >&2; exit 1
  fi
done
A0=$(cpu_ticks "$AGENT_PID"); C0=$(cpu_ticks "$COLLECTD_PID"); N0=$(date +%s%N)
ELAPSED=0
while [ "$ELAPSED" -lt "$DURATION" ]; do
  STEP=$(( DURATION - ELAPSED < 60 ? DURATION - ELAPSED : 60 ))
  sleep "$STEP"
  ELAPSED=$(( ELAPSED + STEP ))
  kill -0 "$AGENT_PID" && kill -0 "$COLLECTD_PID"
  echo "  ${ELAPSED}s: agent rss $(field_kb "$AGENT_PID" VmRSS) KiB, collectd rss $(field_kb "$COLLECTD_PID" VmRSS) KiB" >&2
done
A1=$(cpu_ticks "$AGENT_PID"); C1=$(cpu_ticks "$COLLECTD_PID"); N1=$(date +%s%N)
report() { # name t0 t1 pid
  awk -v name="$1" -v t0="$2" -v t1="$3" -v n0="$N0" -v n1="$N1" -v hz="$TICKS" \
      -v rss="$(field_kb "$4" VmRSS)" -v hwm="$(field_kb "$4" VmHWM)" -v threads="$(field_kb "$4" Threads)" 'BEGIN {
    secs = (n1 - n0) / 1e9; cpu = (t1 - t0) / hz
    printf "| %s | %.0f | %.2f | %.4f %% | %.1f | %.1f | %d |\n", name, secs, cpu, 100 * cpu / secs, rss / 1024, hwm / 1024, threads
  }'
}
echo "| process | seconds | CPU-s | CPU, % of one core | RSS MiB (end) | peak RSS MiB | threads |"
echo "|---|---|---|---|---|---|---|"
report "metricpipe agent" "$A0" "$A1" "$AGENT_PID"
report "collectd 5.12 (cpu, memory, write_kafka)" "$C0" "$C1" "$COLLECTD_PID"

# Both must really have shipped: count what each put on metric.all.
kill -TERM "$AGENT_PID" "$COLLECTD_PID"
wait "$AGENT_PID" "$COLLECTD_PID" 2>/dev/null || true
AGENT_PID=; COLLECTD_PID=
echo
echo "agent records on metric.all:"
"$BIN" bench count --bootstrap-servers "$BOOTSTRAP" --topic metric.all 2>/dev/null || true
echo "collectd records on collectd.metrics:"
"$BIN" bench count --bootstrap-servers "$BOOTSTRAP" --topic collectd.metrics 2>/dev/null || true
grep -E "WARN|ERROR" "$WORK/agent.log" | tail -3 || true
grep -iE "error|warn" "$WORK/collectd.log" 2>/dev/null | tail -3 || true
