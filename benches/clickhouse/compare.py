#!/usr/bin/env python3
"""ClickHouse baseline for the Sightline load generator.

Loads the spans the load generator sent (``--dump-ndjson``) into ClickHouse, embedded through
chDB, using the table layout of the OpenTelemetry Collector ClickHouse exporter, then times
the load generator's queries there.

Schema: opentelemetry-collector-contrib, exporter/clickhouseexporter/internal/sqltemplates/
(traces_table.sql, traces_id_ts_lookup_table.sql, traces_id_ts_lookup_mv.sql), the
template-era version in which the lookup table is an AggregatingMergeTree keyed by TraceId.
Column types, codecs, ALIAS columns, skip indexes, partitioning and sort key are the
exporter's; TTL is left out (retention plays no part here). The exporter picks its index set
from the server version: bloom_filter indexes below ClickHouse 26.2, `text` indexes from 26.2
on. The default here is the bloom_filter set; ``--text-indexes`` selects the other.

Queries:
- trace by id: the exporter README / Grafana ClickHouse plugin form, which bounds the
  Timestamp range with the otel_traces_trace_id_ts lookup table; all columns of all spans.
- searches: the 20 most recent distinct TraceIds having a matching span (ordered by the newest
  matching span start, as Sightline's search does), then, as Sightline's API also does, a
  summary of those 20 traces (root service/name, start, duration, span and error counts,
  services), read with the same lookup-table time bound. Both times are reported.

Usage: compare.py --ndjson spans.ndjson [--trace-ids ids.txt] [--queries 200]
       [--search-repetitions 20] [--text-indexes] [--keep DIR]
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

from chdb import session

TRACES_TABLE = """
CREATE TABLE otel_traces (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ParentSpanId String CODEC(ZSTD(1)),
    TraceState String CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    ScopeName String CODEC(ZSTD(1)),
    ScopeVersion String CODEC(ZSTD(1)),
    SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(T64, ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    StatusMessage String CODEC(ZSTD(1)),
    Events Nested (
        Timestamp DateTime64(9),
        Name LowCardinality(String),
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    Links Nested (
        TraceId String,
        SpanId String,
        TraceState String,
        Attributes Map(LowCardinality(String), String)
    ) CODEC(ZSTD(1)),
    ResourceAttributeItems Array(String) ALIAS arrayMap(kv -> concat(kv.1, '=', kv.2),
        CAST(ResourceAttributes, 'Array(Tuple(String, String))')),
    SpanAttributeItems Array(String) ALIAS arrayMap(kv -> concat(kv.1, '=', kv.2),
        CAST(SpanAttributes, 'Array(Tuple(String, String))')),
{indexes}
    INDEX idx_duration Duration TYPE minmax GRANULARITY 1,
    INDEX idx_lower_span_name lower(SpanName) TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 8
) ENGINE = MergeTree
PARTITION BY toDate(Timestamp)
PRIMARY KEY (ServiceName, SpanName, toDateTime(Timestamp))
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), Timestamp)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1
"""

BLOOM_FILTER_INDEXES = """
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,"""

TEXT_INDEXES = """
    INDEX idx_trace_id TraceId TYPE text(tokenizer = 'array'),
    INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE text(tokenizer = 'array'),
    INDEX idx_res_attr_items ResourceAttributeItems TYPE text(tokenizer = 'array'),
    INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE text(tokenizer = 'array'),
    INDEX idx_span_attr_items SpanAttributeItems TYPE text(tokenizer = 'array'),"""

LOOKUP_TABLE = """
CREATE TABLE otel_traces_trace_id_ts (
    TraceId String CODEC(ZSTD(1)),
    Start SimpleAggregateFunction(min, DateTime) CODEC(ZSTD(1)),
    End SimpleAggregateFunction(max, DateTime) CODEC(ZSTD(1))
) ENGINE = AggregatingMergeTree
PARTITION BY toStartOfWeek(Start)
ORDER BY (TraceId)
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1
"""

LOOKUP_VIEW = """
CREATE MATERIALIZED VIEW otel_traces_trace_id_ts_mv TO otel_traces_trace_id_ts
AS SELECT
    TraceId,
    min(toDateTime(Timestamp)) AS Start,
    max(toDateTime(Timestamp)) AS End
