#!/bin/sh
# Faults end in safe state with their cause recorded: every simrig fault
# kind injected into a running batch, and the e-stop pressed while a Modbus
# transaction hangs in its timeout. Each time: the batch fails with a cause
# naming the device, the pumps and valves are off, lbld lives on, and the
# database is intact.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
recipe="$LBL_TOP/recipes/examples/ag-tca-5-dip.yaml"
scale=100

# outputs_safe: every GPIO output off and every pump of the rig stopped.
outputs_safe() {
	for f in "$LBL_TMP"/gpio/*/*.out; do
		[ -f "$f" ] || continue
		[ "$(cat "$f")" = 0 ] || { echo "$f is $(cat "$f")"; return 1; }
	done
	for p in stir-ag stir-cnt fill-1 drain-1; do
		simctl get "$p" | grep -q 'running=1' && { echo "$p running"; return 1; }
	done
	return 0
}

# start_rig NAME: a fresh simrig, lbld and database for one case.
start_rig() {
	dir="$LBL_TMP/$1"
	mkdir -p "$dir"
	make_rig dip-rig.yaml "$dir/rig.yaml"
	export LBL_SOCKET="$dir/lbld.sock"
	SIMCTL="$dir/simrig.ctl"
	db="$dir/lbl.db"
	start_simrig "$dir/rig.yaml" --time-scale "$scale" --control "$SIMCTL" || return 1
	start_lbld "$dir/rig.yaml" "$db" --time-scale "$scale" || return 1
	answer_prompts >/dev/null 2>&1 &
	LBL_PIDS="$LBL_PIDS $!"
}

stop_rig() {
	kill "$LBLD_PID" "$SIMRIG_PID" 2>/dev/null
	wait "$LBLD_PID" "$SIMRIG_PID" 2>/dev/null
}

# fault_case KIND DEVICE WANT: inject KIND into DEVICE mid-run; the failure
# cause must match the extended regex WANT.
fault_case() {
	kind=$1 device=$2 want=$3 name="fault $1 on $2"
	start_rig "$kind-$device" || { fail "$name" "rig did not start"; return; }
	"$ctl" run "$recipe" --operator ci >/dev/null 2>&1 || { fail "$name" "run refused"; stop_rig; return; }
	# a few steps in, with the stirrer running
	wait_for 20 sh -c "[ \"\$(sqlite3 '$db' 'select last_step_seq from batches where id=1')\" -ge 3 ]"
	simctl fault "$device" "$kind" | grep -q '^ok' || fail "$name" "simrig refused the fault"
	if wait_for 30 sh -c "[ \"\$(sqlite3 '$db' 'select state from batches where id=1')\" = failed ]"; then
		pass "$name: batch failed"
	else
		fail "$name: batch failed" "state $(sqlite3 "$db" 'select state from batches where id=1')"
	fi
	cause=$(sqlite3 "$db" "select failure_cause from batches where id=1")
	echo "$cause" | grep -Eq "$want" && pass "$name: cause recorded" ||
	    fail "$name: cause recorded" "'$cause' does not match '$want'"
	sqlite3 "$db" "select count(*) from events where batch_id=1 and kind='fault'" | grep -qv '^0$' &&
	    pass "$name: fault event" || fail "$name: fault event" "none"
	why=$(wait_for 10 outputs_safe && echo ok || outputs_safe)
	[ "$why" = ok ] && pass "$name: outputs safe" || fail "$name: outputs safe" "$why"
	kill -0 "$LBLD_PID" 2>/dev/null && pass "$name: lbld alive" || fail "$name: lbld alive" "died"
	[ "$(sqlite3 "$db" 'pragma integrity_check')" = ok ] && pass "$name: integrity" || fail "$name: integrity" "corrupt"
	open=$(sqlite3 "$db" "select count(*) from steps where batch_id=1 and outcome='running'")
	[ "$open" = 0 ] && pass "$name: no step left open" || fail "$name: no step left open" "$open"
	stop_rig
}

fault_case silent lift "lift.*(timed out|Connection)"
fault_case exception transfer "transfer.*(exception|failure)"
fault_case alarm lift "lift.*alarm"
fault_case stuck transfer "transfer.*did not reach"
fault_case stall lift "lift.*(timed out|Connection)"

# The e-stop while a transaction hangs: the QCM stalls (each read waits out
# its timeout), and the e-stop must still stop everything at once.
start_rig estop || exit 1
"$ctl" run "$recipe" --operator ci >/dev/null 2>&1
wait_for 20 sh -c "[ \"\$(sqlite3 '$db' 'select last_step_seq from batches where id=1')\" -ge 3 ]"
simctl fault lift stall >/dev/null
sleep 0.1
t0=$(date +%s%N)
printf '0\n' >"$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in"	# active low: 0 is pressed
wait_for 5 sh -c "[ \"\$(sqlite3 '$db' 'select state from batches where id=1')\" = failed ]"
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
[ "$(sqlite3 "$db" 'select state from batches where id=1')" = failed ] && pass "e-stop while hung: batch failed" ||
    fail "e-stop while hung: batch failed" "$(sqlite3 "$db" 'select state from batches where id=1')"
echo "info: e-stop to failed batch recorded in $ms ms (stall holds a transaction for 2 s)"
[ "$ms" -lt 1500 ] && pass "e-stop not delayed by the hung transaction" || fail "e-stop not delayed" "$ms ms"
sqlite3 "$db" "select failure_cause from batches where id=1" | grep -q "e-stop 'estop' engaged" &&
    pass "e-stop cause recorded" || fail "e-stop cause recorded" "$(sqlite3 "$db" 'select failure_cause from batches where id=1')"
sqlite3 "$db" "select count(*) from events where batch_id=1 and kind='estop'" | grep -qv '^0$' &&
    pass "e-stop event" || fail "e-stop event" "none"
why=$(wait_for 5 outputs_safe && echo ok || outputs_safe)
[ "$why" = ok ] && pass "e-stop: outputs safe" || fail "e-stop: outputs safe" "$why"
simctl clear lift >/dev/null
"$ctl" run "$recipe" --operator ci >/dev/null 2>"$dir/err" && fail "no run while the e-stop is engaged" "accepted" ||
    pass "no run while the e-stop is engaged"
printf '1\n' >"$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in"
sleep 0.2
[ "$(sqlite3 "$db" 'pragma integrity_check')" = ok ] && pass "e-stop: integrity" || fail "e-stop: integrity" "corrupt"
stop_rig
[ -z "${LBL_FAILED:-}" ]
