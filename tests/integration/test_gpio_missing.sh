#!/bin/sh
# lbld with a GPIO chip missing (issue 17): it starts all the same, and the
# devices on that chip are unreachable, saying why, in status (text and
# --json), in lblctl hw and in pre-flight, which refuses a run that uses
# them. When the missing line is the e-stop or an interlock, lbld counts it
# as engaged: batches and manual motion are refused, naming the input and
# its chip. lbld's --gpio-sim directory has a plain file where the chip's
# directory would be, as a chip that is not there. And an e-stop whose chip
# goes away while lbld runs (a USB expander unplugged): the batch fails
# safe, the e-stop counts as engaged, the loop does not spin on the line.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
d="$LBL_TMP/nochip"
mkdir -p "$d" "$LBL_TMP/gpio"
: >"$LBL_TMP/gpio/absent-chip"
recipe="$LBL_TOP/recipes/examples/ag-tca-5-dip.yaml"
make_rig dip-rig.yaml "$d/sim.yaml"
SIMCTL="$d/simrig.ctl"
start_simrig "$d/sim.yaml" --control "$SIMCTL" || exit 1

# ---- the N2 valve's chip is missing ----
sed 's/n2: {role: valve, kind: valve, gpio: {chip: pinctrl-bcm2711/n2: {role: valve, kind: valve, gpio: {chip: absent-chip/' \
    "$d/sim.yaml" >"$d/rig-n2.yaml"
grep -q 'chip: absent-chip' "$d/rig-n2.yaml" || fail "test rig" "n2 not moved to the absent chip"
start_lbld "$d/rig-n2.yaml" "$d/lbl.db" &&
    pass "lbld starts with the N2 valve's GPIO chip missing" || { fail "lbld starts" "$(cat "$LBL_TMP/lbld.err")"; exit 1; }
out=$("$ctl" status 2>&1)
echo "$out" | grep -q "^unreachable: n2: .*absent-chip" && ! echo "$out" | grep -q '^safety:' &&
    pass "status names the unreachable valve and its chip; no safety input is held" ||
    fail "status with the valve's chip missing" "$out"
"$ctl" status --json | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
sys.exit(0 if list(s["unreachable"]) == ["n2"] and "absent-chip" in s["unreachable"]["n2"] else 1)' &&
    pass "status --json: unreachable names n2 and why" || fail "status --json" "$("$ctl" status --json)"
out=$("$ctl" hw 2>&1)
rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "^n2  *valve  *gpio absent-chip/GPIO17  *no  " &&
    [ "$(echo "$out" | grep -c ' yes ')" = 10 ] && echo "$out" | grep -q "1 of 11 devices did not answer" &&
    pass "lblctl hw: n2 unreachable, the other 10 devices in the table" || fail "lblctl hw" "rc $rc: $out"
out=$("$ctl" preflight "$recipe" 2>&1)
rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "^FAILED device 'n2' is not reachable: .*absent-chip" &&
    pass "pre-flight refuses a plan that uses n2, naming its chip" || fail "pre-flight" "rc $rc: $out"
out=$("$ctl" run "$recipe" --operator ci 2>&1)
rc=$?
[ $rc != 0 ] && echo "$out" | grep -q "device 'n2' is not reachable: .*absent-chip" &&
    [ "$(sqlite3 "$d/lbl.db" 'select count(*) from batches')" = 0 ] &&
    pass "a run that uses n2 is refused, nothing recorded" || fail "a run using n2" "rc $rc: $out"
out=$("$ctl" set n2 on 2>&1)
[ $? != 0 ] && echo "$out" | grep -q "absent-chip" &&
    pass "lblctl set n2 on fails, naming the chip" || fail "set n2 on" "$out"
kill "$LBLD_PID"
wait "$LBLD_PID" 2>/dev/null

# ---- the door interlock's chip is missing ----
sed 's/door: {role: input, kind: interlock, gpio: {chip: pinctrl-bcm2711/door: {role: input, kind: interlock, gpio: {chip: absent-chip/' \
    "$d/sim.yaml" >"$d/rig-door.yaml"
grep -q 'chip: absent-chip' "$d/rig-door.yaml" || fail "test rig" "door not moved to the absent chip"
start_lbld "$d/rig-door.yaml" "$d/lbl2.db" &&
    pass "lbld starts with the door interlock's GPIO chip missing" || { fail "lbld starts (door)" "$(cat "$LBL_TMP/lbld.err")"; exit 1; }
why="interlock 'door' cannot be read (.*absent-chip.*), so it counts as engaged"
out=$("$ctl" status 2>&1)
echo "$out" | grep -q "^safety: $why" && echo "$out" | grep -q "^unreachable: door: " &&
    pass "status: the unreadable interlock counts as engaged, naming its chip" ||
    fail "status with the door's chip missing" "$out"
