"""benches/baselines/procstat.py: what the peers' jobs measure of their own processes, from /proc.

Each job (spark/spark_stream.py, spark4/spark4_job.py, flink/flink_job.py) measures the whole tree
of processes it started (the JVM, Python workers) the same way, so their figures compare: CPU
seconds (user + system, threads included) and peak resident sets (VmHWM).
"""

import glob
import os

TICK = os.sysconf("SC_CLK_TCK")


def proc_tree(root):
    """root and its descendants, parents first."""
    children = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.split("/")[2]))
        except (OSError, IndexError, ValueError):
            pass
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_seconds(pids, reaped=False):
    """user + system CPU seconds of the processes and, if asked, of their reaped children
    (workers that exited and were waited for by a process of the tree)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
            if reaped:
                total += int(fields[13]) + int(fields[14])
        except (OSError, IndexError, ValueError):
            pass
    return total / TICK


def proc_info(pid):
    """(command name, e.g. "java" or "python3", peak RSS in MB) of a process; (None, None) if gone."""
    name, rss = None, None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Name:"):
                    name = line.split()[1]
                elif line.startswith("VmHWM:"):
                    rss = round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return name, rss


def peak_rss_mb(pid):
    return proc_info(pid)[1]
