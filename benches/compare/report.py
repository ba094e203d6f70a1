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


# The peers benches/compare.sh knows (its peer_cmd), in the order the tables list them.
PEERS = {
    "spark35": "Spark 3.5, the tutorial's job (rows), micro-batch",
    "spark4": "Spark 4, the tutorial's job (rows), micro-batch",
    "spark4_rt": "Spark 4, the tutorial's job (rows), Real-Time Mode",
    "spark4_rtds": "Spark 4, rtds's work (latest per id + 3 counts), micro-batch",
    "spark4_rtds_rt": "Spark 4, rtds's work (latest per id + 3 counts), Real-Time Mode",
    "flink": "Flink 2.3 SQL, rtds's work (latest per id + 3 counts)",
}
# The targets (27): each a ratio or a figure of one run.
TARGETS = {"throughput_over_best_peer": 3.0, "cpu_seconds_per_million": 6.0, "share_of_ceiling": 0.85,
           "p99_ms_at_5000": 50, "p99_ms_at_20000": 100, "catch_up_rss_mb": 150}


def peer_label(name, d):
    label = PEERS.get(name, name)
    return f"{label} ({d['versions']})" if d and d.get("versions") else label


def best(items, key, lowest=False):
    """(name, value) of the best peer by key among those with a figure, or (None, None)."""
    have = [(n, d[key]) for n, d in items.items() if d and d.get(key) is not None]
    if not have:
        return None, None
    return (min if lowest else max)(have, key=lambda x: x[1])


