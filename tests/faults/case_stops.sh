# Fault campaign cases: what operators, systemd and package managers do to a
# running lbld (sourced by campaign.sh, which defines the helpers). Every way
# lbld stops must leave the rig safe: pumps off, the substrate withdrawn to
# the safe height and parked, the batch in a state that says what happened.

# lift_at / transfer_at: the axis position lbl-simrig reports (mm).
lift_at() { simctl get lift | sed -n 's/.* position=\([-0-9.]*\).*/\1/p'; }
transfer_at() { simctl get transfer | sed -n 's/.* position=\([-0-9.]*\).*/\1/p'; }
# immersed: the lift is below the liquid surface (60 mm on the example rig)
immersed() { awk -v z="$(lift_at)" 'BEGIN { exit !(z > 65) }'; }
withdrawn() { awk -v z="$(lift_at)" 'BEGIN { exit !(z <= 20.01) }'; }
parked() { withdrawn && awk -v x="$(transfer_at)" 'BEGIN { exit !(x < 0.01 && x > -0.01) }'; }
# park_why: where the axes are and what lbld says about it, for a FAIL line
park_why() {
	echo "lift at $(lift_at) mm, transfer at $(transfer_at) mm; $("$ctl" status 2>&1 | grep -E '^(state|substrate|safety|waiting):' | tr '\n' ' ')lbld's last words: $(grep -Ei 'park|safe|fail|not ' "$LBL_TMP/lbld.err" | tail -4 | tr '\n' '|')"
}
# wait_exit PID SECONDS: the process exits within SECONDS; its status in $exit_status
wait_exit() {
	n=0
	while kill -0 "$1" 2>/dev/null && [ $n -lt $(($2 * 10)) ]; do sleep 0.1; n=$((n + 1)); done
	if kill -0 "$1" 2>/dev/null; then exit_status=timeout; return 1; fi
	wait "$1" 2>/dev/null; exit_status=$?
	return 0
}
start_batch() { # start a batch and wait until the substrate is in its first bath
	"$ctl" run "$recipe" --operator campaign >/dev/null 2>&1 || { fail "$1" "run refused"; return 1; }
	wait_for 30 immersed || { fail "$1" "the substrate never went in (lift at $(lift_at) mm)"; return 1; }
}

# ---- SIGTERM mid-dip, every Modbus transaction 10 ms late ----
# systemctl stop (and apt's restart) send SIGTERM: stops confirmed on every
# bus, substrate withdrawn and parked, batch interrupted, then resumable.
begin_case
name="SIGTERM mid-dip (10 ms per Modbus transaction)"
start_rig sigterm 100 --latency 10 || exit 1
if start_batch "$name"; then
	pid=$LBLD_PID
	kill -TERM "$pid"
	wait_exit "$pid" 45 && [ "$exit_status" = 0 ] && pass "$name: lbld exits 0 once safe" ||
	    fail "$name: lbld exits 0 once safe" "exit $exit_status"
	why=$(outputs_safe) && pass "$name: every pump off at exit" || fail "$name: every pump off at exit" "$why"
	parked && pass "$name: substrate withdrawn and parked" ||
	    fail "$name: substrate withdrawn and parked" "$(park_why)"
	[ "$(state_of)" = interrupted ] && pass "$name: batch interrupted" ||
	    fail "$name: batch interrupted" "state $(state_of)"
	grep -q "the rig is safe: every output confirmed off" "$LBL_TMP/lbld.err" &&
	    pass "$name: the log says the rig was confirmed safe" ||
	    fail "$name: the log says the rig was confirmed safe" "$(tail -3 "$LBL_TMP/lbld.err")"
	kill "$PROMPTS_PID" 2>/dev/null
	start_lbld "$dir/rig.yaml" "$db" --time-scale 100 || fail "$name: restart" "lbld did not start"
	answer_prompts >/dev/null 2>&1 &
	PROMPTS_PID=$!; LBL_PIDS="$LBL_PIDS $PROMPTS_PID"
	"$ctl" status | grep -q "^next: 'lblctl resume-batch 1'" && "$ctl" status | grep -q '^substrate: parked' &&
	    pass "$name: status after restart names the batch, the substrate and the next command" ||
	    fail "$name: status after restart" "$("$ctl" status | tr '\n' '|')"
	"$ctl" resume-batch 1 >/dev/null 2>&1 || fail "$name: resume-batch" "refused"
	wait_for 120 sh -c "[ \"\$(sqlite3 '$db' 'select state from batches where id=1')\" = completed ]" &&
	    pass "$name: resumed batch completes" || fail "$name: resumed batch completes" "state $(state_of)"
	settled "$name"
