#!/usr/bin/env python3
"""End-to-end latency of `newsidx search` with and without the extras.

Times whole processes (start to exit, output to a pipe) for every query of a
query file, in several variants that differ only in flags: plain (top 10 with
snippets, the default), facets, filters, facets+filters+sort, no collapsing.
Variants are interleaved query by query so machine noise hits them alike.
Prints, per variant, the median over queries of each query's median time,
the p95 over all runs, and the ratio to the plain variant.

    benches/search_mix.py --bin target/release/newsidx --index IDX \
        --queries ../shared/peers/queries/news.txt [--runs 7] [--json OUT]

Used with ../shared/peers/bench.py (same index, same queries, same session)
for the search figures in benches/results/.
"""

import argparse
import json
import shlex
import statistics
import subprocess
import time

VARIANTS = {
    "plain": [],
    "facets": ["--facet", "date:month", "--facet", "agency", "--facet", "dateline"],
    # The shared corpus has no date lines: filter on agency and dateline,
    # which keep most hits (a filter that empties the list would flatter it).
    "filters": ["--agency", "reuters"],
    "facets+filters+sort": [
        "--facet", "date:month", "--facet", "agency", "--facet", "dateline",
        "--agency", "reuters", "--sort", "newest", "--fragments", "3",
    ],
    "no-collapse": ["--no-collapse"],
}


def queries(path):
    out = []
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--index", required=True)
    ap.add_argument("--queries", required=True)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--json")
    args = ap.parse_args()
    qs = queries(args.queries)
    times = {v: {q: [] for q in qs} for v in VARIANTS}
    codes = {}
    for _ in range(args.runs):
        for q in qs:
            for v, flags in VARIANTS.items():
                cmd = [args.bin, "search", "--index", args.index, q] + flags
                t = time.perf_counter()
                p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                times[v][q].append(time.perf_counter() - t)
                if p.returncode not in (0, 1):
                    raise SystemExit(f"{shlex.join(cmd)} exited {p.returncode}: {p.stderr.decode()}")
                codes[(v, q)] = p.returncode
    result = {}
    for v in VARIANTS:
        per_query = [statistics.median(times[v][q]) for q in qs]
        every = sorted(t for q in qs for t in times[v][q])
        result[v] = {
            "median_ms": statistics.median(per_query) * 1e3,
            "p95_ms": every[int(0.95 * (len(every) - 1))] * 1e3,
            "no_hit_queries": sum(1 for q in qs if codes[(v, q)] == 1),
        }
    plain = result["plain"]["median_ms"]
    print(f"# {len(qs)} queries x {args.runs} runs, end-to-end process time")
    print(f"{'variant':<22} {'median ms':>10} {'p95 ms':>8} {'x plain':>8} {'no-hit q':>9}")
    for v, r in result.items():
        print(f"{v:<22} {r['median_ms']:>10.2f} {r['p95_ms']:>8.2f} "
              f"{r['median_ms'] / plain:>8.2f} {r['no_hit_queries']:>9}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"queries": qs, "runs": args.runs, "variants": result}, f, indent=1)


if __name__ == "__main__":
    main()
