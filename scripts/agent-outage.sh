#!/usr/bin/env bash
# The agent with every broker down: is its memory bounded, and what does it drop and send?
#
#   scripts/agent-outage.sh [OUTAGE_SECONDS] [BINARY]
#
# Starts a local 3-node cluster and two `metricpipe agent` processes (release build):
#   shipped  metricbeat.yml as Metricbeat installs it: cpu and memory every 10 s, the default
#            queue (queue.mem.events 3,200), to metric.all;
#   small    cpu and memory every 1 s, `queue.mem.events: 100`, `required_acks: -1`, to
#            metric.small: 2 events/s, so a long outage fills its queue and shows the
#            drop-oldest bound at work.
# After WARMUP seconds (default 30) it SIGKILLs every broker, keeps them down for
# OUTAGE_SECONDS (default 600; 60 is a CI-sized run of about 2.5 minutes), starts them again
# and waits until both queues have drained (at most DRAIN seconds, default 120). Every SAMPLE
# seconds (default 10) it writes one line per agent to $OUT (default agent-outage.tsv): RSS,
# peak RSS, the queue depth and the collected/sent/dropped/failed counters from the agent's
# /metrics. At the end it prints per agent the RSS before, the highest during and the RSS
# after the outage, what was dropped and sent, and the records that arrived in its topic
# (`metricpipe bench count`); the agents' logs go beside $OUT. Exits 3 if an agent's peak RSS grew by more than
# MAX_GROWTH_KIB (default 2048) from the moment the brokers went down, or if an agent lost
# an event it did not count as dropped (small agent, acks=all).
#
# LOCK=/tmp/kafka.lock takes that lock (flock) while the cluster starts and runs, and lets go
# of it while every broker is down, so others' cluster jobs can run during a long outage; the
# brokers stay down until it is free again, so the outage may be longer than asked.
set -euo pipefail
cd "$(dirname "$0")/.."
OUTAGE=${1:-600}
BIN=${2:-target/release/metricpipe}
WARMUP=${WARMUP:-30}
SAMPLE=${SAMPLE:-10}
DRAIN=${DRAIN:-120}
OUT=${OUT:-agent-outage.tsv}
MAX_GROWTH_KIB=${MAX_GROWTH_KIB:-2048}
if [ ! -x "$BIN" ]; then
  echo "no $BIN: build it with cargo build --release -p metricpipe" >&2
  exit 2
fi
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for n in shipped small; do cp "$WORK/$n/agent.log" "${OUT%.tsv}.$n.log" 2>/dev/null || true; done
  "$BIN" local down --dir "$WORK/cluster" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
