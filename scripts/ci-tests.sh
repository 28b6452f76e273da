#!/usr/bin/env bash
# The README's test command, `cargo test --workspace --locked`, for CI: every test target
# runs even after one fails (--no-fail-fast), and each failed target runs once more.
#
# Why a second run: most targets start real 3-node Kafka clusters on a 2-core machine,
# where a broker's pause can outlast a test's wait. A target that fails twice fails CI; one
# that passes on its second run is named under FLAKY at the end of the log, to be fixed,
# not forgotten.
set -uo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] && exit 0

# cargo ends with "error: N target(s) failed:" and one `-p CRATE --test NAME` line each.
mapfile -t failed < <(awk '/^error: [0-9]+ targets? failed:/ {on=1; next}
    on && /^    `.*`$/ {gsub(/^    `|`$/, ""); print; next} {on=0}' "$log")
if [ "${#failed[@]}" -eq 0 ]; then
    echo "ci-tests: cargo test failed (exit $status) before any target ran" >&2
    exit "$status"
fi

flaky=()
broken=()
one_test='^-p [^ ]+ (--test [^ ]+)$'
for target in "${failed[@]}"; do
    # `-p CRATE` alone would resolve features for that crate only and rebuild what the
    # workspace build already has; an integration test's name selects it in the workspace.
    again=$target
    if [[ $target =~ $one_test ]]; then again="--workspace ${BASH_REMATCH[1]}"; fi
    printf '\n== second run: cargo test --locked %s\n' "$again"
    # Word splitting is wanted: `--workspace --test NAME`, or `-p CRATE --lib` and the like.
    # shellcheck disable=SC2086
    if cargo test --locked $again; then flaky+=("$target"); else broken+=("$target"); fi
done

if [ "${#flaky[@]}" -gt 0 ]; then
    printf '\nFLAKY (failed, then passed on a second run):\n' >&2
    printf '    %s\n' "${flaky[@]}" >&2
fi
if [ "${#broken[@]}" -gt 0 ]; then
    printf '\nFAILED twice:\n' >&2
    printf '    %s\n' "${broken[@]}" >&2
    exit 1
fi