FROM otel_traces
WHERE TraceId != ''
GROUP BY TraceId
"""

# Trace by id, bounded by the lookup table (exporter README, Grafana ClickHouse plugin).
TRACE_BY_ID = """
WITH '{trace_id}' AS trace_id,
    (SELECT min(Start) FROM otel_traces_trace_id_ts WHERE TraceId = trace_id) AS trace_start,
    (SELECT max(End) + 1 FROM otel_traces_trace_id_ts WHERE TraceId = trace_id) AS trace_end
SELECT *
FROM otel_traces
WHERE TraceId = trace_id AND Timestamp >= trace_start AND Timestamp <= trace_end
"""

# The 20 most recent distinct traces with a matching span. The load generator searches with
# start=0 and no end (= now); all spans are older than now, so no time condition is added.
SEARCH = """
SELECT TraceId
FROM otel_traces
WHERE {condition}
GROUP BY TraceId
ORDER BY max(Timestamp) DESC
LIMIT 20
"""

# What Sightline's search answers on top of the ids: one summary per trace.
SUMMARIES = """
WITH [{ids}] AS ids,
    (SELECT min(Start) FROM otel_traces_trace_id_ts WHERE TraceId IN ids) AS trace_start,
    (SELECT max(End) + 1 FROM otel_traces_trace_id_ts WHERE TraceId IN ids) AS trace_end
SELECT
    TraceId,
    argMinIf(ServiceName, Timestamp, ParentSpanId = '') AS root_service_name,
    argMinIf(SpanName, Timestamp, ParentSpanId = '') AS root_span_name,
    toUnixTimestamp64Nano(min(Timestamp)) AS start_time_unix_nano,
    max(toUnixTimestamp64Nano(Timestamp) + Duration) - start_time_unix_nano AS duration_nanos,
    count() AS span_count,
    countIf(StatusCode = 'Error') AS error_count,
    groupUniqArray(ServiceName) AS services
FROM otel_traces
WHERE TraceId IN ids AND Timestamp >= trace_start AND Timestamp <= trace_end
GROUP BY TraceId
ORDER BY start_time_unix_nano DESC
"""


def searches(text_indexes):
    status_503 = (
        "has(SpanAttributeItems, 'http.response.status_code=503')"
        if text_indexes
        else "SpanAttributes['http.response.status_code'] = '503'"
    )
    return [
        ("search by service", "ServiceName = 'svc-07'"),
        ("search by operation", "ServiceName = 'svc-07' AND SpanName = 'GET /api/v1/items/{id}'"),
        ("search by attribute", status_503),
        ("search by duration", "Duration >= 900000000"),
    ]


def percentile(sorted_values, fraction):
    """The load generator's percentile: nearest rank on the sorted samples."""
    if not sorted_values:
        return 0.0
    return sorted_values[round((len(sorted_values) - 1) * fraction)]


def timed(sess, sql, fmt="JSONEachRow"):
    started = time.perf_counter()
    result = sess.query(sql, fmt)
    payload = result.bytes()
    return (time.perf_counter() - started) * 1000.0, payload


