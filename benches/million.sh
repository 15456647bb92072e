#!/usr/bin/env bash
# newsidx on a large generated archive: ingest time, docs/s, MB/s, peak RSS and index size
# (through the peer harness, newsidx alone), search p50/p95 on the harness's news queries,
# then the time of a re-run with nothing changed.
#
#   benches/million.sh [N] [--threads T]     (N defaults to 1,000,000)
#
# The archive is generated once with benches/gen_archive.py (seed 1) into
# ${MILLION_DIR:-/tmp/newsidx-gen-N} and kept for the next run; about 3.3 KB per article on
# disk, so N = 1,000,000 needs about 4 GB, plus about 1.5 GB for the index. Writes
# benches/results/million-N.{txt,json,log}. Environment: SHARED, PYTHON, NEWSIDX_BIN as
# for compare.sh.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared=${SHARED:-$(cd "$root/../shared" 2>/dev/null && pwd || true)}
python=${PYTHON:-python3}
n=1000000
threads=$(nproc)
while [ $# -gt 0 ]; do
    case $1 in
        --threads) threads=${2:?--threads needs a value}; shift ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *[!0-9]*) echo "million.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
        *) n=$1 ;;
    esac
    shift
done
[ -f "$shared/peers/bench.py" ] || { echo "million.sh: no peer harness under $shared" >&2; exit 1; }

if [ -z "${NEWSIDX_BIN:-}" ]; then
    (cd "$root" && cargo build --release --quiet)
    NEWSIDX_BIN=${CARGO_TARGET_DIR:-$root/target}/release/newsidx
fi
export NEWSIDX_BIN
export NEWSIDX_INGEST="{bin} ingest {corpus} --index {index} --threads $threads"

dir=${MILLION_DIR:-/tmp/newsidx-gen-$n}
# The marker sits beside the archive: the harness wants a folder of .txt files only.
if [ ! -f "$dir.complete" ]; then
    rm -rf "$dir"
    "$python" "$root/benches/gen_archive.py" --out "$dir" --n "$n" --seed 1 --jobs "$threads" >&2
    touch "$dir.complete"
fi

out=$root/benches/results
name=million-$n
work=$(mktemp -d /tmp/newsidx-million.XXXXXX)
trap 'rm -rf "$work"' EXIT
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //' || true)
{
    echo "# machine: $(nproc) cpus, ${cpu:-unknown CPU}, $(uname -sr); date: $(date -u +%Y-%m-%dT%H:%M:%SZ); newsidx $(git -C "$root" rev-parse --short HEAD); threads $threads"
    echo "# archive: $n articles from benches/gen_archive.py --seed 1, $(du -sm "$dir" | cut -f1) MB on disk"
    "$python" "$shared/peers/bench.py" --corpus "$dir" --queries "$shared/peers/queries/news.txt" \
        --out "$out/$name.json" --peers newsidx --runs 3 --index-runs 1 --threads "$threads" \
        --workdir "$work" --keep 2> >(tee "$out/$name.log" >&2)
    # The harness kept its index: time re-runs over the unchanged archive.
    idx=$work/idx-newsidx
    if [ -d "$idx" ]; then
        for _ in 1 2 3; do
            t0=$EPOCHREALTIME
            "$NEWSIDX_BIN" ingest "$dir" --index "$idx" --threads "$threads" -q > /dev/null 2>&1 || true
            t1=$EPOCHREALTIME
            echo "$t1 - $t0" | bc -l
        done | sort -g | sed -n 2p | xargs printf '# re-run with nothing changed (median of 3): %.3f s\n'
    else
        echo "# re-run: the harness's index was not found under $work"
    fi
} > "$out/$name.txt"
cat "$out/$name.txt"
