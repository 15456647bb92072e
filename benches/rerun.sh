#!/usr/bin/env bash
# What a cron re-run costs: full ingest, re-run with nothing changed, re-run with 1% of
# the files changed, for newsidx and (when installed) Xapian's omindex, in one session.
#
#   benches/rerun.sh FOLDER [--runs N] [--threads N]
#
# FOLDER is copied once to a scratch folder (hard links are not enough: files are
# modified). Each figure is the median of N runs (default 3): full ingests into a fresh
# index, then re-runs; each 1% round appends a line to a different 1% of the files. Prints wall seconds and the ratios to the full
# ingest. Environment: NEWSIDX_BIN (default target/release/newsidx, built first).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
folder=${1:?usage: rerun.sh FOLDER [--runs N] [--threads N]}
shift
runs=3
threads=$(nproc)
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=${2:?}; shift ;;
        --threads) threads=${2:?}; shift ;;
        *) echo "rerun.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
    shift
done

if [ -z "${NEWSIDX_BIN:-}" ]; then
    (cd "$root" && cargo build --release --quiet)
    NEWSIDX_BIN=${CARGO_TARGET_DIR:-$root/target}/release/newsidx
fi
work=$(mktemp -d /tmp/newsidx-rerun.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "$folder" "$work/a"
find "$work/a" -name '*.txt' | sort > "$work/files"
total=$(wc -l < "$work/files")
echo "# rerun.sh: $folder, $total files, $runs runs, $threads threads, $(date -u +%FT%TZ), newsidx $(git -C "$root" rev-parse --short HEAD)"

# secs CMD: wall seconds of one run of the command line CMD (output discarded), timed in
# this shell (no extra bash start-up in the figure).
secs() {
    local t0 t1
    t0=$EPOCHREALTIME
    eval "$1" > /dev/null 2>&1 || true
    t1=$EPOCHREALTIME
    echo "$t1 - $t0" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# change ROUND: appends a line to 1% of the files (a different slice per round)
change() {
    local n=$(( total / 100 )) start=$(( $1 * total / 100 % total ))
    tail -n +"$(( start + 1 ))" "$work/files" | head -n "$n" | while read -r f; do
        echo "Updated in round $1." >> "$f"
    done
}

measure() { # name full-cmd rerun-cmd
    local name=$1 full=$2 rerun=$3 f n c
    f=$(for i in $(seq "$runs"); do secs "$full"; done | median)
    n=$(for i in $(seq "$runs"); do secs "$rerun"; done | median)
    c=$(for i in $(seq "$runs"); do change "$((round++))"; secs "$rerun"; done | median)
    printf '%-8s full %8.3f s   no change %7.3f s (%5.1f%%)   1%% changed %7.3f s (%5.1f%%)\n' \
        "$name" "$f" "$n" "$(echo "100 * $n / $f" | bc -l)" "$c" "$(echo "100 * $c / $f" | bc -l)"
}

round=1
idx=$work/newsidx-index
measure newsidx \
    "rm -rf '$idx' && '$NEWSIDX_BIN' ingest '$work/a' --index '$idx' --threads $threads -q" \
    "'$NEWSIDX_BIN' ingest '$work/a' --index '$idx' --threads $threads -q"
if command -v omindex > /dev/null; then
    db=$work/xapian-db
    measure omindex \
        "omindex --db '$db' --url / -s none --overwrite -p '$work/a'" \
        "omindex --db '$db' --url / -s none -p '$work/a'"
else
    echo "omindex: not installed (apt-get install xapian-omega)"
fi