def build(p, total_seconds):
    meta = p.get("meta", {})
    users = meta.get("users")
    rtds = {k[len("rtds_"):]: v for k, v in p.items() if k.startswith("rtds_")}
    order = ["master_n2_w2", "worker_w1", "worker_w2", "worker_w4", "master_n1_w2", "master_n2_w1", "master_n2_w2_nocp"]
    rtds = {k: rtds[k] for k in order if k in rtds} | {k: v for k, v in rtds.items() if k not in order}
    peers = {}
    for name in list(PEERS) + sorted(k[5:] for k in p if k.startswith("peer_") and k[5:] not in PEERS):
        d = p.get("peer_" + name)
        if d is None:
            continue
        d = dict(d)
        ok = d.get("ok") and d.get("seconds")
        d["records_per_second"] = round(users / d["seconds"]) if ok else None
        d["cpu_seconds_per_million"] = round(d["cpu_seconds"] / users * 1e6, 1) if ok and d.get("cpu_seconds") is not None else None
        d["peak_rss_mb"] = round((d.get("jvm_peak_rss_mb") or 0) + (d.get("python_peak_rss_mb") or 0), 1) if ok else None
        peers[name] = d
    main = rtds.get("master_n2_w2")
    single = rtds.get("worker_w2")
    # Parts latency_RATE_NAME -> {rate: {"rtds": ..., peer: ...}}, rtds first, then the peers in order.
    lat = {}
    for key in p:
        if key.startswith("latency_") and key.split("_")[1].isdigit():
            rate, name = key.split("_", 2)[1:]
            d = dict(p[key])
            if name != "rtds":
                d["peak_rss_mb"] = round((d.get("jvm_peak_rss_mb") or 0) + (d.get("python_peak_rss_mb") or 0), 1)
            lat.setdefault(int(rate), {})[name] = d
    rank = {n: i for i, n in enumerate(["rtds"] + list(PEERS))}
    lat = {rate: dict(sorted(runs.items(), key=lambda kv: rank.get(kv[0], len(rank)))) for rate, runs in sorted(lat.items())}
    kcat, ceiling = p.get("kcat"), p.get("ceiling")
    g = lambda d, k: None if not d else d.get(k)  # noqa: E731
    first = lat[min(lat)] if lat else {}
    lat_peers = {n: d for n, d in first.items() if n != "rtds" and d.get("ok", True)}
    fastest, fastest_rps = best(peers, "records_per_second")
    cheapest, cheapest_cpu = best(peers, "cpu_seconds_per_million", lowest=True)
    quickest, quickest_p99 = best(lat_peers, "latency_ms_p99", lowest=True)
    ratios = {
        # rtds master -n 2 -w 2 over the fastest peer: above 1, rtds is faster
        "best_peer_throughput": fastest,
        "throughput_rtds_over_best_peer": ratio(g(main, "records_per_second"), fastest_rps),
        # CPU seconds per record, rtds over the peer that needs the least: below 1, rtds needs less
        "best_peer_cpu": cheapest,
        "cpu_per_record_rtds_over_best_peer": ratio(g(main, "cpu_seconds_per_million"), cheapest_cpu, 3),
        # p99 latency at the lowest rate, rtds over the quickest peer: below 1, rtds is quicker
        "best_peer_p99": quickest,
        "p99_latency_rtds_over_best_peer": ratio(g(first.get("rtds"), "latency_ms_p99"), quickest_p99, 3),
        # rtds master -n 2 -w 2 throughput over the limits
        "throughput_rtds_over_cassandra_ceiling": ratio(g(main, "records_per_second"), g(ceiling, "rows_per_second"), 3),
        "throughput_rtds_over_kcat": ratio(g(main, "records_per_second"), g(kcat, "records_per_second"), 3),
        # what the checkpoints cost: master -n 2 -w 2 with them (the default) over without
        "cpu_per_record_checkpoint_over_none": ratio(g(main, "cpu_seconds_per_million"),
                                                     g(rtds.get("master_n2_w2_nocp"), "cpu_seconds_per_million"), 3),
        "throughput_checkpoint_over_none": ratio(g(main, "records_per_second"),
                                                 g(rtds.get("master_n2_w2_nocp"), "records_per_second"), 3),
        "per_peer": {n: {"throughput_rtds_over_peer": ratio(g(main, "records_per_second"), d.get("records_per_second")),
                         "cpu_per_record_rtds_over_peer": ratio(g(main, "cpu_seconds_per_million"), d.get("cpu_seconds_per_million"), 3),
                         "peak_rss_rtds_worker_over_peer": ratio(g(single, "peak_rss_mb"), d.get("peak_rss_mb"), 3),
                         "p99_latency_rtds_over_peer": ratio(g(first.get("rtds"), "latency_ms_p99"), g(first.get(n), "latency_ms_p99"), 3)}
                     for n, d in peers.items()},
    }
    p99 = {rate: g(runs.get("rtds"), "latency_ms_p99") for rate, runs in lat.items()}
    limit = {5000: TARGETS["p99_ms_at_5000"], 20000: TARGETS["p99_ms_at_20000"]}
    # Every rate: rtds's p99 below each peer's that finished (a peer that fell behind and never
    # caught up has no p99 of the offered load: it does not count as beaten or as beating).
    below = [p99[rate] < d["latency_ms_p99"] for rate, runs in lat.items() for n, d in runs.items()
             if n != "rtds" and p99[rate] is not None and d.get("ok", True) and d.get("latency_ms_p99") is not None]
    targets = {
        "throughput_3x_best_peer": None if ratios["throughput_rtds_over_best_peer"] is None
        else ratios["throughput_rtds_over_best_peer"] >= TARGETS["throughput_over_best_peer"],
        "cpu_at_most_6_s_per_million": None if g(main, "cpu_seconds_per_million") is None
        else main["cpu_seconds_per_million"] <= TARGETS["cpu_seconds_per_million"],
        "at_least_85_percent_of_ceiling": None if ratios["throughput_rtds_over_cassandra_ceiling"] is None
        else ratios["throughput_rtds_over_cassandra_ceiling"] >= TARGETS["share_of_ceiling"],
        **{f"p99_within_target_at_{rate}": None if p99.get(rate) is None else p99[rate] <= limit[rate] for rate in limit if rate in lat},
        "p99_below_every_peer": all(below) if below else None,
    }
    return {
        "meta": meta | {"total_seconds": total_seconds} | {"environment": p.get("environment")},
        "ingest": p.get("ingest"),
        "rtds": rtds,
        "peers": peers,
        "limits": {"kcat": kcat, "cassandra_ceiling": ceiling},
        "latency": lat,
        "ratios": ratios,
        "targets": targets,
    }


