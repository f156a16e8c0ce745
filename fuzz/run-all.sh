#!/usr/bin/env bash
# Builds every fuzz target once, replays the kept regression inputs (regressions/<target>/),
# then runs each target for SECONDS (default 20) from its seeds. Exits non-zero when any
# target crashes, leaks or times out; the input that did it is in fuzz/artifacts/<target>/.
#
#   ./run-all.sh [SECONDS] [cargo-fuzz build options...]
#
# The options go to both `cargo fuzz build` and `cargo fuzz run`: with none, the default
# build (optimised, AddressSanitizer, debug assertions); CI passes `--dev --sanitizer none`,
# which builds in about half the time (no sanitizer rebuild of the dependency tree, no
# optimisation) and still catches panics, overflows, timeouts and runaway memory.
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). The only toolchain is stable, so
# RUSTC_BOOTSTRAP=1 lets it take cargo-fuzz's nightly flags (-Zsanitizer, sancov passes).
set -euo pipefail

seconds="${1:-20}"
shift || true
build_options=("$@")
fuzz_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$fuzz_dir"

export RUSTC_BOOTSTRAP=1
export CARGO_INCREMENTAL=0

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "run-all.sh: cargo-fuzz is not installed (cargo install cargo-fuzz --locked)" >&2
    exit 2
fi

logs="$fuzz_dir/target/logs"
mkdir -p "$logs"

started=$(date +%s)
cargo fuzz build "${build_options[@]}"
echo "fuzz: built all targets in $(( $(date +%s) - started ))s"

failed=()
targets=($(cargo fuzz list))
for target in "${targets[@]}"; do
    regressions=("$fuzz_dir/regressions/$target"/*)
    if [[ -e "${regressions[0]}" ]]; then
        echo "fuzz: $target replays ${#regressions[@]} regression input(s)"
        if ! cargo fuzz run "${build_options[@]}" "$target" "${regressions[@]}" \
            2>"$logs/$target-regressions.log"; then
            tail -n 40 "$logs/$target-regressions.log" >&2
            failed+=("$target (regression)")
            continue
        fi
    fi
    # A scratch corpus per run: the tracked seeds are read, never written.
    work_corpus="$fuzz_dir/corpus/$target/generated"
    mkdir -p "$work_corpus"
    echo "fuzz: $target for ${seconds}s"
    if ! cargo fuzz run "${build_options[@]}" "$target" "$work_corpus" "$fuzz_dir/corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=10 -print_final_stats=1 \
        2>"$logs/$target.log"; then
        tail -n 40 "$logs/$target.log" >&2
        failed+=("$target")
        continue
    fi
    grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec)' \
        "$logs/$target.log" || true
done

# wal_reader's per-process segment file (see fuzz_targets/wal_reader.rs).
rm -f "${TMPDIR:-/tmp}"/sightline-fuzz-wal-*.wal

echo "fuzz: $(( ${#targets[@]} - ${#failed[@]} )) passed, ${#failed[@]} failed"
if (( ${#failed[@]} > 0 )); then
    echo "fuzz: failed: ${failed[*]} (inputs under fuzz/artifacts/<target>/)" >&2
    exit 1
fi
