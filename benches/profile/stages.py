#!/usr/bin/env python3
"""benches/profile/stages.py: a worker's instructions per record and per stage, from two
callgrind profiles (benches/profile.sh): one over a topic of one record (start-up, set-up and
shut-down) and one over RECORDS records; the difference over RECORDS - 1 is the cost a record.

Each function's own instructions (callgrind's self cost, every thread) go to the first stage in
STAGES whose pattern its name matches. A function that matches none (the allocator, memcpy,
hash maps, the standard library) is charged to its callers instead, in proportion to the
instructions each caller's calls to it cost, up the call graph until a stage matches (a
function no stage reaches is "other"). So "dedupe" includes the allocations the dedupe makes.

  stages.py --records N --base BASE.callgrind --full FULL.callgrind [--reports FULL.out]
            [--meta JSON] [--json FILE] [--top N]

Prints a Markdown table and, with --top, the functions that cost most a record in each stage.
"""

import argparse
import json
import re
import sys
from collections import defaultdict

# First match wins: a pattern of the function's name (a demangled Rust path, `<a::B as c::D>::f`,
# or a C symbol), or one of rtds's own source files (a closure inlined into one of timely's generic
# operator builders is named after the builder, but its file is rtds's).
STAGES = [
    ("Kafka consume (librdkafka, rdkafka, the source)",
     r"^rd_|^rdkafka|^<rdkafka|rdkafka::|^cnd_|^mtx_|^thrd_|^LZ4_|^ZSTD_|^snappy|^crc32c|rtds::connectors::kafka::source",
     r"connectors/kafka/source/"),
    ("decode (JSON or Avro to columns)",
     r"serde_json::|sonic_rs::|rtds::model::raw|rtds::model::change|rtds::sql::decode|rtds::engine::cluster::graph::parse_change|rtds::connectors::registry|apache_avro",
     r"sql/decode\.rs|model/(raw|change)\.rs|connectors/registry/"),
    ("expectations and expressions",
     r"rtds::sql::expr|rtds::sql::kept|rtds::sql::check|rtds::model::checks|regex_automata::|regex::|^<regex",
     r"sql/(expr|kept|check)\.rs"),
    ("dedupe: latest version per id (with its checkpoint)",
     r"rtds::operators::upsert|rtds::checkpoint|^fjall::|^<fjall|^lsm_tree::|^<lsm_tree|^lz4_flex|^value_log|crossbeam_skiplist|byteview",
     r"operators/upsert\.rs|checkpoint/"),
    ("aggregates (differential)",
     r"differential_dataflow::|^<differential_dataflow|rtds::sql::render|rtds::connectors::cassandra::views",
     r"sql/render\.rs|connectors/cassandra/views\.rs"),
    ("CQL encoding",
     r"scylla_cql(_core)?::(serialize|frame)|scylla::serialize|rtds::connectors::cassandra::(sink|split)|CassandraTables::write",
     r"connectors/cassandra/(sink|split)\.rs"),
    ("Cassandra driver (scylla, tokio)",
     r"scylla|^tokio::|^<tokio|^mio::|^futures|rtds::operators::async_sink|rtds::connectors::cassandra::(tables|state|ring)",
     r"operators/async_sink\.rs|connectors/cassandra/(tables|state|ring)\.rs"),
    ("durable offsets and epochs",
     r"rtds::operators::watermark|rtds::connectors::cassandra::offsets",
     r"operators/watermark\.rs|connectors/cassandra/offsets\.rs"),
    ("timely (scheduling, progress, channels)",
     r"^timely|^<timely|timely_communication|timely_container|timely_bytes|timely_logging", None),
    ("reports (a line a second: weighs more a record under callgrind's slowdown)",
     r"hdrhistogram::iterators|rtds::engine::cluster::report|rtds::engine::status",
     r"engine/cluster/report\.rs|engine/status/"),
    ("metrics and logs",
     r"rtds::metrics|hdrhistogram|^tracing|^<tracing", r"src/metrics/"),
]
MEMORY = re.compile(r"^_?mi_|^mi_|memcpy|memmove|memset|^malloc$|^free$|^realloc$|^calloc$|__rust_alloc|__rust_dealloc|__rust_realloc|__rdl_")
COMPILED = [(name, re.compile(by_name), re.compile(r"/src/(" + by_file + ")") if by_file else None) for name, by_name, by_file in STAGES]


