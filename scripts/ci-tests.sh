#!/usr/bin/env bash
# The README's test command, `cargo test --workspace --locked`, for CI, with one Kafka
# cluster for the whole run: the non-destructive tests of every test binary share it
# (each in topics and group ids of its own), found through METRICPIPE_TEST_BOOTSTRAP
# (crates/testkit). Drills that kill and restart brokers share one other cluster, one drill
# at a time, and the SASL_SSL tests (metricpipe's secured_pipeline and secured_refusals,
# metricpipe-local's secured) a third, each on users, topics and groups of its own (tests
# that need any 1-node cluster no one kills use it too); the mutual-TLS drill, the demos
# and the `local up` tests start clusters of their own (that is what they test).
#
# Every test target runs even after one fails (--no-fail-fast). Nothing is run twice: a
# test that fails, fails CI.
#
# Each cluster started, here or by any test or child process, adds one line
# `metricpipe-local: starting cluster …` to METRICPIPE_CLUSTER_LOG; the log ends with them
# and their count.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-target}
mkdir -p "$target"
export METRICPIPE_CLUSTER_LOG="$PWD/$target/cluster-starts.log"
: >"$METRICPIPE_CLUSTER_LOG"

# Build first, so that the cluster does not idle through the compile.
cargo test --workspace --locked --no-run
bin="$target/debug/metricpipe"

work=$(mktemp -d)
stop_clusters() {
    for dir in "$work/cluster" "$work"/clusters/*/; do
        [ -e "$dir/cluster.json" ] && "$bin" local down --dir "$dir" >/dev/null 2>&1
    done
    rm -rf "$work"
}
trap stop_clusters EXIT
# The kill drills' and the SASL_SSL clusters: started there by the
# first test binary that needs one, found there by the binaries after it (crates/testkit).
export METRICPIPE_TEST_CLUSTERS_DIR="$work/clusters"
mkdir -p "$METRICPIPE_TEST_CLUSTERS_DIR"
bootstrap=$(METRICPIPE_LOG=warn "$bin" local up --dir "$work/cluster" --brokers 3 --port 0 | head -n 1)
export METRICPIPE_TEST_BOOTSTRAP=$bootstrap
echo "ci-tests: the run's shared cluster: $bootstrap"

status=0
cargo test --workspace --locked --no-fail-fast || status=$?

printf '\nci-tests: clusters started in this run:\n'
cat "$METRICPIPE_CLUSTER_LOG"
printf 'ci-tests: %s clusters started\n' "$(grep -c '^metricpipe-local: starting cluster' "$METRICPIPE_CLUSTER_LOG")"
exit "$status"