fi
stop_rig
end_case

# ---- SIGHUP, SIGUSR1 and SIGALRM mid-batch: none may kill lbld ----
begin_case
name="stray signals mid-batch"
start_rig signals 100 || exit 1
if start_batch "$name"; then
	for sig in HUP USR1 ALRM USR2; do
		kill -"$sig" "$LBLD_PID"
		sleep 0.2
		kill -0 "$LBLD_PID" 2>/dev/null && pass "$name: SIG$sig leaves lbld running" ||
		    fail "$name: SIG$sig leaves lbld running" "lbld died"
	done
	[ "$(state_of)" = running ] && pass "$name: the batch runs on" || fail "$name: the batch runs on" "state $(state_of)"
	grep -q "reload refused: a batch is running" "$LBL_TMP/lbld.err" &&
	    pass "$name: SIGHUP during a batch is refused with a log line" ||
	    fail "$name: SIGHUP refused" "no log line"
	step=$(q "select last_step_seq from batches where id=1")
	running_past $((step + 2)) && pass "$name: steps go on after the signals" ||
	    fail "$name: steps go on" "stuck at step $step"
	"$ctl" abort >/dev/null
	wait_for 30 sh -c "\"$ctl\" status | grep -q '^state: idle'"
	# idle: SIGHUP re-reads the rig file; a broken one changes nothing
	sed -i 's/^  dryer:   {kind: dryer, x: 700 mm}/  dryer:   {kind: dryer, x: 710 mm}/' "$dir/rig.yaml"
	kill -HUP "$LBLD_PID"
	wait_for 10 grep -q "reloaded: rig dip-rig-1" "$LBL_TMP/lbld.err" &&
	    [ "$(q "select count(*) from rigs")" = 2 ] &&
	    pass "$name: SIGHUP when idle reloads the rig (recorded as a new rig text)" ||
	    fail "$name: SIGHUP reloads" "$(tail -2 "$LBL_TMP/lbld.err")"
	cp "$dir/rig.yaml" "$dir/rig.good"
	echo "buses: [" >>"$dir/rig.yaml"
	kill -HUP "$LBLD_PID"
	wait_for 10 grep -q "reload: the rig file .* is not valid; still running rig dip-rig-1" "$LBL_TMP/lbld.err" &&
	    "$ctl" status >/dev/null && pass "$name: a broken rig file on reload changes nothing" ||
	    fail "$name: broken rig on reload" "$(tail -2 "$LBL_TMP/lbld.err")"
	cp "$dir/rig.good" "$dir/rig.yaml"
	"$ctl" run "$recipe" --operator campaign >/dev/null 2>&1 && pass "$name: a batch runs after the reload" ||
	    fail "$name: a batch runs after the reload" "refused"
	"$ctl" abort >/dev/null 2>&1
	wait_for 30 sh -c "\"$ctl\" status | grep -q '^state: idle'"
	settled "$name"
fi
stop_rig
end_case 5

# ---- SIGTERM while the substrate parks after an abort ----
begin_case
name="SIGTERM while parking after abort"
start_rig abortstop 100 --latency 10 || exit 1
if start_batch "$name"; then
	"$ctl" abort >/dev/null || fail "$name" "abort refused"
	pid=$LBLD_PID
	kill -TERM "$pid"
	wait_exit "$pid" 45 && pass "$name: lbld stops" || fail "$name: lbld stops" "still running"
	[ "$(state_of)" = aborted ] && pass "$name: the batch stays aborted" ||
	    fail "$name: the batch stays aborted" "state $(state_of)"
	parked && pass "$name: the park finished first" ||
	    fail "$name: the park finished first" "$(park_why)"
	why=$(outputs_safe) && pass "$name: outputs safe" || fail "$name: outputs safe" "$why"
	start_lbld "$dir/rig.yaml" "$db" --time-scale 100 || fail "$name: restart" "lbld did not start"
	"$ctl" resume-batch 1 >/dev/null 2>&1 && fail "$name: resume-batch refused" "an aborted batch was resumed" ||
	    pass "$name: resume-batch refuses the aborted batch"
	settled "$name"
