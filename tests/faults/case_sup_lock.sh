# Fault campaign cases: supervision's faults while another process holds the
# database's write lock (case_dblock.sh's hold_lock): a drive alarm and a
# stirrer stopped from outside, each mid-dwell in a 30 s dip (real time, the
# dip rig's defaults: polled every 500 and 250 ms). The batch must fail safe
# within the device's budget (its period and a transaction deadline, as lbld
# logs it, plus a margin for a loaded machine) although nothing can be
# written: status says why at once, every pump is stopped while the lock is
# still held; once the lock goes, the record catches up: the batch failed
# with supervision's cause, the fault event naming the device, every step
# up to the fault recorded once, the database intact. Sourced by
# campaign.sh (uses its helpers, case_stops.sh's and case_dblock.sh's).

cat >"$LBL_TMP/sup-lock.yaml" <<'YAML'
name: supervised-dip-locked
version: "1"
process: dip
substrate: glass slide
resume: allowed
target: {bilayers: 1}
growth: {model: linear, per_bilayer: 5 nm}
solutions:
  ag: {station: ag}
  tca: {station: tca}
cycle:
  - dip: {solution: ag, dwell: 30s, depth: 20 mm, agitation: 300 rpm}
  - dip: {solution: tca, dwell: 5s, depth: 20 mm}
YAML

sup_lock_dwelling() {
	"$ctl" status | grep -q '^step: .* dip ag' && immersed &&
	    simctl get lift | grep -q 'moving=0' && simctl get stir-ag | grep -q 'running=1'
}

# sup_lock_failed: lbld says the batch failed with the cause $want
sup_lock_failed() { "$ctl" status | grep -Eq "^cause: $want"; }

# sup_lock_case NAME DEVICE INJECT CAUSE_REGEX
sup_lock_case() {
	name=$1 dev=$2 inject=$3 want=$4
	begin_case
	if ! start_rig "sup-lock-$dev" 1; then
		fail "$name" "rig did not start"
		end_case
		return
	fi
	"$ctl" run "$LBL_TMP/sup-lock.yaml" --operator campaign >/dev/null 2>&1 || fail "$name" "run refused"
	# in the ag beaker, the lift still, the stirrer running
	if ! wait_for 30 sup_lock_dwelling; then
		fail "$name: the dwell starts" "$("$ctl" status | head -4 | tr '\n' '|'); $(simctl get stir-ag)"
		stop_rig
		end_case
		return
	fi
	sleep 1
	budget=$(sed -n "s/.*supervision: .*\b$dev every [0-9]* ms (a fault within \([0-9]*\) ms).*/\1/p" \
	    "$LBL_TMP/lbld.err" | tail -1)
	[ -n "$budget" ] || { fail "$name: lbld logs $dev's budget" "$(grep supervision: "$LBL_TMP/lbld.err")"; budget=0; }
	hold_lock 12 || fail "$name" "the lock was not taken"
	t0=$(date +%s%N)
	simctl $inject | grep -q '^ok' || fail "$name" "simrig refused '$inject'"
	if wait_for 15 sup_lock_failed; then
		ms=$(( ($(date +%s%N) - t0) / 1000000 ))
		[ "$ms" -le $((budget + 2000)) ] &&
		    pass "$name: the batch fails in $ms ms (budget $budget ms + 2000 ms margin), the record locked" ||
		    fail "$name: the batch fails within budget" "$ms ms > $budget + 2000 ms"
	else
		fail "$name: status names the fault" "$("$ctl" status | tr '\n' '|')"
	fi
	why=$(wait_for 10 outputs_safe && echo ok || outputs_safe)
	[ "$why" = ok ] && pass "$name: outputs safe while the database is locked" || fail "$name: outputs safe" "$why"
	kill -0 "$LOCK_PID" 2>/dev/null && [ "$(state_of)" = running ] &&
	    pass "$name: the lock was still held, nothing written yet" ||
	    fail "$name: the lock was still held" "the lock ended first: the case proves nothing"
	wait "$LOCK_PID" 2>/dev/null
	failed_soon 15 && pass "$name: the failure is on record once the lock went" ||
	    fail "$name: the failure is on record" "state $(state_of)"
	cause=$(q "select failure_cause from batches where id=1")
	echo "$cause" | grep -Eq "^$want" && pass "$name: the recorded cause: $cause" ||
	    fail "$name: the recorded cause" "'$cause' does not match '$want'"
	[ "$(q "select count(*) from events where batch_id=1 and kind='fault' and device='$dev'")" != 0 ] &&
	    pass "$name: the fault event names $dev" ||
	    fail "$name: the fault event names $dev" "$(q "select kind, device, message from events where batch_id=1")"
	settled "$name"
	stop_rig
	end_case
}

sup_lock_case "drive alarm mid-dwell, the database locked" lift "fault lift alarm" \
    "supervision: device 'lift' \(bus gateway, unit 1\): read input 0x0002 \(alarm\): alarm raised"
sup_lock_case "stirrer stopped mid-dwell, the database locked" stir-ag "stop stir-ag" \
    "supervision: device 'stir-ag' \(bus gateway, unit 5\): read input 0x0002 \(running\): stopped, while commanded to run"