def parse(path):
    """Self cost per function and inclusive cost per call edge (caller, callee), from a callgrind
    out file (name compression and every thread's part merged). A function is its source file
    and its name: closures of timely's generic operator builders carry rtds's file."""
    names, files = {}, {}  # fn= and cfn= share one space; fl=, fi=, fe=, cfi=, cfl= another
    self_cost = defaultdict(int)
    edges = defaultdict(int)
    total = 0
    file = here = ""
    callee_file = None
    current = callee = None
    pending_call = False

    def lookup(table, value):
        value = value.strip()
        m = re.match(r"\((\d+)\)(?: (.*))?$", value)
        if not m:
            return value
        if m.group(2) is not None:
            table[m.group(1)] = m.group(2)
        return table[m.group(1)]

    with open(path, errors="replace") as f:
        for line in f:
            if not line or line[0] == "#":
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                fields = line.split()
                cost = int(fields[1]) if len(fields) > 1 else 0
                if pending_call:
                    edges[(current, callee)] += cost
                    pending_call = False
                else:
                    self_cost[current] += cost
                    total += cost
            elif line.startswith("fl="):
                file = here = lookup(files, line[3:])
            elif line.startswith(("fi=", "fe=")):
                here = lookup(files, line[3:])  # inlined code: its cost stays the function's
            elif line.startswith(("cfi=", "cfl=")):
                callee_file = lookup(files, line[4:])
            elif line.startswith("fn="):
                current = (file, lookup(names, line[3:]))
                here, callee_file = file, None
            elif line.startswith("cfn="):
                # Without cfi=, the callee's file is the one the position is in.
                callee = (callee_file or here, lookup(names, line[4:]))
                callee_file = None
            elif line.startswith("calls="):
                pending_call = True
    return self_cost, edges, total


def without_type_arguments(name):
    """A name without the type arguments that follow a path segment (`drop_in_place<rtds::X>`,
    `Vec<T>::push`): they say which types, not whose code, and would match another stage's
    pattern. Qualified paths that start a segment (`<A as B>::f`) are kept."""
    out, depth = [], 0
    for i, c in enumerate(name):
        if c == "<" and (depth or (i and (name[i - 1].isalnum() or name[i - 1] == "_"))):
            depth += 1
        elif c == ">" and depth:
            depth -= 1
        elif not depth:
            out.append(c)
    return "".join(out)


def is_rtds(file):
    """One of rtds's source files (not a crate's, the standard library's or a build script's)."""
    return "/src/" in file and "/.cargo/" not in file and "/target/" not in file and not file.startswith("/rustc/")


def stage_of(fn):
    file, name = fn
    name = without_type_arguments(name)
    own = is_rtds(file)
    for stage, by_name, by_file in COMPILED:
        if by_name.search(name) or (own and by_file and by_file.search(file)):
            return stage
    return None