# With an argument, samples that phase every SAMPLE seconds while it waits for the lock.
lock() {
  [ -n "${LOCK:-}" ] || return 0
  exec 9>"$LOCK"
  if [ -z "${1:-}" ]; then flock 9; return; fi
  until flock -n 9; do sleep "$SAMPLE"; sample "$1"; done
}
unlock() { if [ -n "${LOCK:-}" ]; then flock -u 9; exec 9>&-; fi; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
T0=$(date +%s)
now() { echo $(( $(date +%s) - T0 )); }

lock
T0=$(date +%s)
echo "$(date -u +%T) starting a 3-node cluster (load $(load))"
BOOTSTRAP=$("$BIN" local up --dir "$WORK/cluster" --port 0 --brokers 3 2>/dev/null | tail -1)
"$BIN" topics create -b "$BOOTSTRAP" >/dev/null
"$BIN" topics create -b "$BOOTSTRAP" --all-topic metric.small >/dev/null

NAMES=(shipped small)
declare -A PID ADDR TOPIC
start_agent() { # name topic period extra-yaml
  local d="$WORK/$1"
  mkdir -p "$d"
  cat > "$d/metricbeat.yml" <<YML
metricbeat.modules:
- module: system
  metricsets: [cpu, memory]
  enabled: true
  period: $3
output.kafka:
  hosts: ["${BOOTSTRAP%%,*}"]
  topic: '$2'
$4
YML
  ADDR[$1]=127.0.0.1:$(free_port)
  TOPIC[$1]=$2
  "$BIN" agent -c "$d/metricbeat.yml" --path.data "$d/data" -E metricbeat.max_start_delay=0s \
    --metrics-addr "${ADDR[$1]}" --log info 2>"$d/agent.log" &
  PID[$1]=$!
  PIDS+=("$!")
}
start_agent shipped metric.all 10s ""
start_agent small metric.small 1s "  required_acks: -1
queue.mem.events: 100"

kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/${PID[$1]}/status"; }
# The sum of a counter or gauge over all its label sets, 0 when absent.
metric() {
  curl -sf "http://${ADDR[$1]}/metrics" |
    awk -v n="$2" '$1 == n || index($1, n "{") == 1 {s += $NF} END {printf "%d\n", s}'
}
# CPU time used so far, user plus system, in clock ticks (1/100 s).
ticks() { sed 's/.*) //' "/proc/${PID[$1]}/stat" | awk '{print $12 + $13}'; }
sample() { # phase
  for n in "${NAMES[@]}"; do
    kill -0 "${PID[$n]}" || { echo "agent $n exited; its log:" >&2; tail "$WORK/$n/agent.log" >&2; exit 1; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(now)" "$1" "$n" "$(kib "$n" VmRSS)" \
      "$(kib "$n" VmHWM)" "$(metric "$n" metricpipe_agent_queue_depth)" \
      "$(metric "$n" metricpipe_agent_events_collected_total)" \
      "$(metric "$n" metricpipe_agent_events_sent_total)" \
      "$(metric "$n" metricpipe_agent_events_dropped_total)" \
      "$(metric "$n" metricpipe_agent_events_failed_total)" "$(load)" "$(ticks "$n")" >> "$OUT"
  done
}
printf 'elapsed_s\tphase\tagent\trss_kib\thwm_kib\tqueue_depth\tcollected\tsent\tdropped\tfailed\tloadavg\tcpu_ticks\n' > "$OUT"

for _ in $(seq 1 $(( WARMUP / SAMPLE ))); do sleep "$SAMPLE"; sample up; done
sleep 1
declare -A HWM_DOWN RSS_DOWN
for n in "${NAMES[@]}"; do HWM_DOWN[$n]=$(kib "$n" VmHWM); RSS_DOWN[$n]=$(kib "$n" VmRSS); done
for id in 1 2 3; do "$BIN" local kill --dir "$WORK/cluster" "$id" >/dev/null; done
DOWN_AT=$(date +%s)
echo "$(date -u +%T) every broker killed (load $(load)); down for ${OUTAGE} s"
sample down
unlock
while [ $(( $(date +%s) - DOWN_AT )) -lt "$OUTAGE" ]; do sleep "$SAMPLE"; sample down; done

# Still down while waiting for the lock: the outage may run longer than asked (printed).
lock down
for id in 1 2 3; do "$BIN" local start --dir "$WORK/cluster" "$id" >/dev/null; done
UP_AT=$(date +%s)
echo "$(date -u +%T) brokers started again after $(( UP_AT - DOWN_AT )) s down (load $(load))"
sample restarted
# Drained: both queues empty and something sent since the restart.
declare -A SENT_AT_UP
for n in "${NAMES[@]}"; do SENT_AT_UP[$n]=$(metric "$n" metricpipe_agent_events_sent_total); done
while [ $(( $(date +%s) - UP_AT )) -lt "$DRAIN" ]; do
  sleep "$SAMPLE"
  sample after
  done_all=1
  for n in "${NAMES[@]}"; do
    # Acknowledgements are counted up to a second late: an agent at a 1 s period shows
    # its last two events as held.
    if [ "$(metric "$n" metricpipe_agent_queue_depth)" -gt 2 ] ||
       [ "$(metric "$n" metricpipe_agent_events_sent_total)" -le "${SENT_AT_UP[$n]}" ]; then
      done_all=0
    fi
  done
  [ "$done_all" = 1 ] && break
done
echo "$(date -u +%T) drained $(( $(date +%s) - UP_AT )) s after the restart (load $(load))"
for n in "${NAMES[@]}"; do kill -TERM "${PID[$n]}"; done
for n in "${NAMES[@]}"; do wait "${PID[$n]}" || true; done
PIDS=()

status=0
for n in "${NAMES[@]}"; do
  arrived=$("$BIN" bench count -b "$BOOTSTRAP" --topic "${TOPIC[$n]}" --timeout 60s --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["records"])')
  awk -F'\t' -v a="$n" -v arrived="$arrived" -v rss0="${RSS_DOWN[$n]}" -v hwm0="${HWM_DOWN[$n]}" \
      -v growth="$MAX_GROWTH_KIB" -v strict="$([ "$n" = small ] && echo 1 || echo 0)" '
    $3 != a { next }
    $2 == "down" && $4 > maxdown { maxdown = $4 }
    $2 == "down" { qmax = ($6 > qmax ? $6 : qmax); coll_down = $7; sent_down = $8; drop_down = $9 }
    $2 == "down" { n++; t[n] = $1; r[n] = $4; c[n] = $12 }
    { last_rss = $4; last_hwm = $5; coll = $7; sent = $8; drop = $9; fail = $10 }
    END {
      printf "%s: RSS %d KiB when the brokers went down, at most %d KiB while down, %d KiB at the end; peak %d -> %d KiB\n", a, rss0, maxdown, last_rss, hwm0, last_hwm
      if (n > 2) {
        h = int((n + 1) / 2)
        printf "%s: while down: CPU %.3f %% of a core; RSS %+d KiB in the first half (%d s), %+d KiB in the second (%d s)\n", a, (c[n] - c[1]) / (t[n] - t[1]), r[h] - r[1], t[h] - t[1], r[n] - r[h], t[n] - t[h]
      }
      printf "%s: while down: queue at most %d, collected %d, sent %d, dropped %d; at the end: collected %d, sent %d, dropped %d, failed %d; %d records in its topic\n", a, qmax, coll_down, sent_down, drop_down, coll, sent, drop, fail, arrived
      bad = 0
      if (last_hwm - hwm0 > growth) { print a ": peak RSS grew by more than " growth " KiB during the outage"; bad = 1 }
      if (strict && arrived + drop + fail < coll - 2) { print a ": " coll - drop - fail - arrived " events lost uncounted"; bad = 1 }
      exit bad
    }' "$OUT" || status=3
done
"$BIN" local down --dir "$WORK/cluster" >/dev/null 2>&1 || true
unlock
echo "samples in $OUT; took $(( $(date +%s) - T0 )) s in all"
exit "$status"
