#!/bin/sh
# The device features of real rigs (lbl-rig(5)) on tests/data/rig-devices.yaml,
# end to end through lbl-simrig and lbld: a constant-speed transfer axis (no
# max_accel) planned at distance / speed; a pump-fed nozzle (a pump, no
# valve) sprayed by its pump alone; a pump controller and its valve outputs
# on one unit id, each served. check-rig refuses a shared unit whose
# devices use one register, at FILE:LINE:COL naming both and the register.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
scale=${LBL_TEST_SCALE:-200}
rig="$LBL_TMP/rig.yaml"
sed "s/port: 1502/port: $(free_port)/" "$LBL_TOP/tests/data/rig-devices.yaml" >"$rig"
recipe="$LBL_TOP/recipes/examples/ag-tca-5-spray.yaml"

"$ctl" check-rig "$rig" >/dev/null && pass "devices rig valid" ||
    fail "devices rig valid" "$("$ctl" check-rig "$rig" 2>&1)"
# the valve's own profile moved its watchdog clear of the pump's registers;
# the plain valve profile puts it on HR 0, the pump's flow
sed 's/profile: pump-ctl-valve}/profile: generic-valve}/' "$rig" >"$LBL_TMP/overlap.yaml"
out=$("$ctl" check-rig "$LBL_TMP/overlap.yaml" 2>&1)
echo "$out" | grep -Eq "overlap.yaml:[0-9]+:[0-9]+: error: unit 2 on bus 'tcp0' is shared by devices 'pump-ag' and 'valve-ag', and both use holding 0x0000" &&
    pass "overlapping registers on a shared unit refused, naming both devices and the register" ||
    fail "overlapping registers on a shared unit refused" "$out"

# the plan: 250 mm at 100 mm/s is 2.5 s, not the 2.7 s of a 500 mm/s2 ramp
travel=$("$ctl" plan "$recipe" --rig "$rig" --json |
    /usr/bin/python3 -c 'import json,sys; print(max(s["travel_ms"] for s in json.load(sys.stdin)["steps"]))')
[ "$travel" = 2500 ] && pass "constant-speed transfer planned 2500 ms" ||
    fail "constant-speed transfer planned 2500 ms" "$travel ms"

SIMCTL="$LBL_TMP/simrig.ctl"
start_simrig "$rig" --time-scale "$scale" --control "$SIMCTL" --trace "$LBL_TMP/trace" || exit 1
start_lbld "$rig" "$LBL_TMP/lbl.db" --time-scale "$scale" || exit 1
answer_prompts >/dev/null 2>&1 &
LBL_PIDS="$LBL_PIDS $!"
if "$ctl" run "$recipe" --operator ci --wait >"$LBL_TMP/run.out" 2>&1; then
	pass "ag-tca-5-spray completes on the devices rig"
else
	fail "ag-tca-5-spray completes on the devices rig" "$(tail -5 "$LBL_TMP/run.out"; tail -5 "$LBL_TMP/lbld.err")"
fi
db="$LBL_TMP/lbl.db"
n=$(sqlite3 "$db" "select count(*) from steps where outcome='done'")
planned=$("$ctl" plan "$recipe" --rig "$rig" --json |
    /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["steps"]))')
[ "$n" = "$planned" ] && pass "every step recorded done ($n)" || fail "every step recorded done" "$n of $planned"
count() { grep -c " $1 $2\( \|\$\)" "$LBL_TMP/trace"; }
# five bilayers: each sprays ag and tca once
[ "$(count pump-tca run)" = 5 ] && [ "$(count pump-tca stop)" -ge 5 ] &&
    pass "pump-fed nozzle: its pump ran for each of the 5 tca sprays" ||
    fail "pump-fed nozzle: its pump ran" "run $(count pump-tca run), stop $(count pump-tca stop)"
[ "$(count pump-ag run)" = 5 ] && [ "$(count valve-ag on)" = 5 ] && [ "$(count valve-ag off)" -ge 5 ] &&
    pass "shared unit: the pump and its valve each acted on their own registers" ||
    fail "shared unit: the pump and its valve each acted" "pump run $(count pump-ag run), valve on $(count valve-ag on) off $(count valve-ag off)"
vol=$(simctl get pump-ag | sed -n 's/.* volume=\([0-9.]*\).*/\1/p')
# 5 sprays of 5 s at 20 mL/min: 8.33 mL in the pump's own counter
awk -v v="$vol" 'BEGIN { exit !(v > 7.5 && v < 9.2) }' &&
    pass "shared unit: the pump's volume counter read back ($vol mL of 8.33)" ||
    fail "shared unit: the pump's volume counter" "$vol mL"
state=$(simctl get valve-ag)
echo "$state" | grep -q 'active=0' && pass "shared unit: the valve is off at the end" ||
    fail "shared unit: the valve is off at the end" "$state"
# the first spray's travel to the booth: 2.5 s of recipe time at the simulator's constant speed
if /usr/bin/python3 - "$LBL_TMP/trace" "$scale" <<'PY'
import sys
scale = float(sys.argv[2])
go = None
for line in open(sys.argv[1]):
    f = line.split()
    if f[1] == "transfer" and f[2] == "go" and go is None:
        go = int(f[0])
    if f[1] == "pump-ag" and f[2] == "run" and go is not None:
        ms = (int(f[0]) - go) / 1e6 * scale
        print("info: transfer go to the first Ag pump run: %.0f ms of recipe time (plan 2500)" % ms)
        # never faster than the planned move; late by at most 250 ms of wall time (load)
        sys.exit(0 if 2400 <= ms <= 2500 + 250 * scale else 1)
sys.exit(1)
PY
then pass "the constant-speed move took its planned time"; else fail "the constant-speed move took its planned time" "see info"; fi
kill "$LBLD_PID" "$SIMRIG_PID"; wait "$LBLD_PID" "$SIMRIG_PID" 2>/dev/null
sanitizer_clean "$LBL_TMP/lbld.err" "lbld"
sanitizer_clean "$LBL_TMP/simrig.err" "lbl-simrig"
[ -z "${LBL_FAILED:-}" ]
