#!/usr/bin/env bash
# Fuzz the record router for about a minute (FUZZ_SECONDS), as CI does.
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain take them.
# --sanitizer none: the router is safe Rust, so AddressSanitizer would only slow the run.
# The target builds metricpipe-streams without its `runtime` feature: no librdkafka, OpenSSL
# or zstd to compile (they were most of this script's time).
# Seeds: the topology's data-driven cases. New corpus entries go to fuzz/corpus/router
# (ignored by git); a crash leaves its input in fuzz/artifacts/router and fails the script.
#
# `--build-only` installs cargo-fuzz and builds the target, and runs nothing: CI builds it in
# the background while the tests run, then runs the smoke on its own.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${FUZZ_SECONDS:-60}"
build_only=false
case "${1:-}" in
  --build-only) build_only=true ;;
  "") ;;
  *) echo "unknown argument $1; usage: scripts/fuzz-smoke.sh [--build-only]" >&2; exit 2 ;;
esac
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz from crates.io (once)"
  cargo install cargo-fuzz --locked
fi
mkdir -p fuzz/corpus/router
# cargo fuzz has no --locked: a stale fuzz/Cargo.lock would be re-resolved silently.
cargo metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null ||
  { echo "fuzz/Cargo.lock is out of date: run cargo update --manifest-path fuzz/Cargo.toml --workspace and commit it" >&2; exit 1; }
export RUSTC_BOOTSTRAP=1
cargo fuzz build --sanitizer none router
"$build_only" && exit 0
cargo fuzz run --sanitizer none router fuzz/corpus/router crates/topology/tests/data/cases -- \
  -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1
