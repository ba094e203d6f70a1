#!/usr/bin/env python3
"""benches/compare/report.py: merges the measurements of benches/compare.sh into one JSON file,
prints the tables and ratios (Markdown) on stdout and draws the chart (matplotlib, if installed).

  report.py PARTS_DIR JSON_OUT PNG_OUT TOTAL_SECONDS
"""

import glob
import json
import os
import sys


def load(parts):
    out = {}
    for path in sorted(glob.glob(os.path.join(parts, "*.json"))):
        with open(path) as f:
            text = f.read().strip()
        if text:
            out[os.path.basename(path)[:-5]] = json.loads(text)
    return out


def ratio(a, b, digits=2):
    if a is None or b in (None, 0):
        return None
    return round(a / b, digits)


def fmt(v, digits=0):
    if v is None:
        return "–"
    if isinstance(v, (int, float)):
        if digits == 0:
            return f"{v:,.0f}"
        return f"{v:,.{digits}f}"
    return str(v)


def build(p, total_seconds):
    meta = p.get("meta", {})
    users = meta.get("users")
    rtds = {k[len("rtds_"):]: v for k, v in p.items() if k.startswith("rtds_")}
    order = ["master_n2_w2", "worker_w1", "worker_w2", "worker_w4", "master_n1_w2", "master_n2_w1"]
    rtds = {k: rtds[k] for k in order if k in rtds} | {k: v for k, v in rtds.items() if k not in order}
    spark = p.get("spark")
    if spark:
        spark = dict(spark)
        spark["records_per_second"] = round(users / spark["seconds"]) if spark.get("ok") and spark.get("seconds") else None
        spark["cpu_seconds_per_million"] = round(spark["cpu_seconds"] / users * 1e6, 1) if users else None
        spark["peak_rss_mb"] = round((spark.get("jvm_peak_rss_mb") or 0) + (spark.get("python_peak_rss_mb") or 0), 1)
    main = rtds.get("master_n2_w2")
    single = rtds.get("worker_w2")
    lat = {"rtds": p.get("latency_rtds"), "spark": p.get("latency_spark")}
    if lat["spark"]:
        lat["spark"]["peak_rss_mb"] = round((lat["spark"].get("jvm_peak_rss_mb") or 0) + (lat["spark"].get("python_peak_rss_mb") or 0), 1)
    kcat, ceiling = p.get("kcat"), p.get("ceiling")
    g = lambda d, k: None if not d else d.get(k)  # noqa: E731
    ratios = {
        # rtds master -n 2 -w 2 over Spark local[2]: above 1, rtds is faster
        "throughput_rtds_over_spark": ratio(g(main, "records_per_second"), g(spark, "records_per_second")),
        # CPU seconds per record, rtds over Spark: below 1, rtds needs less CPU
        "cpu_per_record_rtds_over_spark": ratio(g(main, "cpu_seconds_per_million"), g(spark, "cpu_seconds_per_million"), 3),
        # p99 latency at the fixed rate, rtds over Spark: below 1, rtds is quicker
        "p99_latency_rtds_over_spark": ratio(g(lat["rtds"], "latency_ms_p99"), g(lat["spark"], "latency_ms_p99"), 3),
        # peak RSS, one rtds process (worker -w 2, the throughput run) over Spark's JVM + Python driver
        "peak_rss_rtds_over_spark": ratio(g(single, "peak_rss_mb"), g(spark, "peak_rss_mb"), 3),
        # rtds master -n 2 -w 2 throughput over the limits
        "throughput_rtds_over_cassandra_ceiling": ratio(g(main, "records_per_second"), g(ceiling, "rows_per_second"), 3),
        "throughput_rtds_over_kcat": ratio(g(main, "records_per_second"), g(kcat, "records_per_second"), 3),
    }
    return {
        "meta": meta | {"total_seconds": total_seconds} | {"environment": p.get("environment")},
        "ingest": p.get("ingest"),
        "rtds": rtds,
        "spark": spark,
        "limits": {"kcat": kcat, "cassandra_ceiling": ceiling},
        "latency": lat,
        "ratios": ratios,
    }


