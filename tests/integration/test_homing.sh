#!/bin/sh
# Homing (lbl-rig(5) 'home', lblctl home) on tests/data/rig-homing.yaml
# through lbl-simrig, whose axes that home start unhomed somewhere in their
# travel: the lift (home: startup) is homed when lbld starts; the transfer
# (home: command) is not, and a batch is refused naming it and 'lblctl
# home' until the operator homes it; 'lblctl status' says which is homed.
# Then: axes homed before the first batch (home: first-batch) by the run
# itself; a drive without a homed flag, homed by lbld's own knowledge; a
# drive in alarm, whose homing fails and leaves it unhomed.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
scale=${LBL_TEST_SCALE:-100}
recipe="$LBL_TMP/r.yaml"
cat >"$recipe" <<'YAML'
name: homing-test
version: "1"
process: dip
substrate: {name: glass, area: 4 cm2}
target: {bilayers: 2}
growth: {model: linear, per_bilayer: 1 nm}
resume: allowed
solutions:
  pa: {station: a, volume: 200 mL}
  pb: {station: b, volume: 200 mL}
  w: {station: rinse, rinse: true, volume: 300 mL}
cycle:
  - dip: {solution: pa, dwell: 2s, depth: 20 mm}
  - rinse: {solution: w, dwell: 1s}
  - dip: {solution: pb, dwell: 2s, depth: 20 mm}
  - rinse: {solution: w, dwell: 1s}
YAML

axis() { simctl get "$1" | sed -n "s/.* $2=\([-0-9.]*\).*/\1/p"; }

# start_pair NAME SED: the test rig edited by SED, its simulator and lbld
start_pair() {
	d="$LBL_TMP/$1"
	mkdir -p "$d"
	sed -e "s/port: 1502/port: $(free_port)/" -e "$2" "$LBL_TOP/tests/data/rig-homing.yaml" >"$d/rig.yaml"
	export LBL_SOCKET="$d/lbld.sock"
	SIMCTL="$d/simrig.ctl"
	start_simrig "$d/rig.yaml" --time-scale "$scale" --control "$SIMCTL" || return 1
	start_lbld "$d/rig.yaml" "$d/lbl.db" --time-scale "$scale" || return 1
}
stop_pair() {
	kill "$LBLD_PID" "$SIMRIG_PID" 2>/dev/null
	wait "$LBLD_PID" "$SIMRIG_PID" 2>/dev/null
}

# ---- startup and command ----
start_pair startup "s/^XX//" || exit 1
[ "$(axis transfer homed)" = 0 ] && awk -v p="$(axis transfer position)" 'BEGIN { exit !(p > 100) }' &&
    pass "simulator: an axis that homes starts unhomed, away from 0 ($(axis transfer position) mm)" ||
    fail "simulator: unhomed at start" "$(simctl get transfer)"
wait_for 20 sh -c "'$ctl' status | grep -q '^homed: lift homed'" &&
    pass "home: startup: the lift is homed when lbld starts" ||
    fail "home: startup" "$("$ctl" status | grep homed); $(grep -i hom "$LBL_TMP/lbld.err" | tail -3)"
[ "$(axis lift homed)" = 1 ] && [ "$(axis lift position)" = 0.000 ] &&
    pass "the simulator's lift is homed, at 0 mm" || fail "the simulator's lift is homed" "$(simctl get lift)"
st=$("$ctl" status)
echo "$st" | grep -q '^homed: lift homed, transfer NOT homed (home: command)$' &&
    pass "status shows homed per axis" || fail "status shows homed per axis" "$st"
"$ctl" status --json | /usr/bin/python3 -c 'import json,sys; h=json.load(sys.stdin)["homed"]; sys.exit(0 if h == {"lift": True, "transfer": False} else 1)' &&
    pass "status --json: homed per axis" || fail "status --json: homed per axis" "$("$ctl" status --json)"
out=$("$ctl" run "$recipe" --operator ci 2>&1)
rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "run refused: 'transfer' (home: command) is not homed: a batch needs its position known; home it with 'lblctl home'" &&
    pass "a batch needing an unhomed axis is refused, naming it and lblctl home" ||
    fail "a batch needing an unhomed axis is refused" "rc $rc: $out"
[ "$(sqlite3 "$d/lbl.db" 'select count(*) from batches')" = 0 ] && pass "the refusal records no batch" ||
    fail "the refusal records no batch" "$(sqlite3 "$d/lbl.db" 'select id, state from batches')"
out=$("$ctl" home nope 2>&1)
[ $? != 0 ] && echo "$out" | grep -q "home refused: 'nope' is not an axis of rig test-homing" &&
    pass "home of an unknown axis refused" || fail "home of an unknown axis refused" "$out"
out=$("$ctl" home transfer 2>&1)
rc=$?
[ $rc = 0 ] && [ "$(axis transfer homed)" = 1 ] && [ "$(axis transfer position)" = 0.000 ] &&
    pass "lblctl home transfer: answered once homed ($out)" ||
    fail "lblctl home transfer" "rc $rc: $out; $(simctl get transfer)"
