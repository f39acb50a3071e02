# Fault campaign case (sourced by campaign.sh): notify commands that hang and
# flood during an e-stop. Every event's command (the rig file's 'notify:')
# ignores SIGTERM and sleeps; the e-stop is pressed mid-batch, then bounced,
# so more events come than ALERT_MAX_RUNNING (4) commands may run. The
# e-stop's safe state must not wait for any of it: the batch fails and the
# outputs are off as fast as without notify; the events beyond the limit
# are logged as dropped; every command is killed at its time limit and
# reaped (no process left, no zombie).

# milliseconds since a date +%s%N
notify_ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

begin_case
name="notify commands hang and flood during an e-stop"
start_rig notify 100 || exit 1
cat >"$dir/hang.sh" <<'EOS'
#!/bin/sh
echo $$ >>"$1/hang.pids"
trap '' TERM
exec sleep 120
EOS
chmod +x "$dir/hang.sh"
hang="[$dir/hang.sh, $dir]"
printf 'notify:\n  prompt: %s\n  failed: %s\n  estop: %s\n  aborted: %s\n  timeout: 2s\n' \
    "$hang" "$hang" "$hang" "$hang" >>"$dir/rig.yaml"
"$ctl" reload >/dev/null 2>&1 || fail "$name: reload with notify" "$("$ctl" reload 2>&1)"
gpio="$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in"
if "$ctl" run "$recipe" --operator campaign >/dev/null 2>&1 && running_past 2; then
	# the prompt's command hangs already; the e-stop adds its own and the failure's
	t0=$(date +%s%N)
	printf '0\n' >"$gpio"	# active low: 0 is pressed
	failed_soon 5
	ms=$(notify_ms "$t0")
	why=$(wait_for 5 outputs_safe && echo ok || outputs_safe)
	safe_ms=$(notify_ms "$t0")
	echo "info: $name: batch failed in $ms ms, outputs confirmed off after $safe_ms ms"
	[ "$(state_of)" = failed ] && q "select failure_cause from batches where id=1" |
	    grep -q "e-stop 'estop' engaged" && [ "$ms" -lt 1000 ] &&
	    pass "$name: the e-stop fails the batch at once ($ms ms)" ||
	    fail "$name: the e-stop fails the batch at once" "state $(state_of) after $ms ms"
	[ "$why" = ok ] && [ "$safe_ms" -lt 1500 ] && pass "$name: outputs off ($safe_ms ms)" ||
	    fail "$name: outputs off" "$why after $safe_ms ms"
	# bouncing: released and pressed again, four times within the time limit
	for n in 1 2 3 4; do
		printf '1\n' >"$gpio"; sleep 0.15
		printf '0\n' >"$gpio"; sleep 0.15
	done
	grep -q "notify: event estop.* dropped: 4 notify commands are running already" "$LBL_TMP/lbld.err" &&
	    pass "$name: events beyond 4 running commands are dropped, and logged" ||
	    fail "$name: dropped events logged" "$(grep 'notify:' "$LBL_TMP/lbld.err" | tail -5)"
	# every command killed at 2 s (+2 s for SIGKILL) and reaped
	sleep 5
	left=
	for p in $(cat "$dir/hang.pids" 2>/dev/null); do
		kill -0 "$p" 2>/dev/null && left="$left $p($(ps -o stat= -p "$p"))"
	done
	started=$(grep -c . "$dir/hang.pids" 2>/dev/null)
	[ "${started:-0}" -ge 4 ] && [ -z "$left" ] &&
	    pass "$name: all $started commands killed at their limit and reaped" ||
	    fail "$name: commands killed and reaped" "${started:-0} started, left:$left"
	killed=$(grep -c "notify: event .* was killed (SIGKILL) at its time limit of 2 s" "$LBL_TMP/lbld.err")
	[ "$killed" = "$started" ] && pass "$name: each kill logged with its event" ||
	    fail "$name: each kill logged" "$killed of $started"
	printf '1\n' >"$gpio"
	park_released "$name" && wait_for 20 parked && pass "$name: park after release" ||
	    fail "$name: park after release" "$(park_why)"
	settled "$name"
else
	fail "$name" "the batch did not start"
	printf '1\n' >"$gpio"
fi
stop_rig
end_case