fi
stop_rig
end_case

# ---- e-stop and interlock mid-dip: latch, release, then a deliberate park ----
# input_case NAME FILE PRESS RELEASE WHAT
input_case() {
	name=$1 line="$LBL_TMP/gpio/pinctrl-bcm2711/$2" press=$3 release=$4
	begin_case
	start_rig "$5" 100 || exit 1
	if start_batch "$name"; then
		printf '%s\n' "$press" >"$line"
		failed_soon 10 && pass "$name: batch failed" || fail "$name: batch failed" "state $(state_of)"
		why=$(wait_for 5 outputs_safe && echo ok || outputs_safe)
		[ "$why" = ok ] && pass "$name: pumps off" || fail "$name: pumps off" "$why"
		sleep 0.5
		immersed && pass "$name: nothing moves by itself while engaged" ||
		    fail "$name: nothing moves by itself" "lift at $(lift_at) mm"
		"$ctl" status | grep -Eq '^substrate: (LOWERED|UNKNOWN)' && "$ctl" status | grep -q "^safety: .* engaged" &&
		    pass "$name: status says the substrate is lowered and what holds it" ||
		    fail "$name: status says lowered" "$("$ctl" status | tr '\n' '|')"
		out=$("$ctl" park 2>&1) && fail "$name: park refused while engaged" "accepted" ||
		    { echo "$out" | grep -q "engaged" && pass "$name: park refused while engaged, with the reason" ||
		      fail "$name: park refused with the reason" "$out"; }
		printf '%s\n' "$release" >"$line"
		sleep 0.5
		immersed && pass "$name: nothing moves by itself after release" ||
		    fail "$name: nothing moves after release" "lift at $(lift_at) mm"
		"$ctl" run "$recipe" >/dev/null 2>&1 && fail "$name: no batch while lowered" "a batch started" ||
		    pass "$name: no batch starts while the substrate is lowered"
		park_released "$name" && wait_for 20 parked && pass "$name: park withdraws and parks" ||
		    fail "$name: park withdraws and parks" "$(park_why)"
		wait_for 5 sh -c "\"$ctl\" status | grep -q '^substrate: parked'" &&
		    pass "$name: status says parked" || fail "$name: status says parked" "$("$ctl" status | grep substrate)"
		settled "$name"
	fi
	stop_rig
	end_case
}
input_case "e-stop mid-dip" GPIO27.in 0 1 estop-park	# active low: 0 is pressed
input_case "interlock mid-dip" GPIO22.in 1 0 door-park