def scalar(sess, sql):
    return sess.query(sql, "TSV").bytes().decode().strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ndjson", required=True, help="spans from loadgen --dump-ndjson")
    parser.add_argument("--trace-ids", help="trace ids for 'trace by id', one a line (loadgen --sample-ids)")
    parser.add_argument("--queries", type=int, default=200, help="trace-by-id lookups (loadgen --queries)")
    parser.add_argument("--search-repetitions", type=int, default=20, help="runs of each search (loadgen: 20)")
    parser.add_argument("--text-indexes", action="store_true", help="the exporter's ClickHouse >= 26.2 index set")
    parser.add_argument("--keep", help="keep the chDB data here instead of a removed temp dir")
    args = parser.parse_args()
    ndjson = os.path.abspath(args.ndjson)
    if "'" in ndjson or "\\" in ndjson:
        sys.exit("compare.py: the --ndjson path may not contain quotes or backslashes")

    data_dir = args.keep or tempfile.mkdtemp(prefix="sightline-chdb-")
    sess = session.Session(data_dir)
    try:
        version = scalar(sess, "SELECT version()")
        sess.query("CREATE DATABASE IF NOT EXISTS otel")
        sess.query("USE otel")
        indexes = TEXT_INDEXES if args.text_indexes else BLOOM_FILTER_INDEXES
        sess.query(TRACES_TABLE.format(indexes=indexes))
        sess.query(LOOKUP_TABLE)
        sess.query(LOOKUP_VIEW)

        started = time.perf_counter()
        sess.query(f"INSERT INTO otel_traces FROM INFILE '{ndjson}' FORMAT JSONEachRow")
        load_seconds = time.perf_counter() - started
        started = time.perf_counter()
        sess.query("OPTIMIZE TABLE otel_traces FINAL")
        sess.query("OPTIMIZE TABLE otel_traces_trace_id_ts FINAL")
        optimize_seconds = time.perf_counter() - started

        spans = int(scalar(sess, "SELECT count() FROM otel_traces"))
        traces = int(scalar(sess, "SELECT count() FROM otel_traces_trace_id_ts"))
        sizes = {}
        for line in scalar(
            sess,
            "SELECT table, sum(bytes_on_disk), count() FROM system.parts "
            "WHERE active AND database = 'otel' GROUP BY table ORDER BY table",
        ).splitlines():
            table, size, parts = line.split("\t")
            sizes[table] = (int(size), int(parts))
        total_bytes = sum(size for size, _ in sizes.values())

        if args.trace_ids:
            with open(args.trace_ids) as file:
                ids = [line.strip() for line in file if line.strip()]
        else:
            ids = scalar(
                sess, "SELECT TraceId FROM otel_traces_trace_id_ts ORDER BY cityHash64(TraceId) LIMIT 1024"
            ).splitlines()
        if not ids:
            sys.exit("compare.py: no trace ids")
        lookups = [ids[index % len(ids)] for index in range(args.queries)]

        rows = []
        millis = []
        found = 0
        for trace_id in lookups:
            elapsed, payload = timed(sess, TRACE_BY_ID.format(trace_id=trace_id))
            millis.append(elapsed)
            found += payload.count(b"\n") > 0
        millis.sort()
        rows.append(("trace by id (lookup-table time bound)", percentile(millis, 0.5), percentile(millis, 0.99), None, None))

        for label, condition in searches(args.text_indexes):
            ids_only, with_summaries = [], []
            for _ in range(args.search_repetitions):
                search_ms, payload = timed(sess, SEARCH.format(condition=condition), "TSV")
                hits = payload.decode().split()
                summary_ms, _ = timed(sess, SUMMARIES.format(ids=", ".join(f"'{hit}'" for hit in hits)))
                ids_only.append(search_ms)
                with_summaries.append(search_ms + summary_ms)
            ids_only.sort()
            with_summaries.sort()
            rows.append((
                f"{label} ({len(hits)} traces)",
                percentile(ids_only, 0.5),
                percentile(ids_only, 0.99),
                percentile(with_summaries, 0.5),
                percentile(with_summaries, 0.99),
            ))
    finally:
        sess.close()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)

    index_set = "text" if args.text_indexes else "bloom_filter"
    print(f"clickhouse baseline: chDB, ClickHouse {version}, otel_traces ({index_set} indexes) + trace id lookup table")
    print(
        f"load: {spans} spans ({traces} traces) in {load_seconds:.1f}s = {spans / load_seconds:.0f} rows/s "
        f"(INSERT FROM INFILE JSONEachRow, MV included; informational); OPTIMIZE FINAL {optimize_seconds:.1f}s"
    )
    for table, (size, parts) in sizes.items():
        print(f"  {table}: {size} bytes in {parts} active part(s)")
    print(f"bytes on disk: {total_bytes} = {total_bytes / max(spans, 1):.1f} bytes/span")
    print(f"trace by id: {len(lookups)} lookups over {len(ids)} ids, {found} found")
    print()
    print(f"{'query':<46} {'ids p50':>9} {'ids p99':>9} {'+summ p50':>10} {'+summ p99':>10}  (ms)")
    for label, p50, p99, s50, s99 in rows:
        extra = f"{s50:>10.2f} {s99:>10.2f}" if s50 is not None else f"{'-':>10} {'-':>10}"
        print(f"{label:<46} {p50:>9.2f} {p99:>9.2f} {extra}")


if __name__ == "__main__":
    main()
