#!/bin/sh
# The generated-recipe test: random valid recipes (gen_recipes.py) for every
# example and test rig, each run as a batch by a real lbld on lbl-simrig
# --trace at a high time scale, and each checked (gen_check.py) against
# `lblctl plan --json`: (a) what the rig was told == the plan's actions, per
# device, in order, values within the register's resolution; (b) the batch
# record == the plan (steps, dwell, dips, volumes, areas), every difference
# a failure. One simulator and one lbld per rig, many batches each.
#
#   GEN_RECIPES  recipes in all, shared among the rigs (default 400: about 2
#                minutes of make check on 2 cores, about 4 when both are busy;
#                make check-long: 2000)
#   GEN_SEED     first seed (default: from the clock, printed); rig k of
#                GEN_RIGS takes seeds GEN_SEED + k * (its share) on
#   GEN_RIGS     rigs: names in hw/examples and tests/data without .yaml
#   GEN_SCALE    time scale of lbld and lbl-simrig (default 10000, the most
#                both take: the plan's time is then less than the I/O's)
#   GEN_CHUNK    recipes per simulator and lbld (default 25), restarted after
#
# A failure prints its seed and keeps the recipe in BUILD/gen-failures/; it is
# replayed with GEN_SEED=SEED GEN_RECIPES=1 GEN_RIGS=RIG LBL_TESTS=test_generated
# tests/run.sh build/san integration (the FAIL line says so).
set -u
. "$LBL_TOP/tests/integration/lib.sh"
total=${GEN_RECIPES:-400}
rigs=${GEN_RIGS:-"dip-rig spray-rig roll-rig rig-dip rig-spray rig-roll"}
scale=${GEN_SCALE:-10000}
chunk=${GEN_CHUNK:-25}
seed=${GEN_SEED:-$(($(date +%s) % 1000000 * 100))}
keep="$LBL_BUILD/gen-failures"
n_rigs=$(echo $rigs | wc -w)
share=$(((total + n_rigs - 1) / n_rigs))
echo "info: generated recipes: $total on $n_rigs rigs, seed $seed, time scale $scale (replay: GEN_SEED=$seed)"

# rig_copy NAME OUT: hw/examples/NAME.yaml or tests/data/NAME.yaml, every TCP
# port replaced by a free one.
rig_copy() {
	if [ -f "$LBL_TOP/hw/examples/$1.yaml" ]; then
		make_rig "$1.yaml" "$2"
	else
		cp "$LBL_TOP/tests/data/$1.yaml" "$2" || return 1
		for p in $(sed -n 's/.*port: *\([0-9][0-9]*\).*/\1/p' "$2" | sort -u); do
			sed -i "s/port: *$p\b/port: $(free_port)/" "$2"
		done
	fi
}

# stop_pair: ends this rig's lbld and simulator (by PID) before the next rig's
stop_pair() {
	kill "$LBLD_PID" "$SIMRIG_PID" 2>/dev/null
	i=0
	while { kill -0 "$LBLD_PID" || kill -0 "$SIMRIG_PID"; } 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
}

k=0
for name in $rigs; do
	dir="$LBL_TMP/$name"
	mkdir -p "$dir/work"
	rig_copy "$name" "$dir/rig.yaml" || { fail "generated $name" "no rig $name"; continue; }
	: >"$dir/lbld.err"
	: >"$dir/simrig.err"
	first=$((seed + k * share))
	done_n=0
	# a fresh simulator and lbld every $chunk recipes: the simulated film grows
	# from batch to batch and must stay within the sensors' plausible ranges
	while [ "$done_n" -lt "$share" ]; do
		n=$((share - done_n < chunk ? share - done_n : chunk))
		: >"$dir/trace"
		: >"$LBL_TMP/lbld.err"
		start_simrig "$dir/rig.yaml" --time-scale "$scale" --trace "$dir/trace" ||
		    { fail "generated $name" "lbl-simrig did not start"; break; }
		start_lbld "$dir/rig.yaml" "$dir/lbl.db" --time-scale "$scale" ||
		    { fail "generated $name" "lbld did not start"; stop_pair; break; }
		/usr/bin/python3 "$LBL_TOP/tests/integration/gen_check.py" --build "$LBL_BUILD" \
		    --top "$LBL_TOP" --rig "$dir/rig.yaml" --rig-label "$name" \
		    --trace "$dir/trace" --db "$dir/lbl.db" --gpio "$LBL_TMP/gpio" --keep "$keep" \
		    --work "$dir/work" --scale "$scale" \
		    --seed $((first + done_n)) --count "$n"
		rc=$?
		# 1: it printed its FAIL lines; more: it died (a signal, a Python error)
		[ "$rc" -gt 1 ] && fail "generated $name: seeds $((first + done_n)) on" \
		    "gen_check.py exited $rc$([ "$rc" -gt 128 ] && echo " (signal $((rc - 128)))")"
		[ "$rc" -ne 0 ] && LBL_FAILED=1
		stop_pair
		cat "$LBL_TMP/lbld.err" >>"$dir/lbld.err"
		cat "$LBL_TMP/simrig.err" >>"$dir/simrig.err"
		done_n=$((done_n + n))
	done
	sanitizer_clean "$dir/lbld.err" "generated $name: lbld"
	sanitizer_clean "$dir/simrig.err" "generated $name: lbl-simrig"
	k=$((k + 1))
done
[ -z "${LBL_FAILED:-}" ]