# ---- a second lbld on the same rig ----
begin_case
name="second lbld"
start_rig second 100 || exit 1
if start_batch "$name"; then
	sum_before=$(q "select count(*) from batches")
	"$LBL_BUILD/lbld" --rig "$dir/rig.yaml" --db "$db" --socket "$LBL_SOCKET" --gpio-sim "$LBL_TMP/gpio" \
	    >/dev/null 2>"$dir/second.err"
	rc=$?
	[ $rc = 1 ] && grep -q "already running (pid $LBLD_PID) on $db" "$dir/second.err" &&
	    pass "$name: same database and socket: exits 1 naming the running pid" ||
	    fail "$name: same database and socket" "exit $rc: $(cat "$dir/second.err")"
	"$LBL_BUILD/lbld" --rig "$dir/rig.yaml" --db "$db" --socket "$dir/other.sock" --gpio-sim "$LBL_TMP/gpio" \
	    >/dev/null 2>"$dir/second.err"
	rc=$?
	[ $rc = 1 ] && [ ! -e "$dir/other.sock" ] && grep -q "already running" "$dir/second.err" &&
	    pass "$name: same database, another socket: refused" ||
	    fail "$name: same database, another socket" "exit $rc: $(cat "$dir/second.err")"
	"$LBL_BUILD/lbld" --rig "$dir/rig.yaml" --db "$dir/other.db" --socket "$LBL_SOCKET" --gpio-sim "$LBL_TMP/gpio" \
	    >/dev/null 2>"$dir/second.err"
	rc=$?
	[ $rc = 1 ] && [ ! -e "$dir/other.db" ] && grep -q "another server answers" "$dir/second.err" &&
	    pass "$name: another database, the same socket: refused, nothing created" ||
	    fail "$name: another database, the same socket" "exit $rc: $(cat "$dir/second.err")"
	"$LBL_BUILD/lbld" --rig "$dir/rig.yaml" --db "$dir/other.db" --socket "$db" --gpio-sim "$LBL_TMP/gpio" \
	    >/dev/null 2>"$dir/second.err"
	rc=$?
	[ $rc = 1 ] && [ -f "$db" ] && intact && grep -q "is not a socket" "$dir/second.err" &&
	    pass "$name: --socket pointing at the database: refused, the database intact" ||
	    fail "$name: --socket at the database" "exit $rc: $(cat "$dir/second.err")"
	kill -0 "$LBLD_PID" && "$ctl" status >/dev/null && [ "$(q "select count(*) from batches")" = "$sum_before" ] &&
	    pass "$name: the first lbld answers on, its batch untouched" ||
	    fail "$name: the first lbld answers on" "status failed or batches changed"
	wait_for 120 sh -c "[ \"\$(sqlite3 '$db' 'select state from batches where id=1')\" = completed ]" &&
	    pass "$name: the first batch completes" || fail "$name: the first batch completes" "state $(state_of)"
	settled "$name"
fi
stop_rig
end_case 4

# ---- a lift fault mid-dip, cleared, then a new batch ----
begin_case
name="lift fault mid-dip, then a new batch"
start_rig liftfault 100 || exit 1
if start_batch "$name"; then
	simctl fault lift silent >/dev/null
	failed_soon 30 && pass "$name: batch failed" || fail "$name: batch failed" "state $(state_of)"
	wait_for 10 sh -c "[ \"\$(sqlite3 '$db' \"select count(*) from events where batch_id=1 and kind='fault' and message like '%not parked%'\")\" != 0 ]" &&
	    pass "$name: the failed park is an event" || fail "$name: the failed park is an event" "none"
	wait_for 10 sh -c "\"$ctl\" status | grep -q 'the last park failed'" &&
	    pass "$name: status says the park failed" || fail "$name: status says the park failed" "$("$ctl" status | grep substrate)"
	simctl clear lift >/dev/null
	x=$(transfer_at)
	out=$("$ctl" run "$recipe" --operator campaign 2>&1) && fail "$name: new batch refused" "accepted" ||
	    { echo "$out" | grep -q "lblctl park" && pass "$name: a new batch is refused, naming lblctl park" ||
	      fail "$name: new batch refused naming park" "$out"; }
	[ "$(transfer_at)" = "$x" ] && immersed && pass "$name: no transfer move with the substrate immersed" ||
	    fail "$name: no transfer move" "transfer $x -> $(transfer_at) mm, lift $(lift_at) mm"
	"$ctl" park >/dev/null 2>&1 && wait_for 20 parked && pass "$name: park after the fault clears" ||
	    fail "$name: park after the fault clears" "$(park_why)"
	wait_for 5 sh -c "! \"$ctl\" status | grep -q 'the last park failed'" &&
	    pass "$name: a good park clears the warning" || fail "$name: a good park clears the warning" "$("$ctl" status | grep substrate)"
	"$ctl" run "$recipe" --operator campaign >/dev/null 2>&1 && pass "$name: then a batch starts" ||
	    fail "$name: then a batch starts" "refused"
	"$ctl" abort >/dev/null 2>&1
	wait_for 30 sh -c "\"$ctl\" status | grep -q '^state: idle'"
	settled "$name"
fi
stop_rig
end_case
