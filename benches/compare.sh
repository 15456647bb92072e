#!/usr/bin/env bash
# Side-by-side benchmark of newsidx against the peers (tantivy-cli, SQLite FTS5, Xapian,
# ripgrep) on the shared real news corpus (BBC News + Reuters-21578), using the team's
# harness ../shared/peers/bench.py.
#
#   benches/compare.sh [--quick] [--threads N]
#
#   (default)  corpus at 1x (5 query runs, 3 index builds, median kept) and at 10x
#              (--scale 10: 238k docs, 3 query runs, 1 build); about 20 minutes on 2 cores
#   --quick    1x only, 2 query runs, 1 index build (about 5 minutes on 2 cores)
#   --threads  indexing threads for tantivy-cli and newsidx alike [default: nproc]
#
# Builds the release binary first (honours CARGO_TARGET_DIR; NEWSIDX_BIN overrides the
# binary). Writes, per scale, to benches/results/:
#   corpus-xK.txt   a header line (machine, date, git revision), then the harness's table
#   corpus-xK.json  the harness's full JSON (per-query latencies, hit counts, versions)
#   corpus-xK.log   the harness's progress log (stderr)
# Environment: SHARED (default ../shared next to the repo), PYTHON (default python3),
# BENCH_WORKDIR (keep the harness's scratch folders, indexes and scaled corpus there).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared=${SHARED:-$(cd "$root/../shared" 2>/dev/null && pwd || true)}
python=${PYTHON:-python3}
quick=0
threads=$(nproc)

while [ $# -gt 0 ]; do
    case $1 in
        --quick) quick=1 ;;
        --threads) threads=${2:?--threads needs a value}; shift ;;
        --threads=*) threads=${1#--threads=} ;;
        -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "compare.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done

bench_py=$shared/peers/bench.py
corpus=$shared/corpus
queries=$shared/peers/queries/news.txt
for f in "$bench_py" "$queries"; do
    [ -f "$f" ] || { echo "compare.sh: missing $f (set SHARED)" >&2; exit 1; }
done
[ -d "$corpus" ] || { echo "compare.sh: missing $corpus (set SHARED)" >&2; exit 1; }

echo "compare.sh: building the release binary" >&2
(cd "$root" && cargo build --release --quiet)
bin=${NEWSIDX_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/newsidx}
[ -x "$bin" ] || { echo "compare.sh: no binary at $bin (set NEWSIDX_BIN)" >&2; exit 1; }
export NEWSIDX_BIN=$bin
export NEWSIDX_INGEST="{bin} ingest {corpus} --index {index} --threads $threads"

rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ "$rev" != unknown ] && [ -n "$(git -C "$root" status --porcelain -- src Cargo.toml Cargo.lock index-schema 2>/dev/null)" ]; then
    rev="$rev+dirty"
fi
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
header="# machine: $(nproc) cpus, ${cpu:-unknown CPU}, $(uname -sr); date: $(date -u +%Y-%m-%dT%H:%M:%SZ); newsidx $rev; indexing threads $threads"

out=$root/benches/results
mkdir -p "$out"

# run SCALE RUNS INDEX_RUNS
run() {
    local scale=$1 runs=$2 index_runs=$3 name=corpus-x$1
    echo "compare.sh: corpus x$scale -> $out/$name.{txt,json,log}" >&2
    {
        echo "$header"
        echo "# $python $bench_py --corpus $corpus --scale $scale --runs $runs --index-runs $index_runs --threads $threads"
        "$python" "$bench_py" --corpus "$corpus" --queries "$queries" --out "$out/$name.json" \
            --peers tantivy-cli,sqlite,xapian,rg,newsidx --scale "$scale" --runs "$runs" \
            --index-runs "$index_runs" --threads "$threads" \
            ${BENCH_WORKDIR:+--workdir "$BENCH_WORKDIR/x$scale" --keep} \
            2> >(tee "$out/$name.log" >&2)
    } > "$out/$name.txt"
    cat "$out/$name.txt"
}

if [ "$quick" = 1 ]; then
    run 1 2 1
else
    run 1 5 3
    run 10 3 1
fi
