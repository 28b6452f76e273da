#!/usr/bin/env bash
# The agent's footprint at Metricbeat's default 10 s period, shipping cpu and memory events
# to a real local Kafka cluster: peak and final RSS (VmHWM/VmRSS), CPU time (utime+stime from
# /proc/PID/stat) over the run as a percentage of one core, threads, and where the resident
# memory goes (scripts/rss-breakdown.py over /proc/PID/smaps).
#
#   bench/agent-footprint.sh [SECONDS] [BINARY]
#
# SECONDS defaults to 30 (a CI-sized check; the figures in docs/PERFORMANCE.md use 180 or
# more); BINARY to target/release/metricpipe (built if missing). A 3-node cluster (BROKERS to
# change) starts on free ports in a temporary directory and is removed at the end; run it under
# `flock /tmp/kafka.lock` on a shared machine. EXTRA_YML is appended under output.kafka (e.g.
# "  librdkafka.queue.buffering.max.kbytes: 64"); the agent inherits the environment, so
# MALLOC_ARENA_MAX=1 and the like apply to it. MAX_RSS_KIB, when set, fails the run (exit 3)
# if the peak RSS is above it. DOWN_BOOTSTRAP=127.0.0.1:1 starts no cluster and measures the
# agent with every broker down (no lock needed). DOWN_AFTER=SECONDS kills every broker of the
# cluster that many seconds after the agent started (after it has connected and sent), and
# the CPU per thread is then counted from the kill: an outage as it happens in the field.
# METRICS_ADDR=127.0.0.1:PORT turns on the
# agent's /metrics and /readyz (and so its broker probe), which a stock install leaves off.
# The CPU is also given per thread name (librdkafka's threads of all its clients summed under
# theirs), counted from the end of the first 10 s, so a spike at start does not hide the
# steady state.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-30}
BIN=${2:-target/release/metricpipe}
BROKERS=${BROKERS:-3}
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

T0=$(date +%s)
# The cluster's own tools must not see the agent's allocator settings.
if [ -n "${DOWN_BOOTSTRAP:-}" ]; then
  # Every broker down: point the agent at an address where nothing listens.
  BOOTSTRAP=$DOWN_BOOTSTRAP
else
  BOOTSTRAP=$(env -u MALLOC_ARENA_MAX -u MALLOC_TRIM_THRESHOLD_ \
    "$BIN" local up --dir "$WORK/cluster" --port 0 --brokers "$BROKERS" 2>/dev/null | tail -1)
  RF=$(( BROKERS < 2 ? 1 : 2 ))
  "$BIN" topics create --bootstrap-servers "$BOOTSTRAP" --replication-factor "$RF" >/dev/null
fi
cat > "$WORK/metricbeat.yml" <<YML
metricbeat.modules:
- module: system
  metricsets: [cpu, memory]
  enabled: true
  period: 10s
output.kafka:
  hosts: ["${BOOTSTRAP%%,*}"]
  topic: 'metric.all'
${EXTRA_YML:-}
YML

"$BIN" agent -c "$WORK/metricbeat.yml" --path.data "$WORK/data" -E metricbeat.max_start_delay=0s \
  ${METRICS_ADDR:+--metrics-addr "$METRICS_ADDR"} --log info 2>"$WORK/agent.log" &
AGENT_PID=$!
TICKS=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$AGENT_PID/stat"; }
field_kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$AGENT_PID/status"; }

# Ticks per thread alive now: id, name, ticks (threads that exited are not listed).
thread_ticks() {
  for t in /proc/"$AGENT_PID"/task/*; do
    printf '%s\t%s\t%s\n' "${t##*/}" "$(cat "$t/comm")" \
      "$(sed 's/.*) //' "$t/stat" | awk '{print $12 + $13}')"
  done | sort
}

# CPU is counted from the start: connecting and the first events are part of the cost.
START_NS=$(date +%s%N)
STEADY=$(( DURATION > 20 ? 10 : 0 ))
if [ -n "${DOWN_AFTER:-}" ] && [ -z "${DOWN_BOOTSTRAP:-}" ]; then
  sleep "$DOWN_AFTER"
  for id in $(seq 1 "$BROKERS"); do "$BIN" local kill --dir "$WORK/cluster" "$id" >/dev/null 2>&1; done
  echo "every broker killed ${DOWN_AFTER} s after the agent started; measuring ${DURATION} s from 5 s later"
  sleep 5
  STEADY=$(( DOWN_AFTER + 5 ))
  MEASURE=$DURATION
else
  sleep "$STEADY"
  MEASURE=$(( DURATION - STEADY ))
fi
thread_ticks > "$WORK/threads.0"
STEADY_TICKS=$(cpu_ticks)
STEADY_NS=$(date +%s%N)
sleep "$MEASURE"
kill -0 "$AGENT_PID"
thread_ticks > "$WORK/threads.1"
END_TICKS=$(cpu_ticks)
END_NS=$(date +%s%N)
RSS_KB=$(field_kb VmRSS)
HWM_KB=$(field_kb VmHWM)
THREADS=$(field_kb Threads)
echo "cpu per thread from ${STEADY} s after the start (% of one core; exited threads, such as a"
echo "short-lived admin client's, only in the total):"
join -t $'\t' -a 2 -o 2.2,1.3,2.3 "$WORK/threads.0" "$WORK/threads.1" |
  awk -F'\t' -v n0="$STEADY_NS" -v n1="$END_NS" -v hz="$TICKS" -v t0="$STEADY_TICKS" -v t1="$END_TICKS" '
    { d[$1] += $3 - $2 }
    END {
      for (k in d) printf "  %-16s %6.3f %%\n", k, 100 * d[k] / hz / ((n1 - n0) / 1e9)
      printf "  %-16s %6.3f %%\n", "(process)", 100 * (t1 - t0) / hz / ((n1 - n0) / 1e9)
    }' | sort
echo "where the resident memory goes at the end (KiB):"
python3 scripts/rss-breakdown.py "$AGENT_PID" || true

kill -TERM "$AGENT_PID"
wait "$AGENT_PID" || true
AGENT_PID=

awk -v t1="$END_TICKS" -v n0="$START_NS" -v n1="$END_NS" -v hz="$TICKS" \
    -v rss="$RSS_KB" -v hwm="$HWM_KB" -v threads="$THREADS" 'BEGIN {
  secs = (n1 - n0) / 1e9
  cpu = t1 / hz
  printf "measured over %.0f s from start at period 10s (2 events per 10 s)\n", secs
  printf "cpu time: %.2f s = %.4f %% of one core\n", cpu, 100 * cpu / secs
  printf "rss: %.1f MiB now, %.1f MiB peak (%d KiB); threads: %d\n", rss / 1024, hwm / 1024, hwm, threads
}'
SENT=$(sed "s/\x1b\[[0-9;]*m//g" "$WORK/agent.log" | grep -E "agent stopped" | tail -1 || true)
echo "agent stopped: ${SENT:-no final line in its log}"
sed "s/\x1b\[[0-9;]*m//g" "$WORK/agent.log" | grep -E "WARN|ERROR" | tail -5 || true
echo "footprint check took $(( $(date +%s) - T0 )) s in all"
if [ -n "${MAX_RSS_KIB:-}" ] && [ "$HWM_KB" -gt "$MAX_RSS_KIB" ]; then
  echo "peak RSS ${HWM_KB} KiB is above MAX_RSS_KIB=${MAX_RSS_KIB}" >&2
  exit 3
fi
