#!/bin/sh
# Every quick dip the recipe asks for is made at the rig: a rinse of 60
# quick dips (the executor used to keep 64 actions a step and dropped the
# rest silently: 19 dips were made) against the same recipe with 3, counted
# from lbl-simrig's trace of the lift's commands.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
scale=400
make_rig dip-rig.yaml "$LBL_TMP/rig.yaml"
start_simrig "$LBL_TMP/rig.yaml" --time-scale $scale --trace "$LBL_TMP/trace" || exit 1
start_lbld "$LBL_TMP/rig.yaml" "$LBL_TMP/lbl.db" --time-scale $scale || exit 1
answer_prompts >/dev/null 2>&1 &
LBL_PIDS="$LBL_PIDS $!"
recipe="$LBL_TOP/recipes/examples/ag-tca-5-dip.yaml"
sed -e 's/      quick_dips: 3/      quick_dips: 60/' -e 's/^version: .*/version: "1-q60"/' "$recipe" >"$LBL_TMP/q60.yaml"
grep -q 'quick_dips: 60' "$LBL_TMP/q60.yaml" || fail "the 60-dip recipe" "sed found nothing to change"
goes() { grep -c ' lift go$' "$LBL_TMP/trace"; }
for r in "$recipe" "$LBL_TMP/q60.yaml"; do
	before=$(goes)
	"$ctl" run "$r" --operator ci --wait >"$LBL_TMP/out" 2>&1 || fail "run $(basename "$r")" "$(tail -2 "$LBL_TMP/out")"
	echo $(( $(goes) - before )) >>"$LBL_TMP/counts"
done
n3=$(sed -n 1p "$LBL_TMP/counts") n60=$(sed -n 2p "$LBL_TMP/counts")
# each quick dip is one lift move in and one out; five bilayers of the rinse
want=$((n3 + (60 - 3) * 2 * 5))
[ "$n60" = "$want" ] && pass "60 quick dips made, each one ($n60 lift moves, $n3 with 3 dips)" ||
    fail "60 quick dips made" "$n60 lift moves, want $want ($n3 with 3 dips)"
[ "$(sqlite3 "$LBL_TMP/lbl.db" "select dips from solutions where batch_id=2 and name='rinse-tca'")" = 300 ] &&
    pass "the record says 300 dips of rinse-tca" ||
    fail "the record's dips" "$(sqlite3 "$LBL_TMP/lbl.db" "select name, dips from solutions where batch_id=2")"
[ -z "${LBL_FAILED:-}" ]