def attribute(self_cost, edges):
    """Instructions per stage and per (stage, function): unmatched functions' own cost goes to
    their callers' stages in proportion to the edges' inclusive costs."""
    callers = defaultdict(list)
    for (caller, callee), cost in edges.items():
        if caller != callee and cost > 0:
            callers[callee].append((caller, cost))
    # Unmatched functions that call each other in a loop (recursion) get one distribution: the
    # strongly connected components of the unmatched part of the call graph (Tarjan's, without
    # recursion), each after the components of its callers, which Tarjan's order gives.
    nodes = set(self_cost) | set(callers)
    matched = {fn: stage_of(fn) for fn in nodes}
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    for root in nodes:
        if root in index or matched[root]:
            continue
        work = [(root, iter(callers.get(root, ())))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            fn, edges_left = work[-1]
            for caller, _ in edges_left:
                if matched.get(caller) or caller not in nodes:
                    continue
                if caller not in index:
                    index[caller] = low[caller] = len(index)
                    stack.append(caller)
                    on_stack.add(caller)
                    work.append((caller, iter(callers.get(caller, ()))))
                    break
                if caller in on_stack:
                    low[fn] = min(low[fn], index[caller])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[fn])
                if low[fn] == index[fn]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == fn:
                            break
                    components.append(component)
    memo = {fn: {stage: 1.0} for fn, stage in matched.items() if stage}
    for component in components:
        members = set(component)
        out, weight = defaultdict(float), 0
        for fn in component:
            for caller, cost in callers.get(fn, ()):
                if caller in members:
                    continue
                for s, fraction in memo.get(caller, {"other": 1.0}).items():
                    out[s] += fraction * cost
                weight += cost
        result = {s: v / weight for s, v in out.items()} if weight else {"other": 1.0}
        for fn in component:
            memo[fn] = result

    by_stage = defaultdict(float)
    by_function = defaultdict(float)
    for fn, cost in self_cost.items():
        for s, fraction in memo.get(fn, {"other": 1.0}).items():
            by_stage[s] += cost * fraction
            by_function[(s, fn)] += cost * fraction
    return by_stage, by_function


def label(fn):
    """A function's name, and for a closure of a generic builder the rtds file it is in."""
    file, name = fn
    if is_rtds(file) and "{{closure}}" in name:
        return f"{name} ({file[file.rindex('/src/') + 1:]})"
    return name


def records_per_epoch(path):
    """Records a durable epoch, from the worker's last report line (`--report`): epochs count
    from the worker's start, so those before the first record lower it a little."""
    last = None
    with open(path) as f:
        for line in f:
            if line.startswith("rtds-report "):
                last = json.loads(line[len("rtds-report "):])
    if not last or not last.get("durable_epoch"):
        return None
    return last["records_in"] / last["durable_epoch"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--full", required=True)
    ap.add_argument("--reports")
    ap.add_argument("--meta", default="{}")
    ap.add_argument("--json")
    ap.add_argument("--top", type=int, default=5)
    args = ap.parse_args()
    n = args.records - 1
    base_self, base_edges, base_total = parse(args.base)
    full_self, full_edges, full_total = parse(args.full)
    base_stage, base_fn = attribute(base_self, base_edges)
    full_stage, full_fn = attribute(full_self, full_edges)
    per_record = {s: (full_stage[s] - base_stage.get(s, 0.0)) / n for s in full_stage}
    per_fn = defaultdict(list)
    for (s, fn), v in full_fn.items():
        per_fn[s].append((((v - base_fn.get((s, fn), 0.0)) / n), fn))
    memory = lambda selfs: sum(c for (_, name), c in selfs.items() if MEMORY.search(name))
    order = [name for name, _, _ in STAGES] + ["other"]
    per_epoch = records_per_epoch(args.reports) if args.reports else None
    result = dict(json.loads(args.meta))
    result.update({
        "instructions_per_record": round((full_total - base_total) / n),
        "fixed_instructions": base_total,
        "memory_instructions_per_record": round((memory(full_self) - memory(base_self)) / n),
        "records_per_epoch": round(per_epoch) if per_epoch else None,
        "stages": [{"stage": s, "instructions_per_record": round(per_record.get(s, 0.0)),
                    "top": [{"function": label(fn), "instructions_per_record": round(v)} for v, fn in sorted(per_fn[s], reverse=True)[:args.top]]}
                   for s in order if s in per_record],
    })
    total = result["instructions_per_record"]
    print(f"Instructions a record: {total:,} (start-up and shut-down: {base_total:,} in all; "
          f"allocation and copying, charged to the stages below: {result['memory_instructions_per_record']:,} a record); "
          f"records a durable epoch: {result['records_per_epoch']}\n")
    print("| stage | instructions a record | share |\n|---|---:|---:|")
    for row in result["stages"]:
        print(f"| {row['stage']} | {row['instructions_per_record']:,} | {100 * row['instructions_per_record'] / total:.1f} % |")
    if args.top:
        for row in result["stages"]:
            print(f"\n{row['stage']}:")
            for t in row["top"]:
                print(f"  {t['instructions_per_record']:>8,}  {t['function'][:160]}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
