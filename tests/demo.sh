#!/bin/sh
# make demo: a full (Ag+/TCA)5 coating run on the simulated rig. Starts
# lbl-simrig and lbld on the example dip rig, runs the example recipe at a
# time scale that finishes in about a minute with live progress (a script
# plays the operator and answers the prompts), prints the batch record,
# and stops everything it started.
set -u
LBL_BUILD=$(cd "${1:-build}" && pwd)
LBL_TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$LBL_TOP/tests/integration/lib.sh"
scale=${LBL_DEMO_SCALE:-80}
ctl="$LBL_BUILD/lblctl"

make_rig dip-rig.yaml "$LBL_TMP/rig.yaml"
echo "== lbl demo: (Ag+/TCA)5 on Ni-plated textile, simulated rig, time scale $scale"
start_simrig "$LBL_TMP/rig.yaml" --time-scale "$scale" || exit 1
start_lbld "$LBL_TMP/rig.yaml" "$LBL_TMP/lbl.db" --time-scale "$scale" || exit 1
"$ctl" hw --rig "$LBL_TMP/rig.yaml" --gpio-sim "$LBL_TMP/gpio" || true
echo
"$ctl" check "$LBL_TOP/recipes/examples/ag-tca-5-dip.yaml" --rig "$LBL_TMP/rig.yaml" || exit 1
answer_prompts &
LBL_PIDS="$LBL_PIDS $!"
"$ctl" run "$LBL_TOP/recipes/examples/ag-tca-5-dip.yaml" --substrate "demo-textile-1" \
    --operator "demo" --note "make demo" --lot ag=AG-2611-01 --lot tca=TCA-2611-07 \
    --wait --follow
rc=$?
echo
batch=$("$ctl" history --json 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])' 2>/dev/null || echo 1)
"$ctl" show "$batch"
[ $rc -eq 0 ] && echo "== demo finished: batch $batch completed" || echo "== demo: the run did not complete (exit $rc)"
exit $rc
