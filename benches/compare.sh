#!/usr/bin/env bash
# Sightline vs. a ClickHouse baseline on the same spans and the same queries.
#
#   benches/compare.sh [--spans N] [--queries N] [--connections N] [--batch-traces N]
#                      [--text-indexes] [--work-dir DIR]
#
# 1. builds the release server (cargo build --release);
# 2. runs the load generator against it, which also dumps every span sent as NDJSON in the
#    OpenTelemetry Collector ClickHouse exporter's otel_traces column form, and the trace ids
#    it looks up;
# 3. loads that NDJSON into ClickHouse (embedded, via the chDB Python package:
#    `pip install chdb`) with the exporter's schema and times the same queries there
#    (benches/clickhouse/compare.py);
# 4. prints both reports.
#
# The NDJSON takes about 1.2 KB per span (2.4 GB at the load generator's default 2M spans), in
# a temporary directory removed at exit unless --work-dir is given. --text-indexes selects the
# exporter's ClickHouse >= 26.2 index set (text indexes) instead of its bloom_filter set.
set -euo pipefail

cd "$(dirname "$0")/.."

loadgen_args=()
compare_args=()
queries=200
work_dir=""
while [ $# -gt 0 ]; do
    case "$1" in
        --spans|--connections|--batch-traces)
            loadgen_args+=("$1" "$2"); shift 2 ;;
        --queries)
            queries="$2"; shift 2 ;;
        --text-indexes)
            compare_args+=("$1"); shift ;;
        --work-dir)
            work_dir="$2"; shift 2 ;;
        *)
            echo "compare.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

if [ -n "$work_dir" ]; then
    mkdir -p "$work_dir"
else
    work_dir="$(mktemp -d "${TMPDIR:-/tmp}/sightline-compare.XXXXXX")"
    trap 'rm -rf "$work_dir"' EXIT
fi
python="${PYTHON:-python3}"
"$python" -c "import chdb" || { echo "compare.sh: needs the chdb Python package (pip install chdb)" >&2; exit 1; }

cargo build --release
cargo bench --bench loadgen -- "${loadgen_args[@]}" --queries "$queries" \
    --dump-ndjson "$work_dir/spans.ndjson" --sample-ids "$work_dir/trace-ids.txt" \
    | tee "$work_dir/sightline.txt"
"$python" benches/clickhouse/compare.py --ndjson "$work_dir/spans.ndjson" \
    --trace-ids "$work_dir/trace-ids.txt" --queries "$queries" "${compare_args[@]}" \
    | tee "$work_dir/clickhouse.txt"

echo
echo "================ Sightline ================"
cat "$work_dir/sightline.txt"
echo
echo "================ ClickHouse (otel_traces via chDB) ================"
cat "$work_dir/clickhouse.txt"
