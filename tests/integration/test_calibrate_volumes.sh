#!/bin/sh
# What calibrate changes (issue 17, "calibrate changes the planned
# volumes"). lbl-simrig's fill-1 delivers 0.08 mL/min per step, lbld's rig
# file says 0.1. The plan's volumes are what the recipe asks (flow x time:
# rinse-1's 300 mL replaced by fill-1 at its max_flow, 100 mL/min) and stay
# the same after calibration; what changes is what the pump is told for
# them. A batch before calibration tells fill-1 1000 steps (80 mL/min in
# truth, lbl-simrig --trace) and it delivers 80% of the plan's flow over the
# time it ran (the simulator's counter: the BT100S's public map has no
# volume register, so the record cannot count it); after calibrate (run,
# --measured with what the simulator counted, reload) the same plan tells it
# 1250 steps and it delivers the plan's flow.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
d="$LBL_TMP/calv"
mkdir -p "$d"
make_rig dip-rig.yaml "$d/sim.yaml"
sed -i 's/drain-1: {\(.*\)profile: bt100s-16/drain-1: {\1profile: lead-fluid-bt100s/' "$d/sim.yaml"
sed 's/type: uint16, scale: 0.08}/type: uint16, scale: 0.1}/' "$d/sim.yaml" >"$d/rig.yaml"
grep -q 'scale: 0.1}' "$d/rig.yaml" || fail "test rig" "no scale to calibrate"
recipe="$LBL_TOP/recipes/examples/ag-tca-5-dip.yaml"
SIMCTL="$d/simrig.ctl"
scale=100
start_simrig "$d/sim.yaml" --control "$SIMCTL" --time-scale $scale --trace "$d/trace" || exit 1
start_lbld "$d/rig.yaml" "$d/lbl.db" --time-scale $scale || exit 1
vol() { simctl get fill-1 | sed -n 's/.* volume=\([-0-9.]*\).*/\1/p'; }

# the plan: every step's volumes and actions
"$ctl" plan "$recipe" --rig "$d/rig.yaml" --json >"$d/plan0.json" 2>"$d/err" ||
    fail "plan before" "$(cat "$d/err")"
# run_batch N: one batch to its end, prompts answered
run_batch() {
	answer_prompts >"$d/prompts$1" 2>&1 &
	apid=$!
	"$ctl" run "$recipe" --substrate "S-$1" --operator ci --wait >"$d/run$1" 2>&1
	rc=$?
	kill "$apid" 2>/dev/null
	wait "$apid" 2>/dev/null
	return $rc
}
# fill_told FROM TO: fill-1's flow as lbl-simrig understood the steps it was
# sent, and the seconds (scaled back to the rig's time) it ran, from trace
# lines FROM to TO: "FLOW SECONDS"
fill_told() {
	sed -n "$1,$2p" "$d/trace" | awk -v ts=$scale '
	    $2 == "fill-1" && $3 == "flow" { flow = $4 }
	    $2 == "fill-1" && $3 == "run" { t0 = $1 }
	    $2 == "fill-1" && $3 == "stop" && t0 { printf "%s %.3f\n", flow, ($1 - t0) / 1e9 * ts; exit }'
}
# delivered V SECONDS: the fraction of the plan's 100 mL/min over SECONDS
# that the pump delivered (V mL, the simulator's counter)
delivered() { awk -v v="$1" -v s="$2" 'BEGIN { printf "%.3f", v / (100 * s / 60) }'; }
t0=$(($(wc -l <"$d/trace") + 1))
v0=$(vol)
run_batch 1 || fail "batch 1" "$(cat "$d/run1")"
v1=$(vol)
set -- $(fill_told "$t0" '$')
f1=${1:-?} r1=$(delivered "$(awk -v a="$v0" -v b="$v1" 'BEGIN { print b - a }')" "${2:-0}")
[ "$f1" = 80.00 ] && awk -v r="$r1" 'BEGIN { exit !(r > 0.76 && r < 0.84) }' &&
    pass "before calibration: fill-1 told 1000 steps, 80 mL/min in truth, for the plan's 100; it delivered $r1 of it" ||
    fail "before calibration" "told $f1 mL/min, delivered $r1 of the plan's flow"

v0=$(vol)
out=$("$ctl" calibrate fill-1 --flow 10mL/min --time 60s 2>&1) || fail "calibrate run" "$out"
v1=$(vol)
measured=$(awk -v a="$v0" -v b="$v1" 'BEGIN { printf "%.3f", b - a }')
out=$("$ctl" calibrate fill-1 --measured "${measured}mL" 2>&1)
new=$(echo "$out" | sed -n "s/.*flow scale of profile 'bt100s-16' 0.1 -> \([0-9.]*\)$/\1/p")
# as good as the simulator's counter read over the run: within 1% of 0.08
awk -v s="${new:-0}" 'BEGIN { exit !(s > 0.0792 && s < 0.0808) }' && echo "$out" | grep -q "^reloaded rig" &&
    pass "calibrate: the scale 0.1 -> $new (0.08 in truth), reloaded" || fail "calibrate --measured" "$out"

"$ctl" plan "$recipe" --rig "$d/rig.yaml" --json >"$d/plan1.json" 2>"$d/err" ||
    fail "plan after" "$(cat "$d/err")"
cmp -s "$d/plan0.json" "$d/plan1.json" &&
    pass "the plan's volumes and actions are what the recipe asks, the same after calibration" ||
    fail "the plan after calibration" "$(diff "$d/plan0.json" "$d/plan1.json" | head -5)"

t0=$(($(wc -l <"$d/trace") + 1))
v0=$(vol)
run_batch 2 || fail "batch 2" "$(cat "$d/run2")"
v1=$(vol)
set -- $(fill_told "$t0" '$')
f2=${1:-?} r2=$(delivered "$(awk -v a="$v0" -v b="$v1" 'BEGIN { print b - a }')" "${2:-0}")
# the scale is as good as the calibration run's measurement: within 2%
awk -v f="$f2" -v r="$r2" 'BEGIN { exit !(f > 98 && f < 102 && r > 0.96 && r < 1.04) }' &&
    pass "after calibration: fill-1 told about 1250 steps, the plan's 100 mL/min in truth ($f2); it delivered $r2 of it" ||
    fail "after calibration" "told $f2 mL/min, delivered $r2 of the plan's flow"
sanitizer_clean "$LBL_TMP/lbld.err" lbld
exit "${LBL_FAILED:-0}"
