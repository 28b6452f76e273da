#!/usr/bin/env bash
# Fuzz the record router for about a minute (FUZZ_SECONDS), as CI does.
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain take them.
# --sanitizer none: the router is safe Rust, and with AddressSanitizer the C dependencies
# (librdkafka and zstd, through metricpipe-streams) instrument themselves and fail to link.
# Seeds: the topology's data-driven cases. New corpus entries go to fuzz/corpus/router
# (ignored by git); a crash leaves its input in fuzz/artifacts/router and fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${FUZZ_SECONDS:-60}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz from crates.io (once)"
  cargo install cargo-fuzz --locked
fi
mkdir -p fuzz/corpus/router
export RUSTC_BOOTSTRAP=1
cargo fuzz build --sanitizer none router
cargo fuzz run --sanitizer none router fuzz/corpus/router crates/topology/tests/data/cases -- \
  -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1
