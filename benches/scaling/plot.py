#!/usr/bin/env python3
"""benches/scaling/plot.py: the charts and table of benches/scaling.sh, from the JSON it left in DIR
(grid-SIZE.json from benches/compare.sh, restart-SIZE.json from benches/restart.sh).

  plot.py DIR      -> DIR/scaling-size.png, DIR/scaling-grid.png, a Markdown table on stdout
"""

import json
import sys
from pathlib import Path


def load(out):
    grids = {int(p.stem.split("-")[1]): json.loads(p.read_text()) for p in out.glob("grid-*.json")}
    restarts = {int(p.stem.split("-")[1]): json.loads(p.read_text()) for p in out.glob("restart-*.json")}
    return dict(sorted(grids.items())), dict(sorted(restarts.items()))


def cells(grid):
    """(processes, workers) -> run, for every master run of one compare.sh result."""
    return {(r["processes"], r["workers"]): r for name, r in grid["rtds"].items()
            if name.startswith("master_") and not name.endswith("_nocp")}


def fmt(v, digits=0):
    return "–" if v is None else f"{v:,.{digits}f}"


def table(grids, restarts):
    sizes = sorted(set(grids) | set(restarts))
    lines = ["| users | records/s (-n 2 -w 2) | CPU s per M | peak RSS MB | restart: first new durable epoch (s) "
             "| restart, checkpoints deleted (s) | workers' RSS after restart MB |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for size in sizes:
        main = cells(grids[size]).get((2, 2), {}) if size in grids else {}
        rs = restarts.get(size, {})
        lines.append(f"| {size:,} | {fmt(main.get('records_per_second'))} | {fmt(main.get('cpu_seconds_per_million'), 1)} | "
                     f"{fmt(main.get('peak_rss_mb'))} | {fmt(rs.get('resumed', {}).get('first_durable_s'), 1)} | "
                     f"{fmt(rs.get('read_back', {}).get('first_durable_s'), 1)} | {fmt(rs.get('resumed', {}).get('worker_rss_mb'))} |")
    for size, grid in grids.items():
        c = cells(grid)
        meta = grid.get("meta", {})
        lines += ["", f"{size:,} users, `master --local -n N -w W`: records/s (CPU s per M records, peak RSS MB); "
                      f"commit {meta.get('commit', '?')}{' with changes' if meta.get('src_files_changed') else ''}, {meta.get('date', '?')}", "",
                  "| processes | " + " | ".join(f"-w {w}" for w in sorted({w for _, w in c})) + " |",
                  "|---:|" + "---:|" * len({w for _, w in c})]
        for n in sorted({n for n, _ in c}):
            row = [c.get((n, w)) for w in sorted({w for _, w in c})]
            lines.append(f"| -n {n} | " + " | ".join("–" if r is None else f"{fmt(r['records_per_second'])} "
                                                   f"({fmt(r['cpu_seconds_per_million'], 1)}, {fmt(r['peak_rss_mb'])})" for r in row) + " |")
    return "\n".join(lines)


def draw(grids, restarts, out):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot.py: matplotlib is not installed; no charts", file=sys.stderr)
        return
    sizes = sorted(grids)
    main = [cells(grids[s]).get((2, 2), {}) for s in sizes]
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
    series = [("records/s", "records_per_second"), ("CPU s per million records", "cpu_seconds_per_million"),
              ("peak RSS of the largest process, MB", "peak_rss_mb")]
    for ax, (title, key) in zip(axes, series):
        ax.plot(sizes, [m.get(key) for m in main], "o-", color="#1f77b4")
        ax.set_xscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("users moved, master --local -n 2 -w 2")
        ax.set_ylim(bottom=0)
    rs = sorted(restarts)
    ax = axes[3]
    ax.set_title("restart to the first new durable epoch, s", fontsize=10)
    if rs:
        ax.plot(rs, [restarts[s].get("resumed", {}).get("first_durable_s") for s in rs], "o-", label="from the checkpoints")
        ax.plot(rs, [restarts[s].get("read_back", {}).get("first_durable_s") for s in rs], "s--", label="checkpoints deleted")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("users stored, master --local -n 2 -w 2")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no restart run (RESTART=0)", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    fig.savefig(out / "scaling-size.png", dpi=100)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for size in sizes:
        c = cells(grids[size])
        labels = [f"-n {n} -w {w}" for n, w in sorted(c)]
        axes[0].plot(labels, [c[k]["records_per_second"] for k in sorted(c)], "o-", label=f"{size:,} users")
        axes[1].plot(labels, [c[k]["cpu_seconds_per_million"] for k in sorted(c)], "o-", label=f"{size:,} users")
    axes[0].set_title("records/s, master --local (2 cores, Cassandra and Kafka beside)", fontsize=10)
    axes[1].set_title("CPU s per million records (rtds's processes)", fontsize=10)
    for ax in axes:
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    fig.savefig(out / "scaling-grid.png", dpi=100)
    plt.close(fig)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    grids, restarts = load(out)
    if not grids and not restarts:
        sys.exit(f"plot.py: no grid-*.json or restart-*.json in {out}")
    print(table(grids, restarts))
    draw(grids, restarts, out)


if __name__ == "__main__":
    main()
