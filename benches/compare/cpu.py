#!/usr/bin/env python3
"""benches/compare/cpu.py: samples the CPU seconds of long-running processes (the Cassandra and
Kafka JVMs) so that benches/compare.sh can say what each measured window cost them.

  cpu.py sample OUTFILE NAME=PID ... [--interval 0.25]
      appends `unix_time name cpu_seconds` lines (user + system of the process, threads included)
      until killed or every process is gone
      and, every second, the 1-minute load average (`load1`) and how many rustc processes run
      (`rustc`: another build on the machine skews every figure)
  cpu.py window OUTFILE NAME T0 T1
      CPU seconds NAME used between unix times T0 and T1 (interpolated between samples)
  cpu.py env OUTFILE
      JSON: the load average's mean and maximum over the run, and the share of seconds in which
      a rustc process was running
"""

import json
import os
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def cpu(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return None


def rustc_count():
    n = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    n += f.read().strip() == "rustc"
            except OSError:
                pass
    return n


def sample(out, targets, interval):
    last_env = 0.0
    with open(out, "a", buffering=1) as f:
        while True:
            now = time.time()
            if now - last_env >= 1.0:
                last_env = now
                f.write(f"{now:.3f} load1 {os.getloadavg()[0]:.2f}\n{now:.3f} rustc {rustc_count()}\n")
            alive = 0
            for name, pid in targets:
                c = cpu(pid)
                if c is not None:
                    alive += 1
                    f.write(f"{now:.3f} {name} {c:.2f}\n")
            if not alive:
                return
            time.sleep(interval)


def at(samples, t):
    """CPU seconds at time t, linear between the samples around it."""
    before = [s for s in samples if s[0] <= t]
    after = [s for s in samples if s[0] >= t]
    if not before:
        return after[0][1] if after else None
    if not after:
        return before[-1][1]
    (t0, c0), (t1, c1) = before[-1], after[0]
    return c0 if t1 == t0 else c0 + (c1 - c0) * (t - t0) / (t1 - t0)


def window(path, name, t0, t1):
    samples = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[1] == name:
                samples.append((float(parts[0]), float(parts[2])))
    a, b = at(samples, t0), at(samples, t1)
    return None if a is None or b is None else round(b - a, 2)


def main(argv):
    if len(argv) >= 3 and argv[0] == "sample":
        interval = 0.25
        if "--interval" in argv:
            i = argv.index("--interval")
            interval = float(argv[i + 1])
            argv = argv[:i] + argv[i + 2:]
        targets = [(a.split("=")[0], int(a.split("=")[1])) for a in argv[2:]]
        sample(argv[1], targets, interval)
        return 0
    if len(argv) == 2 and argv[0] == "env":
        load, rustc = [], []
        with open(argv[1]) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[1] == "load1":
                    load.append(float(parts[2]))
                elif len(parts) == 3 and parts[1] == "rustc":
                    rustc.append(float(parts[2]) > 0)
        print(json.dumps({
            "loadavg_mean": round(sum(load) / len(load), 2) if load else None,
            "loadavg_max": max(load) if load else None,
            "compiler_running_fraction": round(sum(rustc) / len(rustc), 3) if rustc else None,
        }))
        return 0
    if len(argv) == 5 and argv[0] == "window":
        v = window(argv[1], argv[2], float(argv[3]), float(argv[4]))
        print("null" if v is None else v)
        return 0
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
