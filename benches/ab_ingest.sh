#!/usr/bin/env bash
# Ingest cost of two newsidx builds on one folder, interleaved round by round so that
# machine noise hits both alike (e.g. before/after a change such as clustering).
#
#   benches/ab_ingest.sh OLD_BIN NEW_BIN FOLDER [ROUNDS]
#
# Prints wall, user and system seconds and peak RSS per run (GNU time), the index size,
# and the medians per build. OLD_ARGS and NEW_ARGS add ingest arguments per side, e.g.
# the cost of clustering with one build (a schema with `[dedup] enabled = false`):
#   sed 's/^enabled = true/enabled = false/' index-schema/newsidx.toml > /tmp/off.toml
#   OLD_ARGS="--schema /tmp/off.toml" benches/ab_ingest.sh BIN BIN FOLDER
set -euo pipefail
old=${1:?usage: ab_ingest.sh OLD_BIN NEW_BIN FOLDER [ROUNDS]}
new=${2:?}
folder=${3:?}
rounds=${4:-5}
work=$(mktemp -d /tmp/newsidx-ab.XXXXXX)
trap 'rm -rf "$work"' EXIT
for _ in $(seq "$rounds"); do
    for v in old new; do
        bin=$old args=${OLD_ARGS:-}
        [ "$v" = new ] && bin=$new args=${NEW_ARGS:-}
        rm -rf "$work/$v"
        # shellcheck disable=SC2086 # the extra arguments are meant to split
        /usr/bin/time -f "$v wall %e user %U sys %S rss_kb %M" "$bin" ingest "$folder" \
            --index "$work/$v" -q $args 2>&1 | grep -v warning || true
        echo "$v index_mb $(du -sm "$work/$v" | cut -f1)"
    done
done | tee "$work/log"
for v in old new; do
    for k in wall user sys rss_kb index_mb; do
        m=$(awk -v v=$v -v k=$k '$1 == v { for (i = 2; i < NF; i += 2) if ($i == k) print $(i+1) }' "$work/log" \
            | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')
        printf '%s median %s %s\n' "$v" "$k" "$m"
    done
done
