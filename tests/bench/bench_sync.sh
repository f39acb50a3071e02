#!/bin/sh
# lbl-sync's benchmark (issue 20), on a private PostgreSQL cluster
# (tests/integration/pg.sh): 10,000 recorded batches (lbl-histgen: 100
# steps each, with their bilayers, events and lots, about a million rows)
# copied to an empty central database by lbl-sync --once, the time printed
# (goal: under a minute) and the copy checked row for row; then lbld's
# step-start error with and without lbl-sync running (bench_sync.py).
# Prints figures; fails only when the copy is not whole.
#
#   LBL_TOP=. LBL_BUILD=build tests/bench/bench_sync.sh [BATCHES [STEPS]]
set -u
LBL_TOP=${LBL_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
LBL_BUILD=${LBL_BUILD:-$LBL_TOP/build}
. "$LBL_TOP/tests/integration/lib.sh"
. "$LBL_TOP/tests/integration/pg.sh"
batches=${1:-10000}
steps=${2:-120}

pg_start || exit 1
"$LBL_BUILD/lbl-sync" --init --to "$PG_URI" >/dev/null || exit 1
d="$LBL_TMP/r1"
mkdir -p "$d/sync"
"$LBL_BUILD/tests/lbl-histgen" "$d/lbl.db" "$batches" 1780000000 || exit 1
echo "copying $batches recorded batches ($(du -h "$d/lbl.db" | cut -f1)) to an empty central database:"
t0=$(date +%s%N)
"$LBL_BUILD/lbl-sync" --db "$d/lbl.db" --to "$PG_URI" --state-dir "$d/sync" --rig-id "$d/rig-id" \
    --name bench --once 2>"$d/sync.err" || { echo "lbl-sync failed:"; tail -5 "$d/sync.err"; exit 1; }
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
rows=$(sed -n 's/.*copied [0-9]* batches (\([0-9]*\) rows).*/\1/p' "$d/sync.err" | tail -n 1)
echo "  $batches batches, ${rows:-?} rows in $((ms / 1000)).$(printf %03d $((ms % 1000))) s" \
    "($(( ${rows:-0} * 1000 / (ms > 0 ? ms : 1) )) rows/s; goal under 60 s)"
if /usr/bin/python3 "$LBL_TOP/tests/integration/sync_compare.py" "$d/lbl.db" "$(head -n 1 "$d/rig-id")" \
    $PSQL >"$LBL_TMP/equal.out" 2>&1; then
	echo "  central == local: $(cat "$LBL_TMP/equal.out")"
else
	echo "  the copy differs: $(cat "$LBL_TMP/equal.out")"; exit 1
fi
LBL_SYNC_TO=$PG_URI LBL_BUILD=$LBL_BUILD /usr/bin/python3 "$LBL_TOP/tests/bench/bench_sync.py" "$steps"
