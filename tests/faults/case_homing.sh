# Fault campaign cases: homing with a drive that trickles its answers (a
# byte every 12 ms: a 15-byte answer in about 170 ms, just inside the bus's
# 200 ms deadline, as a drive on a noisy or overloaded link answers), on
# tests/data/rig-homing.yaml (the lift homes at start-up, the transfer by
# command) in real time:
#   - lbld stopped (SIGTERM, what systemctl stop sends) while it homes the
#     lift at start-up;
#   - lbld stopped while 'lblctl home transfer' homes it;
#   - 'lblctl home transfer' through to its end: slow answers inside the
#     deadline are answers, the axis is homed.
# Each: lbld exits 0 within its stop budget (LBLD_STOP_BUDGET_MS, 45 s; it
# should take a few transactions), the log says the rig was confirmed safe,
# no axis is left moving, 'lblctl home' does not hang but says why it
# ended. Sourced by
# campaign.sh (uses its helpers and case_stops.sh's wait_exit).

# homing_rig NAME TRICKLER: the homing rig with TRICKLER trickling from the start
homing_rig() {
	dir="$LBL_TMP/$1"
	mkdir -p "$dir"
	sed -e "s/port: 1502/port: $(free_port)/" "$LBL_TOP/tests/data/rig-homing.yaml" >"$dir/rig.yaml"
	export LBL_SOCKET="$dir/lbld.sock"
	SIMCTL="$dir/simrig.ctl"
	db="$dir/lbl.db"
	: >"$LBL_TMP/lbld.err"
	start_simrig "$dir/rig.yaml" --control "$SIMCTL" --fault "$2:trickle:12" || return 1
	start_lbld "$dir/rig.yaml" "$db" || return 1
	PROMPTS_PID=
}
# still AXIS: the simulator's axis is not moving (its homing stopped or ended)
still() { simctl get "$1" | grep -q 'moving=0'; }
# stopped_safe NAME SECONDS_BUDGET: SIGTERM now; lbld exits 0 within the
# budget, the log says the rig is safe, no axis moves.
stopped_safe() {
	pid=$LBLD_PID
	t0=$(date +%s%N)
	kill -TERM "$pid"
	if wait_exit "$pid" 45 && [ "$exit_status" = 0 ]; then
		ms=$(( ($(date +%s%N) - t0) / 1000000 ))
		pass "$1: lbld exits 0 within its stop budget ($ms ms of 45 s)"
	else
		fail "$1: lbld exits 0 within its stop budget" "exit $exit_status; $(tail -3 "$LBL_TMP/lbld.err")"
		kill -9 "$pid" 2>/dev/null
	fi
	grep -q "the rig is safe: every output confirmed off" "$LBL_TMP/lbld.err" &&
	    pass "$1: the log says the rig was confirmed safe" ||
	    fail "$1: the log says the rig was confirmed safe" "$(tail -4 "$LBL_TMP/lbld.err" | tr '\n' '|')"
	if wait_for 10 still lift && wait_for 10 still transfer; then
		pass "$1: no axis left moving"
	else
		fail "$1: no axis left moving" "$(simctl get lift); $(simctl get transfer)"
	fi
}

# ---- SIGTERM while the lift homes at start-up, trickling ----
begin_case
name="SIGTERM while homing at start-up (lift trickling)"
if homing_rig homestart lift; then
	if wait_for 10 sh -c "'$ctl' status | grep -q '^homed: lift homing'"; then
		pass "$name: the lift homes at start-up, slowly"
		stopped_safe "$name"
		grep -q "homing stopped\|homing failed\|homing: done" "$LBL_TMP/lbld.err" &&
		    pass "$name: the homing's end is logged" ||
		    fail "$name: the homing's end is logged" "$(grep -i hom "$LBL_TMP/lbld.err" | tail -3)"
	else
		fail "$name: the lift homes at start-up" "$("$ctl" status | grep homed)"
	fi
else
	fail "$name" "rig did not start"
fi
stop_rig
end_case

# ---- SIGTERM while lblctl home homes the transfer, trickling ----
begin_case
name="SIGTERM during lblctl home (transfer trickling)"
if homing_rig homecmd transfer; then
	wait_for 20 sh -c "'$ctl' status | grep -q '^homed: lift homed'" || fail "$name" "the lift did not home"
	"$ctl" home transfer >"$dir/home.out" 2>&1 &
	home_pid=$!
	LBL_PIDS="$LBL_PIDS $home_pid"
	if wait_for 10 sh -c "'$ctl' status | grep -q 'transfer homing'"; then
		stopped_safe "$name"
		if wait_exit "$home_pid" 10; then
			[ "$exit_status" != 0 ] && grep -q "homing stopped: lbld was stopped" "$dir/home.out" &&
			    pass "$name: lblctl home is told why ($(tail -1 "$dir/home.out"))" ||
			    fail "$name: lblctl home is told why" "exit $exit_status: $(cat "$dir/home.out")"
		else
			fail "$name: lblctl home returns" "still waiting 10 s after lbld exited"
		fi
	else
		fail "$name: the transfer homes" "$("$ctl" status | grep homed)"
	fi
else
	fail "$name" "rig did not start"
fi
stop_rig
end_case

# ---- lblctl home through to its end, trickling ----
begin_case
name="lblctl home with the transfer trickling"
if homing_rig homeslow transfer; then
	wait_for 20 sh -c "'$ctl' status | grep -q '^homed: lift homed'" || fail "$name" "the lift did not home"
	t0=$(date +%s%N)
	if out=$("$ctl" home transfer 2>&1); then
		ms=$(( ($(date +%s%N) - t0) / 1000000 ))
		simctl get transfer | grep -q 'homed=1' && "$ctl" status | grep -q 'transfer homed' &&
		    pass "$name: homed in $ms ms, slow answers inside the deadline taken as answers" ||
		    fail "$name: homed" "$out; $(simctl get transfer); $("$ctl" status | grep homed)"
	else
		fail "$name: lblctl home succeeds" "$out"
	fi
	kill -0 "$LBLD_PID" 2>/dev/null && pass "$name: lbld alive" || fail "$name: lbld alive" "died"
	stopped_safe "$name"
else
	fail "$name" "rig did not start"
fi
stop_rig
end_case
