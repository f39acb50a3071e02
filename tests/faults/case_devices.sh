# Fault campaign cases: what the devices say (issue 15). A sensor that goes
# out of its plausible range mid-batch (a reading above it, and FLT_MAX from
# its float32 register) and a pump stopped from outside mid-spray: each
# fails the batch into safe state with the device named in the cause and in
# the fault event's device column, and the record stays whole (the pump's
# stop is supervision's to catch, or its counter's; test_supervision.sh
# times supervision). Sourced by
# campaign.sh (uses its helpers).

# ---- a sensor goes out of range mid-batch ----
# sensor_case FAULT WANT: lbl-simrig's gauge reads FAULT from its second
# measure on; the cause must match the regex WANT.
sensor_case() {
	name="gauge reads $1 mid-batch"
	begin_case
	start_rig "sensor-$(echo "$1" | tr -c 'a-z0-9\n' '-')" 100 ||
	    { fail "$name" "rig did not start"; end_case; return; }
	cat >"$dir/measure.yaml" <<'YAML'
name: measure-every-bilayer
version: "1"
process: dip
substrate: glass slide
resume: allowed
target: {bilayers: 4, thickness: 200 nm, max_bilayers: 4}
growth: {model: linear, per_bilayer: 7.8 nm}
solutions:
  ag: {station: ag}
  tca: {station: tca}
  rinse: {station: rinse-2, rinse: true}
cycle:
  - dip: {solution: ag, dwell: 30s, depth: 20 mm}
  - rinse: {solution: rinse, dwell: 10s, depth: 20 mm}
  - dip: {solution: tca, dwell: 30s, depth: 20 mm}
  - rinse: {solution: rinse, dwell: 10s, depth: 20 mm}
  - measure: {sensor: gauge, method: gauge, stop_at_target: true}
YAML
	"$ctl" run "$dir/measure.yaml" --operator campaign >/dev/null 2>&1 || fail "$name" "run refused"
	# the first measure went through: a measurement
	wait_for 30 sh -c "[ \"\$(sqlite3 '$db' 'select count(*) from bilayers where batch_id=1')\" -ge 1 ]" ||
	    fail "$name: the first bilayer measured" "$(q 'select * from bilayers')"
	simctl fault gauge $1 | grep -q '^ok' || fail "$name" "simrig refused the fault"
	failed_soon 30 && pass "$name: batch failed" || fail "$name: batch failed" "state $(state_of)"
	cause=$(q "select failure_cause from batches where id=1")
	echo "$cause" | grep -Eq "$2" && pass "$name: device, bus, unit, register and reading named" ||
	    fail "$name: device, bus, unit, register and reading named" "'$cause' does not match '$2'"
	[ "$(q "select count(*) from events where batch_id=1 and kind='fault' and device='gauge'")" = 1 ] &&
	    pass "$name: the fault event names the gauge" ||
	    fail "$name: the fault event names the gauge" "$(q "select kind, device from events where batch_id=1 and kind='fault'")"
	[ "$(q "select count(*) from bilayers where batch_id=1 and thickness_measured_nm > 1000")" = 0 ] &&
	    pass "$name: no reading recorded as a measurement" ||
	    fail "$name: no reading recorded as a measurement" "$(q 'select * from bilayers where batch_id=1')"
	settled "$name"
	stop_rig
	end_case
}
sensor_case "reading 5e6" "device 'gauge' \(bus gateway, unit 7\): read input 0x0000 \(value\): read 5000000, above its plausible range"
sensor_case huge "device 'gauge' \(bus gateway, unit 7\): read input 0x0000 \(value\): read 3.40282347e\+38, above"

# ---- a pump stopped from outside mid-spray ----
begin_case
name="pump stopped from outside mid-spray"
case_dir pump-stopped spray-rig.yaml
if start_simrig "$dir/rig.yaml" --time-scale 10 --control "$SIMCTL" &&
    start_lbld "$dir/rig.yaml" "$db" --time-scale 10; then
	answer_prompts >/dev/null 2>&1 &
	PROMPTS_PID=$!
	LBL_PIDS="$LBL_PIDS $PROMPTS_PID"
	"$ctl" run "$LBL_TOP/recipes/examples/ag-tca-5-spray.yaml" --operator campaign >/dev/null 2>&1 ||
	    fail "$name" "run refused"
	rinse_spraying() { "$ctl" status | grep -q '^step: .* spray rinse'; }
	rinse_running() { simctl get pump-rinse | grep -q 'running=1'; }
	wait_for 60 rinse_spraying || fail "$name: the rinse spray starts" "$("$ctl" status)"
	wait_for 10 rinse_running || fail "$name: the rinse pump runs" "$(simctl get pump-rinse)"
	sleep 0.3	# 3 s of the 10 s spray at time scale 10
	simctl stop pump-rinse | grep -q '^ok' || fail "$name" "simrig refused the stop"
	failed_soon 30 && pass "$name: batch failed" || fail "$name: batch failed" "state $(state_of)"
	cause=$(q "select failure_cause from batches where id=1")
	# supervision's poll (within 250 ms) or, at time scale 10, the step's end
	# first (1 s of spray left) and the pump's own counter
	echo "$cause" | grep -Eq "^supervision: device 'pump-rinse' \(bus drives, unit 4\): read input 0x0002 \(running\): stopped, while commanded to run|pump 'pump-rinse' dispensed [0-9.]+ mL of 5.00 mL planned by its own counter" &&
	    pass "$name: the pump named, with its register or both volumes" ||
	    fail "$name: the pump named, with its register or both volumes" "$cause"
	[ "$(q "select count(*) from events where batch_id=1 and kind='fault' and device='pump-rinse'")" = 1 ] &&
	    pass "$name: the fault event names the pump" ||
	    fail "$name: the fault event names the pump" "$(q "select kind, device from events where batch_id=1 and kind='fault'")"
	[ "$(q "select count(*) from steps where batch_id=1 and kind='spray' and outcome = 'failed'")" = 1 ] &&
	    pass "$name: the spray step failed" ||
	    fail "$name: the spray step failed" "$(q 'select seq, outcome, volume_planned_ml, volume_measured_ml from steps where batch_id=1 and kind="spray"')"
	for p in pump-ag pump-tca pump-rinse; do
		simctl get "$p" | grep -q 'running=1' && fail "$name: pumps stopped" "$p running"
	done
	settled "$name"
else
	fail "$name" "rig did not start"
fi
stop_rig
end_case