out=$("$ctl" hw 2>&1)
echo "$out" | grep -q "^door  *input  *gpio absent-chip/GPIO22  *no  " && echo "$out" | grep -q "safety: $why" &&
    pass "lblctl hw: the door unreachable, lbld's safety line says it counts as engaged" ||
    fail "lblctl hw (door)" "$out"
out=$("$ctl" run "$recipe" --operator ci 2>&1)
rc=$?
[ $rc != 0 ] && echo "$out" | grep -q "$why" &&
    [ "$(sqlite3 "$d/lbl2.db" 'select count(*) from batches')" = 0 ] &&
    pass "a batch is refused while the interlock cannot be read" || fail "a run (door)" "rc $rc: $out"
refused=0
for cmd in "home" "jog transfer 5mm" "move lift 40mm" "goto rinse-1"; do
	out=$("$ctl" $cmd 2>&1)
	rc=$?
	if [ $rc != 0 ] && echo "$out" | grep -q "$why"; then
		refused=$((refused + 1))
	else
		fail "lblctl $cmd refused" "rc $rc: $out"
	fi
done
[ $refused = 4 ] && pass "manual motion (home, jog, move, goto) refused, naming the interlock"
kill "$LBLD_PID"
wait "$LBLD_PID" 2>/dev/null

# ---- the e-stop's chip goes away mid-batch ----
# The simulated line's FIFO takes "E" as its chip unplugged: its fd polls
# readable for ever and reading it fails (ENODEV), as a GPIO character
# device does then. The batch fails with outputs safe, the e-stop counts
# as engaged from then on, and the loop does not spin on the dead line.
fifo="$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in"
start_lbld "$d/sim.yaml" "$d/lbl3.db" --time-scale 20 ||
    { fail "lbld starts (e-stop)" "$(cat "$LBL_TMP/lbld.err")"; exit 1; }
printf '1\n' >"$fifo"	# active low: 1 is released
wait_for 5 sh -c "! '$ctl' status | grep -q '^safety:'" || fail "e-stop released" "$("$ctl" status 2>&1)"
"$ctl" run "$recipe" --operator ci >/dev/null 2>&1 || fail "a batch starts" "refused"
wait_for 10 sh -c "[ \"\$(sqlite3 '$d/lbl3.db' 'select count(*) from steps where batch_id=1')\" -ge 1 ]" ||
    fail "the batch runs" "no step begun"
printf 'E' >"$fifo"
wait_for 10 sh -c "[ \"\$(sqlite3 '$d/lbl3.db' 'select state from batches where id=1')\" = failed ]" &&
    sqlite3 "$d/lbl3.db" 'select failure_cause from batches where id=1' |
    grep -q "^e-stop 'estop' cannot be read (reading its events failed: No such device), so it counts as engaged" &&
    pass "the e-stop's chip gone mid-batch: the batch fails, saying why" ||
    fail "the e-stop's chip gone mid-batch" "$(sqlite3 "$d/lbl3.db" 'select state, failure_cause from batches')"
grep -q "device 'estop' (GPIO pinctrl-bcm2711/GPIO27): reading its events failed: No such device: unreadable until lbld is restarted" \
    "$LBL_TMP/lbld.err" && [ "$(grep -c "GPIO27): reading its events failed.*unreadable until lbld is restarted" "$LBL_TMP/lbld.err")" = 1 ] &&
    pass "lbld says once which input was lost and why" ||
    fail "lbld says which input was lost" "$(grep -i estop "$LBL_TMP/lbld.err" | tail -5)"
out=$("$ctl" status 2>&1)
echo "$out" | grep -q "^safety: e-stop 'estop' cannot be read (reading its events failed: No such device), so it counts as engaged" &&
    pass "status: the lost e-stop counts as engaged, saying why" || fail "status after the e-stop's loss" "$out"
out=$("$ctl" run "$recipe" --operator ci 2>&1)
[ $? != 0 ] && echo "$out" | grep -q "e-stop 'estop' cannot be read" &&
    pass "a new batch is refused while the e-stop cannot be read" || fail "a run after the e-stop's loss" "$out"
cpu0=$(awk '{print $14 + $15}' "/proc/$LBLD_PID/stat")
sleep 1
cpu1=$(awk '{print $14 + $15}' "/proc/$LBLD_PID/stat")
[ $((cpu1 - cpu0)) -le 5 ] && pass "no spinning on the dead line ($((cpu1 - cpu0)) ticks in 1 s)" ||
    fail "no spinning on the dead line" "$((cpu1 - cpu0)) clock ticks in 1 s"
sanitizer_clean "$LBL_TMP/lbld.err" lbld
exit "${LBL_FAILED:-0}"
