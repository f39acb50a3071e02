#!/bin/sh
# A sensor's reading is checked before it is a measurement: NaN, infinity,
# FLT_MAX from a float32 register, or a value outside the sensor's
# plausible range (its kind's default, its profile's or the rig file's
# 'range') fails the batch into its safe state, and the cause and the fault
# event name the device, bus, unit, register and the reading. lbl-simrig
# produces each reading on demand (its --control socket's fault kinds).
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
scale=200
make_rig dip-rig.yaml "$LBL_TMP/rig.yaml"
# the gauge's plausible range from the rig file: 0 to 500 nm
sed -i 's|^  gauge: {role: sensor, kind: thickness, bus: gateway, unit: 7, profile: generic-sensor}|  gauge: {role: sensor, kind: thickness, bus: gateway, unit: 7, profile: generic-sensor, range: {min: 0, max: 500}}|' "$LBL_TMP/rig.yaml"
grep -q 'range: {min: 0, max: 500}' "$LBL_TMP/rig.yaml" || fail "rig range" "sed found nothing to change"
SIMCTL="$LBL_TMP/sim.ctl"
start_simrig "$LBL_TMP/rig.yaml" --time-scale $scale --control "$SIMCTL" || exit 1
start_lbld "$LBL_TMP/rig.yaml" "$LBL_TMP/lbl.db" --time-scale $scale || exit 1
cat >"$LBL_TMP/measure.yaml" <<'YAML'
name: measure-only
version: "1"
process: dip
substrate: glass slide
resume: allowed
target: {bilayers: 2, thickness: 30 nm}
growth: {model: linear, per_bilayer: 10 nm}
solutions:
  ag: {station: ag}
  tca: {station: tca}
cycle:
  - dip: {solution: ag, dwell: 10s, depth: 20 mm}
  - dip: {solution: tca, dwell: 10s, depth: 20 mm}
  - measure: {sensor: gauge, method: gauge, stop_at_target: true}
YAML
db() { sqlite3 "$LBL_TMP/lbl.db" "$1"; }
n=0
# kind, the words that must be in the cause
for c in "nan|read nan, not a number" "inf|read inf, infinite" \
    "huge|read 3.40282347e+38, above its plausible range" \
    "reading:600|read 600, above its plausible range (plausible 0 to 500, from the rig file" \
    "reading:-5|read -5, below its plausible range"; do
	kind=${c%%|*} want=${c#*|}
	n=$((n + 1))
	simctl fault gauge $(echo "$kind" | tr ':' ' ') | grep -q '^ok' || fail "fault $kind" "simrig refused"
	"$ctl" run "$LBL_TMP/measure.yaml" --operator ci --wait >"$LBL_TMP/out" 2>&1
	state=$(db "select state from batches where id=$n")
	cause=$(db "select failure_cause from batches where id=$n")
	[ "$state" = failed ] && pass "$kind: the batch failed" || fail "$kind: the batch failed" "state $state, cause $cause"
	case "$cause" in
	*"device 'gauge' (bus gateway, unit 7): read input 0x0000 (value): $want"*)
		pass "$kind: the cause names device, bus, unit, register and reading" ;;
	*) fail "$kind: the cause names device, bus, unit, register and reading" "$cause" ;;
	esac
	[ "$(db "select count(*) from events where batch_id=$n and kind='fault' and device='gauge'")" -ge 1 ] &&
	    pass "$kind: the fault event names device gauge" ||
	    fail "$kind: the fault event names device gauge" "$(db "select kind, device, message from events where batch_id=$n")"
	[ "$(db "select count(*) from bilayers where batch_id=$n and thickness_measured_nm is not null")" = 0 ] &&
	    pass "$kind: nothing recorded as measured" ||
	    fail "$kind: nothing recorded as measured" "$(db "select * from bilayers where batch_id=$n")"
	wait_for 20 sh -c "\"$ctl\" status | grep -q '^state: idle'" ||
	    fail "$kind: back to idle" "$("$ctl" status)"
done
# the same sensor reading well: measured, completed
simctl clear gauge >/dev/null
n=$((n + 1))
"$ctl" run "$LBL_TMP/measure.yaml" --operator ci --wait >"$LBL_TMP/out" 2>&1
[ "$(db "select state from batches where id=$n")" = completed ] &&
    pass "a plausible reading is a measurement" ||
    fail "a plausible reading is a measurement" "$(db "select state, failure_cause from batches where id=$n")"
# lbl-simrig refuses sensor faults on other devices, and a reading without its value
simctl fault fill-1 nan | grep -q "^error fault nan is for sensors" &&
    pass "simrig: nan is for sensors" || fail "simrig: nan is for sensors" "$(simctl fault fill-1 nan)"
simctl fault gauge reading | grep -q "^error" &&
    pass "simrig: reading needs its value" || fail "simrig: reading needs its value" "accepted"
# check-rig refuses an empty range, naming where
sed 's|range: {min: 0, max: 500}|range: {min: 500, max: 0}|' "$LBL_TMP/rig.yaml" >"$LBL_TMP/bad.yaml"
out=$("$ctl" check-rig "$LBL_TMP/bad.yaml" 2>&1)
case "$out" in
*bad.yaml:*:*": error: 'range': min (500) must be below max (0)"*) pass "check-rig: an empty range is refused at its line" ;;
*) fail "check-rig: an empty range is refused at its line" "$out" ;;
esac
sanitizer_clean "$LBL_TMP/lbld.err" lbld
[ -z "${LBL_FAILED:-}" ]
