#!/bin/sh
# The shortest step that keeps its deadline, measured: at time scale 1, on
# lbl-simrig over Modbus TCP with a real lbld and database, runs COUNT steps
# of each length given and prints how the start error (actual - planned
# start, from the steps table) grows from the first tenth of the run to the
# last. Two kinds of step: a "wait" (one timed exposure, nothing absorbs)
# and a "spray" (a pump and a valve around a dwell of half the step, then a
# drain of the other half, the step's last wait, which absorbs the I/O).
# A build whose COMPILE_MIN_STEP_MS is lowered (make CFLAGS+=...) measures
# steps shorter than the limit.
#
# usage: LBL_BUILD=build tests/bench/bench_short_steps.sh COUNT MS...
set -u
LBL_TOP=${LBL_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
LBL_BUILD=${LBL_BUILD:-$LBL_TOP/build}
. "$LBL_TOP/tests/integration/lib.sh"
count=$1; shift
make_rig spray-rig.yaml "$LBL_TMP/rig.yaml"
start_simrig "$LBL_TMP/rig.yaml" || exit 1
start_lbld "$LBL_TMP/rig.yaml" "$LBL_TMP/lbl.db" || exit 1
batch=0
for ms in "$@"; do
	for kind in wait spray; do
		half=$((ms / 2))
		if [ $kind = wait ]; then
			step="- wait: ${ms}ms"
		else
			step="- spray: {solution: ag, time: ${half}ms, flow: 20 mL/min, drain: $((ms - half))ms}"
		fi
		cat >"$LBL_TMP/r.yaml" <<EOR
name: short-$kind-$ms
version: "1"
process: spray
substrate: {name: coupon, area: 25 cm2}
target: {bilayers: 1}
growth: {model: linear, per_bilayer: 1 nm}
resume: forbidden
solutions:
  ag: {nozzle: ag, volume: 1000 mL}
  tca: {nozzle: tca, volume: 1000 mL}
pre:
  - repeat:
      times: $count
      steps:
        $step
cycle:
  - spray: {solution: ag, time: 1s, flow: 20 mL/min, drain: 1s}
  - spray: {solution: tca, time: 1s, flow: 20 mL/min, drain: 1s}
EOR
		if ! "$LBL_BUILD/lblctl" run "$LBL_TMP/r.yaml" --operator bench --wait >"$LBL_TMP/out" 2>&1; then
			echo "$kind $ms ms: run failed: $(tail -2 "$LBL_TMP/out")"
			continue
		fi
		batch=$((batch + 1))
		/usr/bin/python3 - "$LBL_TMP/lbl.db" $batch $kind $ms <<'PY'
import sqlite3, sys
db, batch, kind, ms = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
rows = sqlite3.connect(db).execute("select actual_start_ms - planned_start_ms from steps "
    "where batch_id = ? and phase = 'pre' order by seq", (batch,)).fetchall()
dev = [r[0] for r in rows][1:]	# the first carries the travel from park
n = len(dev) // 10
first, last = dev[:n], dev[-n:]
growth = min(last) - min(first)
print("%-5s %5d ms x %d: start error first tenth floor %d ms, last tenth floor %d ms, "
      "growth %+d ms (%+.3f ms a step), max %d ms" % (kind, ms, len(dev), min(first),
      min(last), growth, growth / (len(dev) - n), max(dev)))
PY
	done
done