def table(r):
    meta, users = r["meta"], r["meta"].get("users")
    lines = [f"## rtds and its peers: {fmt(users)} users, {meta.get('nproc')} cores, commit {meta.get('commit')}"
             f"{' (+ uncommitted src changes)' if meta.get('src_files_changed') else ''}, {meta.get('date')}, "
             f"whole comparison {fmt(meta.get('total_seconds'))} s", ""]
    env = meta.get("environment") or {}
    if env:
        lines += [f"Load average during the run: mean {fmt(env.get('loadavg_mean'), 1)}, max {fmt(env.get('loadavg_max'), 1)}; "
                  f"a compiler (rustc) ran during {fmt((env.get('compiler_running_fraction') or 0) * 100)} % of it"
                  f"{' (figures skewed)' if (env.get('compiler_running_fraction') or 0) > 0.05 else ''}.", ""]
    lines += ["### Throughput: a filled topic of 8 partitions until every record is in Cassandra", "",
              "Peers: from their query's start, warmed up; the seconds in brackets include the JVM's start-up and the warm-up.", "",
              "| run | records/s | seconds | CPU s | CPU s per M records | peak RSS MB | Cassandra CPU s |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    svc = lambda d: (d.get("services_cpu_seconds") or {}).get("cassandra")  # noqa: E731
    for name, d in r["rtds"].items():
        lines.append(f"| rtds `{d['config']}` | {fmt(d['records_per_second'])} | {fmt(d['seconds'], 2)} | "
                     f"{fmt(d['cpu_seconds'], 1)} | {fmt(d['cpu_seconds_per_million'], 1)} | {fmt(d['peak_rss_mb'])} | {fmt(svc(d), 1)} |")
    failed = []
    for name, s in r["peers"].items():
        if not s.get("records_per_second"):
            failed.append((name, s))
            continue
        lines.append(f"| {peer_label(name, s)}, {fmt(s.get('seconds_total'), 1)} s with start-up | "
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
    sinks = [(n, s) for n, s in r["peers"].items() if s.get("sink")]
    if sinks:
        lines += ["", "Peers' Cassandra sinks: " + "; ".join(f"{n}: {s['sink']}" for n, s in sinks) + "."]
    for name, s in failed:
        lines += ["", f"**{peer_label(name, s)}: no figure.** {s.get('error') or 'no error given'}"]
    for name, s in r["peers"].items():
        if s.get("rows_in_cassandra") not in (None, users):
            lines += ["", f"**{peer_label(name, s)} left {fmt(s['rows_in_cassandra'])} rows, not {fmt(users)}.**"]
    for rate, runs in r["latency"].items():
        lines += ["", f"### Latency: PostgreSQL commit to row in Cassandra, {fmt(rate)} users/s offered "
                      f"for {meta.get('duration')} s (ms)", "",
                  "| run | p50 | p99 | p99.9 | max | users/s produced | done, s after the load | peak RSS MB |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for name, d in runs.items():
            if name == "rtds":
                label = "rtds `worker -w 2`"
            else:
                label = peer_label(name, d)
                if d.get("batches"):
                    label += f" ({d['batches']} micro-batches, median {fmt(d.get('batch_ms_median'))} ms)"
                if not d.get("ok", True):
                    label += f" (did not finish: {(d.get('error') or '')[:200]})"
            lines.append(f"| {label} | {fmt(d.get('latency_ms_p50'))} | {fmt(d.get('latency_ms_p99'))} | "
                         f"{fmt(d.get('latency_ms_p999'))} | {fmt(d.get('latency_ms_max'))} | {fmt(d.get('achieved_rate'))} | "
                         f"{fmt(d.get('behind_seconds'), 1)} | {fmt(d.get('peak_rss_mb'))} |")
        stages = (runs.get("rtds") or {}).get("stages_p50_p99")
        if stages:
            names = {"commit_to_kafka_ms": "PostgreSQL commit -> Kafka transaction committed (`rtds cdc`)",
                     "commit_to_worker_read_ms": "PostgreSQL commit -> read by the worker's source",
                     "cassandra_write_request_ms": "one Cassandra write request (a batch of rows or a view's value)",
                     "commit_to_cassandra_ack_ms": "PostgreSQL commit -> row acknowledged by Cassandra (end to end)"}
            lines += ["", f"rtds's latency by stage at {fmt(rate)} users/s (ms; each line is measured from the commit, "
                          "except the write requests):", "", "| stage | p50 | p99 |", "|---|---:|---:|"]
            for key, (p50, p99) in stages.items():
                lines.append(f"| {names.get(key, key)} | {fmt(p50, 1 if isinstance(p50, float) else 0)} | "
                             f"{fmt(p99, 1 if isinstance(p99, float) else 0)} |")
    q = r["ratios"]
    first = r["latency"][min(r["latency"])] if r["latency"] else {}
    name = lambda n: peer_label(n, r["peers"].get(n) or first.get(n)) if n else "–"  # noqa: E731
    lines += ["", "### Ratios against the best peer of the run", "", "| ratio | best peer | value |", "|---|---|---:|",
              f"| throughput, rtds `master -n 2 -w 2` / fastest peer (higher: rtds faster) | {name(q['best_peer_throughput'])} | "
              f"{fmt(q['throughput_rtds_over_best_peer'], 2)} |",
              f"| CPU per record, rtds / cheapest peer (lower: rtds cheaper) | {name(q['best_peer_cpu'])} | "
              f"{fmt(q['cpu_per_record_rtds_over_best_peer'], 3)} |",
              f"| p99 latency at {fmt(min(r['latency'])) if r['latency'] else '–'} users/s, rtds / quickest peer (lower: rtds quicker) | {name(q['best_peer_p99'])} | "
              f"{fmt(q['p99_latency_rtds_over_best_peer'], 3)} |",
              f"| throughput, rtds / Cassandra ceiling | – | {fmt(q['throughput_rtds_over_cassandra_ceiling'], 3)} |",
              f"| throughput, rtds / kcat | – | {fmt(q['throughput_rtds_over_kcat'], 3)} |",
              f"| CPU per record, rtds with checkpoints / without (`--no-checkpoint`) | – | {fmt(q['cpu_per_record_checkpoint_over_none'], 3)} |",
              f"| throughput, rtds with checkpoints / without | – | {fmt(q['throughput_checkpoint_over_none'], 3)} |"]
    if q["per_peer"]:
        lines += ["", "| rtds over each peer | throughput | CPU per record | peak RSS (worker -w 2) | p99 latency |",
                  "|---|---:|---:|---:|---:|"]
        for n, v in q["per_peer"].items():
            lines.append(f"| {name(n)} | {fmt(v['throughput_rtds_over_peer'], 2)} | {fmt(v['cpu_per_record_rtds_over_peer'], 3)} | "
                         f"{fmt(v['peak_rss_rtds_worker_over_peer'], 3)} | {fmt(v['p99_latency_rtds_over_peer'], 3)} |")
    t = r["targets"]
    mark = lambda v: "–" if v is None else ("met" if v else "**not met**")  # noqa: E731
    lines += ["", "### Targets (issue 27)", "", "| target | |", "|---|---|",
              f"| throughput at least {TARGETS['throughput_over_best_peer']:g}x the best peer | {mark(t['throughput_3x_best_peer'])} |",
              f"| at most {TARGETS['cpu_seconds_per_million']:g} CPU s per million records | {mark(t['cpu_at_most_6_s_per_million'])} |",
              f"| at least {TARGETS['share_of_ceiling']:.0%} of the Cassandra ceiling | {mark(t['at_least_85_percent_of_ceiling'])} |",
              f"| p99 at most {TARGETS['p99_ms_at_5000']} ms at 5,000 users/s | {mark(t.get('p99_within_target_at_5000'))} |",
              f"| p99 at most {TARGETS['p99_ms_at_20000']} ms at 20,000 users/s | {mark(t.get('p99_within_target_at_20000'))} |",
              f"| p99 below every peer's, at every rate | {mark(t['p99_below_every_peer'])} |"]
    return "\n".join(lines)


COLORS = {"spark35": "#ff7f0e", "spark4": "#d62728", "spark4_rt": "#e377c2", "spark4_rtds": "#8c564b",
          "spark4_rtds_rt": "#bcbd22", "flink": "#2ca02c"}


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
    for n, d in r["peers"].items():
        if d.get("records_per_second"):
            bars.append((PEERS.get(n, n), d["records_per_second"], COLORS.get(n, "#9467bd")))
    c, k = r["limits"]["cassandra_ceiling"], r["limits"]["kcat"]
    if c:
        bars.append(("Cassandra ceiling, single rows", c["single_rows_per_second"], "#7f7f7f"))
        if c.get("batch_rows_per_second"):
            bars.append((f"Cassandra ceiling, batches of {c['batch_rows']}", c["batch_rows_per_second"], "#7f7f7f"))
    if k:
        bars.append(("kcat: Kafka to /dev/null", k["records_per_second"], "#bcbcbc"))
    # Latency: p50 and p99 of each system at each rate.
    groups = [(f"{q} at {rate:,}/s", key, rate) for rate in r["latency"] for q, key in (("p50", "latency_ms_p50"), ("p99", "latency_ms_p99"))]
    systems = []
    for runs in r["latency"].values():
        for n, d in runs.items():
            if n not in systems and d.get("latency_ms_p50") is not None:
                systems.append(n)
    fig, axes = plt.subplots(1, 2, figsize=(17, 7), gridspec_kw={"width_ratios": [3, 2]})
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
    ax.tick_params(axis="y", labelsize=8)
    ax = axes[1]
    width = 0.8 / max(1, len(systems))
    top = 1
    for i, n in enumerate(systems):
        xs = [j + (i - (len(systems) - 1) / 2) * width for j in range(len(groups))]
        # A system without a figure at a rate (not run, or never caught up) gets no bar there.
        have = [(x, (r["latency"][rate].get(n) or {}).get(key)) for x, (_, key, rate) in zip(xs, groups)]
        have = [(x, max(v, 0.5)) for x, v in have if v is not None]
        top = max([top] + [v for _, v in have])
        ax.bar([x for x, _ in have], [v for _, v in have], width, label="rtds worker -w 2" if n == "rtds" else PEERS.get(n, n),
               color="#1f77b4" if n == "rtds" else COLORS.get(n, "#9467bd"))
        for x, v in have:
            ax.text(x, v, f"{v:,.0f}", ha="center", va="bottom", fontsize=6)
    ax.set_xticks(range(len(groups)), [g[0] for g in groups], fontsize=8)
    ax.set_yscale("log")
    ax.set_ylim(top=top * 6)
    ax.set_ylabel("ms, PostgreSQL commit -> row in Cassandra (log scale)")
    ax.set_title("Latency at a fixed offered rate")
    if systems:
        ax.legend(loc="upper left", fontsize=7)
    meta = r["meta"]
    fig.suptitle(f"rtds and its peers on {meta.get('nproc')} cores (commit {meta.get('commit')}, {meta.get('date')})")
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