def table(r):
    meta, users = r["meta"], r["meta"].get("users")
    lines = [f"## rtds vs Spark: {fmt(users)} users, {meta.get('nproc')} cores, commit {meta.get('commit')}"
             f"{' (+ uncommitted src changes)' if meta.get('src_files_changed') else ''}, {meta.get('date')}, "
             f"whole comparison {fmt(meta.get('total_seconds'))} s", ""]
    env = meta.get("environment") or {}
    if env:
        lines += [f"Load average during the run: mean {fmt(env.get('loadavg_mean'), 1)}, max {fmt(env.get('loadavg_max'), 1)}; "
                  f"a compiler (rustc) ran during {fmt((env.get('compiler_running_fraction') or 0) * 100)} % of it"
                  f"{' (figures skewed)' if (env.get('compiler_running_fraction') or 0) > 0.05 else ''}.", ""]
    lines += ["### Throughput: a filled topic of 8 partitions until every record is in Cassandra", "",
              "| run | records/s | seconds | CPU s | CPU s per M records | peak RSS MB | Cassandra CPU s |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    svc = lambda d: (d.get("services_cpu_seconds") or {}).get("cassandra")  # noqa: E731
    for name, d in r["rtds"].items():
        lines.append(f"| rtds `{d['config']}` | {fmt(d['records_per_second'])} | {fmt(d['seconds'], 2)} | "
                     f"{fmt(d['cpu_seconds'], 1)} | {fmt(d['cpu_seconds_per_million'], 1)} | {fmt(d['peak_rss_mb'])} | {fmt(svc(d), 1)} |")
    s = r["spark"]
    if s:
        lines.append(f"| Spark `local[2]` (from query start; {fmt(s['seconds_total'], 1)} s with JVM start-up and warm-up) | "
                     f"{fmt(s['records_per_second'])} | {fmt(s['seconds'], 2)} | {fmt(s['cpu_seconds'], 1)} | "
                     f"{fmt(s['cpu_seconds_per_million'], 1)} | {fmt(s['peak_rss_mb'])} | {fmt(svc(s), 1)} |")
    k, c = r["limits"]["kcat"], r["limits"]["cassandra_ceiling"]
    if k:
        lines.append(f"| limit: kcat, Kafka to /dev/null ({fmt(k.get('fixed_seconds'), 2)} s of start-up taken off) | "
                     f"{fmt(k['records_per_second'])} | {fmt(k['seconds'], 2)} | "
                     f"{fmt(k['cpu_seconds'], 1)} | {fmt(k['cpu_seconds'] / users * 1e6, 1)} | – | – |")
    if c:
        lines.append(f"| limit: Cassandra ceiling, single-row writes, {c['concurrency']} in flight | "
                     f"{fmt(c['single_rows_per_second'])} | {fmt(c['single_seconds'], 2)} | {fmt(c['single_client_cpu_seconds'], 1)} | "
                     f"{fmt(c['single_client_cpu_seconds'] / users * 1e6, 1)} | – | – |")
        if c.get("batch_rows_per_second"):
            lines.append(f"| limit: Cassandra ceiling, unlogged batches of {c['batch_rows']}, {c['batch_concurrency']} in flight | "
                         f"{fmt(c['batch_rows_per_second'])} | {fmt(c['batch_seconds'], 2)} | {fmt(c['batch_client_cpu_seconds'], 1)} | "
                         f"{fmt(c['batch_client_cpu_seconds'] / users * 1e6, 1)} | – | – |")
    lat = r["latency"]
    if lat["rtds"] or lat["spark"]:
        any_ = lat["rtds"] or lat["spark"]
        lines += ["", f"### Latency: PostgreSQL commit to row in Cassandra, {fmt(any_['offered_rate'])} users/s offered "
                      f"for {meta.get('duration')} s (ms)", "",
                  "| run | p50 | p99 | p99.9 | max | users/s produced | done, s after the load | peak RSS MB |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        if lat["rtds"]:
            d = lat["rtds"]
            lines.append(f"| rtds `worker -w 2` | {fmt(d['latency_ms_p50'])} | {fmt(d['latency_ms_p99'])} | "
                         f"{fmt(d['latency_ms_p999'])} | {fmt(d['latency_ms_max'])} | {fmt(d['achieved_rate'])} | "
                         f"{fmt(d.get('behind_seconds'), 1)} | {fmt(d['peak_rss_mb'])} |")
        if lat["spark"]:
            d = lat["spark"]
            lines.append(f"| Spark `local[2]` ({d['batches']} micro-batches, median {fmt(d['batch_ms_median'])} ms) | "
                         f"{fmt(d['latency_ms_p50'])} | {fmt(d['latency_ms_p99'])} | {fmt(d['latency_ms_p999'])} | "
                         f"{fmt(d['latency_ms_max'])} | {fmt(d['achieved_rate'])} | {fmt(d.get('behind_seconds'), 1)} | "
                         f"{fmt(d['peak_rss_mb'])} |")
    if s and s.get("rows_in_cassandra") not in (None, users):
        lines += ["", f"**Spark wrote {fmt(s['rows_in_cassandra'])} rows, not {fmt(users)}.**"]
    q = r["ratios"]
    lines += ["", "### Ratios", "", "| ratio | value |", "|---|---:|",
              f"| throughput, rtds / Spark (higher: rtds faster) | {fmt(q['throughput_rtds_over_spark'], 2)} |",
              f"| CPU per record, rtds / Spark (lower: rtds cheaper) | {fmt(q['cpu_per_record_rtds_over_spark'], 3)} |",
              f"| p99 latency, rtds / Spark (lower: rtds quicker) | {fmt(q['p99_latency_rtds_over_spark'], 3)} |",
              f"| peak RSS, rtds worker -w 2 / Spark JVM + driver | {fmt(q['peak_rss_rtds_over_spark'], 3)} |",
              f"| throughput, rtds / Cassandra ceiling | {fmt(q['throughput_rtds_over_cassandra_ceiling'], 3)} |",
              f"| throughput, rtds / kcat | {fmt(q['throughput_rtds_over_kcat'], 3)} |"]
    return "\n".join(lines)


def chart(r, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report.py: matplotlib is not installed; no chart", file=sys.stderr)
        return False
    bars = []
    for d in r["rtds"].values():
        bars.append((f"rtds {d['config']}", d["records_per_second"], "#1f77b4"))
    if r["spark"] and r["spark"].get("records_per_second"):
        bars.append(("Spark local[2]", r["spark"]["records_per_second"], "#ff7f0e"))
    c, k = r["limits"]["cassandra_ceiling"], r["limits"]["kcat"]
    if c:
        bars.append((f"Cassandra ceiling, single rows", c["single_rows_per_second"], "#7f7f7f"))
        if c.get("batch_rows_per_second"):
            bars.append((f"Cassandra ceiling, batches of {c['batch_rows']}", c["batch_rows_per_second"], "#7f7f7f"))
    if k:
        bars.append(("kcat: Kafka to /dev/null", k["records_per_second"], "#bcbcbc"))
    lat = [(n, d) for n, d in (("rtds worker -w 2", r["latency"]["rtds"]), ("Spark local[2]", r["latency"]["spark"])) if d]
    fig, axes = plt.subplots(1, 2, figsize=(15, 6), gridspec_kw={"width_ratios": [3, 2]})
    ax = axes[0]
    labels = [b[0] for b in bars][::-1]
    values = [b[1] or 0 for b in bars][::-1]
    # kcat is far faster than everything else: its bar is cut at the edge, its value written.
    limit = max([b[1] or 0 for b in bars if not b[0].startswith("kcat")] + [1]) * 1.3
    ax.barh(labels, [min(v, limit) for v in values], color=[b[2] for b in bars][::-1])
    ax.set_xlabel("records/s")
    ax.set_title(f"Throughput: {r['meta'].get('users'):,} records, filled topic -> Cassandra")
    for y, v in enumerate(values):
        if v > limit:
            ax.text(limit, y, f"{v:,.0f} (off the scale) ", va="center", ha="right", fontsize=9, color="black")
        elif v:
            ax.text(v, y, f" {v:,.0f}", va="center", fontsize=9)
    ax.set_xlim(0, limit)
    ax = axes[1]
    names = ["p50", "p99", "p99.9"]
    keys = ["latency_ms_p50", "latency_ms_p99", "latency_ms_p999"]
    width = 0.8 / max(1, len(lat))
    colors = {"rtds worker -w 2": "#1f77b4", "Spark local[2]": "#ff7f0e"}
    for i, (n, d) in enumerate(lat):
        xs = [j + (i - (len(lat) - 1) / 2) * width for j in range(len(names))]
        vs = [max(d.get(key) or 0, 0.5) for key in keys]
        ax.bar(xs, vs, width, label=n, color=colors[n])
        for x, v in zip(xs, vs):
            ax.text(x, v, f"{v:,.0f}", ha="center", va="bottom", fontsize=9)
    ax.set_xticks(range(len(names)), names)
    ax.set_yscale("log")
    top = max([max(d.get(k) or 1 for k in keys) for _, d in lat] + [1])
    ax.set_ylim(top=top * 6)
    ax.set_ylabel("ms, Kafka produce -> row in Cassandra (log scale)")
    rate = (r["latency"]["rtds"] or r["latency"]["spark"] or {}).get("offered_rate")
    ax.set_title(f"Latency at {rate:,} users/s offered" if rate else "Latency")
    if lat:
        ax.legend(loc="upper left")
    meta = r["meta"]
    fig.suptitle(f"rtds vs Spark Structured Streaming on {meta.get('nproc')} cores (commit {meta.get('commit')}, {meta.get('date')})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def main(argv):
    if len(argv) != 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    parts, json_out, png_out, total = argv
    r = build(load(parts), float(total))
    with open(json_out, "w") as f:
        json.dump(r, f, indent=2)
        f.write("\n")
    print(table(r))
    chart(r, png_out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
