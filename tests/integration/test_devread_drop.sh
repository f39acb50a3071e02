#!/bin/sh
# Device reads that a safe state drops (issue 17): 'lblctl hw', teach and
# pre-flight read devices at poll priority, and an e-stop while the reads
# wait on their bus drops them unheard. The answer still comes by the
# reads' deadline, and the reads' memory is freed, not kept for callbacks
# that never come: lbld stopped afterwards reports no leak (run under the
# san build: LeakSanitizer at exit).
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
d="$LBL_TMP/drop"
mkdir -p "$d"
make_rig dip-rig.yaml "$d/rig.yaml"
SIMCTL="$d/simrig.ctl"
start_simrig "$d/rig.yaml" --control "$SIMCTL" || exit 1
start_lbld "$d/rig.yaml" "$d/lbl.db" || exit 1
estop() { printf '%s\n' "$1" >"$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in"; }	# active low: 0 pressed

# the lift silent: every read behind it on the gateway waits its timeouts
simctl fault lift silent | grep -q '^ok' || fail "simrig: silence the lift" "refused"
for what in hw "teach ag" "preflight $LBL_TOP/recipes/examples/ag-tca-5-dip.yaml"; do
	"$ctl" $what >"$d/out" 2>&1 &
	cpid=$!
	sleep 0.3
	estop 0
	wait "$cpid"
	rc=$?
	[ $rc != 0 ] && [ -s "$d/out" ] && ! grep -q "cannot reach lbld" "$d/out" &&
	    pass "lblctl $(echo "$what" | cut -d' ' -f1) answers though an e-stop dropped its reads" ||
	    fail "lblctl $what with its reads dropped" "rc $rc: $(cat "$d/out")"
	estop 1
	wait_for 5 sh -c "! '$ctl' status | grep -q '^safety:'"
done
simctl clear lift >/dev/null
"$ctl" status >/dev/null 2>&1 && pass "lbld still answers" || fail "lbld still answers" "$(tail -3 "$LBL_TMP/lbld.err")"
kill "$LBLD_PID"
wait "$LBLD_PID" 2>/dev/null
if grep -q 'LeakSanitizer' "$LBL_TMP/lbld.err"; then
	fail "no leak of the dropped reads" "$(grep -A12 -m1 'LeakSanitizer' "$LBL_TMP/lbld.err" | grep -E 'bytes|#[0-9] ' | head -12)"
else
	pass "no leak of the dropped reads (LeakSanitizer at lbld's exit)"
fi
sanitizer_clean "$LBL_TMP/lbld.err" lbld
exit "${LBL_FAILED:-0}"