"$ctl" status | grep -q '^homed: lift homed, transfer homed$' && pass "status: both homed" ||
    fail "status: both homed" "$("$ctl" status | grep homed)"
answer_prompts >/dev/null 2>&1 &
LBL_PIDS="$LBL_PIDS $!"
"$ctl" run "$recipe" --operator ci --wait >"$d/run.out" 2>&1 && pass "the batch runs once its axes are homed" ||
    fail "the batch runs once its axes are homed" "$(tail -3 "$d/run.out")"
stop_pair

# ---- first-batch, and a drive without a homed flag ----
start_pair first "s/home: startup/home: first-batch/; s/home: command/home: first-batch/; /^  transfer:/s/profile: generic-drive/profile: drive-no-flag/" || exit 1
sleep 0.3
st=$("$ctl" status)
echo "$st" | grep -q '^homed: lift NOT homed (home: first-batch), transfer NOT homed (home: first-batch)$' &&
    pass "home: first-batch: nothing homed at start-up" || fail "home: first-batch: nothing homed at start-up" "$st"
if "$ctl" run "$recipe" --operator ci --wait >"$d/run.out" 2>&1; then
	pass "home: first-batch: the first run homes, then the batch runs"
else
	fail "home: first-batch: the first run homes, then the batch runs" "$(cat "$d/run.out")"
fi
grep -q "homing .lift., .transfer. before the first batch (home: first-batch)" "$d/run.out" && pass "the run says it homes first" ||
    fail "the run says it homes first" "$(cat "$d/run.out")"
[ "$(sqlite3 "$d/lbl.db" "select state from batches where id=1")" = completed ] &&
    pass "home: first-batch: the batch completed" || fail "home: first-batch: the batch completed" "$(sqlite3 "$d/lbl.db" 'select state, failure_cause from batches')"
"$ctl" status | grep -q '^homed: lift homed, transfer homed$' &&
    pass "a drive without a homed flag counts as homed once lbld homed it" ||
    fail "a drive without a homed flag counts as homed" "$("$ctl" status | grep homed)"
# lbld's order: the lift (upward, out of any bath) before the transfer moves sideways
l1=$(grep -n "homing axis 'lift'" "$LBL_TMP/lbld.err" | tail -1 | cut -d: -f1)
t1=$(grep -n "homing axis 'transfer'" "$LBL_TMP/lbld.err" | tail -1 | cut -d: -f1)
[ -n "$l1" ] && [ -n "$t1" ] && [ "$l1" -lt "$t1" ] && pass "the lift homes before the transfer" ||
    fail "the lift homes before the transfer" "lines $l1, $t1"
stop_pair

# ---- a drive in alarm does not home ----
start_pair alarm "s/home: startup/home: command/" || exit 1
simctl fault transfer alarm >/dev/null
out=$("$ctl" home 2>&1)
rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "homing failed: axis 'transfer' reports an alarm while homing" &&
    pass "homing a drive in alarm fails, naming it" || fail "homing a drive in alarm fails" "rc $rc: $out"
"$ctl" status | grep -q '^homed: lift homed, transfer NOT homed (home: command)$' &&
    pass "after the failure: the lift homed, the transfer not" ||
    fail "after the failure" "$("$ctl" status | grep homed)"
"$ctl" run "$recipe" --operator ci >/dev/null 2>&1 && fail "no batch with the transfer unhomed" "accepted" ||
    pass "no batch with the transfer unhomed"
stop_pair

# ---- an e-stop while an axis homes: stopped mid-search is not homed ----
# (real time: the transfer's 800 mm at 200 mm/s take 4 s to home)
scale=1
start_pair estop "s/home: startup/home: command/; /^  transfer:/s/profile: generic-drive/profile: drive-no-flag/" || exit 1
"$ctl" home transfer >"$d/home.out" 2>&1 &
home_pid=$!
wait_for 5 sh -c "'$ctl' status | grep -q 'transfer homing'" || fail "e-stop while homing" "never homing: $("$ctl" status | grep homed)"
printf '0\n' >"$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in"	# active low: 0 is pressed
wait "$home_pid"
rc=$?
[ $rc = 1 ] && grep -q "homing failed: axis 'transfer': homing stopped: e-stop 'estop' engaged" "$d/home.out" &&
    pass "an e-stop ends homing as failed" || fail "an e-stop ends homing as failed" "rc $rc: $(cat "$d/home.out")"
"$ctl" status | grep -q 'transfer NOT homed' && [ "$(axis transfer homed)" = 0 ] && [ "$(axis transfer moving)" = 0 ] &&
    pass "the drive stopped mid-search counts as NOT homed (no flag: busy clear is not enough)" ||
    fail "the drive stopped mid-search counts as NOT homed" "$("$ctl" status | grep homed); $(simctl get transfer)"
printf '1\n' >"$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in"
stop_pair
sanitizer_clean "$LBL_TMP/lbld.err" "lbld"
sanitizer_clean "$LBL_TMP/simrig.err" "lbl-simrig"
[ -z "${LBL_FAILED:-}" ]
