# Fault campaign cases: the moments lbld holds a command for (issue 16). A
# step whose first command goes on Modbus is queued 2 ms ahead (after a
# close, as soon as the close is done) and its bus sends it on the moment
# (hw_request.release_ns), the bus thread waking a learnt wake ahead and
# spinning out the rest on the clock (a safe state ends the spin);
# a set and the step sharing its moment (a pair) go on record together
# before the set's command, the set's end once the second's command is
# queued; the second's first command is queued with the set's behind a
# gate (hw_submit_after) and sent by its bus thread once the set is
# confirmed, so an e-stop can come with it queued, waiting or in flight. On the example spray rig (valves on the relays' bus, drive and
# pumps on the drives', n2 on GPIO) in real time:
#   - e-stops pressed at random moments of a batch full of pairs and
#     released commands: every pump stops and every valve closes, and none
#     starts again afterwards, and lbl-simrig's trace shows no pump run or
#     valve on reaching a device after the safe state's first stop (a held
#     command sent after the stops would); no step is left open on record;
#   - another process holds the database's write lock across several pairs:
#     the batch runs on with its record held, every step on record once, in
#     order, the pairs' steps starting together;
#   - lbld stopped (SIGTERM, as systemctl stop) at a random moment of such a
#     batch: the same, and the batch interrupted.
# Sourced by campaign.sh after case_dblock.sh (hold_lock).

spray_pumps="pump-ag pump-tca pump-rinse"
spray_valves="valve-ag valve-tca valve-rinse"
spray_estop="$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in"

# spray_safe: every pump of the spray rig stopped, every valve closed
# (Modbus as lbl-simrig reports them; n2 on its GPIO line).
spray_safe() {
	for d in $spray_pumps; do
		simctl get "$d" | grep -q ' *running=0' || { echo "$d running"; return 1; }
	done
	for d in $spray_valves; do
		simctl get "$d" | grep -q 'active=0' || { echo "$d open"; return 1; }
	done
	for f in "$LBL_TMP"/gpio/*/*.out; do
		[ -f "$f" ] || continue
		[ "$(cat "$f")" = 0 ] || { echo "$f is $(cat "$f")"; return 1; }
	done
	return 0
}

# start_spray NAME: a fresh spray rig (simulator with control socket, lbld,
# database) in real time, and the recipe $spray_pairs: 20 bilayers of
# sprays, each set before a spray sharing its moment (a pair across the two
# buses), a pump set before a wait (released alone), sprays with and
# without a drain.
start_spray() {
	case_dir "$1" spray-rig.yaml
	spray_pairs="$dir/pairs.yaml"
	spray_recipe "$spray_pairs" t-pairs 20 \
"  - spray: {solution: ag, time: 400ms, flow: 20 mL/min, drain: 100ms}
  - set: {output: valve-rinse, value: off}
  - spray: {solution: rinse, time: 300ms, flow: 40 mL/min}
  - set: {output: pump-rinse, value: 30 mL/min}
  - wait: 200ms
  - set: {output: pump-rinse, value: off}
  - spray: {solution: tca, time: 400ms, flow: 20 mL/min, drain: 100ms}
  - set: {output: valve-rinse, value: off}
  - spray: {solution: rinse, time: 300ms, flow: 40 mL/min, drain: 100ms}"
	start_simrig "$dir/rig.yaml" --control "$SIMCTL" --trace "$dir/trace.txt" || return 1
	start_lbld "$dir/rig.yaml" "$db" || return 1
}
stop_spray() {
	kill "$LBLD_PID" "$SIMRIG_PID" 2>/dev/null
	wait "$LBLD_PID" "$SIMRIG_PID" 2>/dev/null
}
# spray_run: starts batch $1 of $spray_pairs; 0 once lbld says it runs.
# Refused while the last park is still being confirmed ("one run at a
# time"), it asks again for up to 10 s, as an operator would; lblctl's last
# refusal is in $dir/run.err.
spray_run() {
	wait_for 10 sh -c "'$ctl' run '$spray_pairs' --operator campaign >/dev/null 2>'$dir/run.err'" &&
	    wait_for 10 sh -c "[ \"\$(sqlite3 '$db' 'select state from batches where id=$1')\" = running ]"
}
# the transfer axis as lbl-simrig reports it (mm); parked at 0
spray_transfer_at() { simctl get transfer | sed -n 's/.* position=\([-0-9.]*\).*/\1/p'; }
spray_parked() { awk -v x="$(spray_transfer_at)" 'BEGIN { exit !(x < 0.01 && x > -0.01) }'; }
# started_after_stops SINCE_NS: from lbl-simrig's trace (each command
# stamped when it reached the device), the safe state's stops are the first
# moment after SINCE_NS at which all three pumps were told to stop within
# 100 ms (a batch stops one nozzle's pump at a time); prints every pump run
# and valve on that reached a device after the first of those stops (not
# the axis's go: the park after SIGTERM is one), and "no stops" when there
# were none. A command held for its moment and sent after the safe state
# began would be one.
started_after_stops() {
	/usr/bin/python3 - "$dir/trace.txt" "$1" <<'PY'
import sys
since = int(sys.argv[2])
lines = []
for l in open(sys.argv[1]):
    f = l.split()
    if len(f) == 3 and f[0].isdigit():
        lines.append((int(f[0]), f[1], f[2]))
lines.sort()
stops = [(t, d) for t, d, op in lines if op == "stop" and d.startswith("pump-") and t >= since]
begin = None
for i, (t, d) in enumerate(stops):
    seen = {x for u, x in stops[i:] if u <= t + 100000000}
    if len(seen) >= 3:
        begin = t
        break
if begin is None:
    print("no stops")
    sys.exit(0)
late = ["%s %s %+.3f ms" % (d, op, (t - begin) / 1e6) for t, d, op in lines
        if t > begin and op in ("run", "on")]
print(" ".join(late))
PY
}
# mono_ns: CLOCK_MONOTONIC now, ns (the trace's clock)
mono_ns() { /usr/bin/python3 -c 'import time; print(time.clock_gettime_ns(time.CLOCK_MONOTONIC))'; }
# estop_write LEVEL: writes the e-stop's simulated line, which lbld reads
# (a FIFO: with no lbld to read it the write would wait for ever); 1 when
# lbld is gone or the write did not end within 5 s
estop_write() {
	kill -0 "$LBLD_PID" 2>/dev/null && timeout 5 sh -c "printf '$1\n' >'$spray_estop'"
}

# no_step_open BATCH: no step of the batch left 'running' on record
no_step_open() { [ "$(q "select count(*) from steps where batch_id=$1 and outcome='running'")" = 0 ]; }
# rand_ms LOW HIGH: a random whole number of milliseconds in [LOW, HIGH)
rand_ms() { awk -v lo="$1" -v hi="$2" -v s="$(od -An -N4 -tu4 /dev/urandom)" \
    'BEGIN { srand(s); printf "%d", lo + rand() * (hi - lo) }'; }

# ---- e-stops at random moments of a batch of pairs and released commands ----
begin_case
name="e-stop amid held commands"
presses=8 ok_presses=0
if start_spray release-estop; then
	b=0
	while [ $b -lt $presses ]; do
		b=$((b + 1))
		what="$name (press $b)"
		spray_run $b || { fail "$what" "the batch did not start: $(cat "$dir/run.err") $("$ctl" status 2>&1 | head -3 | tr '\n' '|')"; break; }
		sleep "$(awk -v ms="$(rand_ms 300 4000)" 'BEGIN { printf "%.3f", ms / 1000 }')"
		since=$(mono_ns)
		good=1
		# active low: 0 is pressed
		estop_write 0 || { fail "$what" "lbld is gone or does not read its e-stop"; break; }
		wait_for 5 sh -c "[ \"\$(sqlite3 '$db' 'select state from batches where id=$b')\" = failed ]" ||
		    { fail "$what: batch failed" "state $(q "select state from batches where id=$b")"; good=0; }
		q "select failure_cause from batches where id=$b" | grep -q "e-stop 'estop' engaged" ||
		    { fail "$what: the cause names the e-stop" "$(q "select failure_cause from batches where id=$b")"; good=0; }
		why=$(wait_for 2 spray_safe && echo ok || spray_safe)
		[ "$why" = ok ] || { fail "$what: every pump stopped, every valve closed" "$why"; good=0; }
		# a command held for its release and sent after the stops would start something again
		sleep 1
		why=$(spray_safe && echo ok)
		[ "$why" = ok ] || { fail "$what: nothing started after the stops" "$why"; good=0; }
		late=$(started_after_stops "$since")
		[ -z "$late" ] || { fail "$what: no start reached a device after the safe state's stops" "$late"; good=0; }
		no_step_open $b || { fail "$what: no step left open" "$(q "select seq, kind, outcome from steps where batch_id=$b and outcome='running'" | tr '\n' ' ')"; good=0; }
		estop_write 1 || { fail "$what" "lbld is gone or does not read its e-stop"; break; }
		wait_for 10 "$ctl" park || { fail "$what: park after release" "$("$ctl" park 2>&1)"; good=0; }
		wait_for 20 spray_parked ||
		    { fail "$what: parked" "transfer at $(spray_transfer_at) mm; $("$ctl" status 2>&1 | grep -E '^(state|substrate|safety)' | tr '\n' ' ')"; good=0; }
		[ $good = 1 ] && ok_presses=$((ok_presses + 1)) &&
		    pass "$what: failed on the e-stop, everything stopped and stayed so"
		[ $good = 1 ] || case_ok=0
	done
	[ "$ok_presses" = "$presses" ] &&
	    pass "$name: $presses presses at random moments: each batch failed on the e-stop, everything stopped and stayed so, no step left open"
	kill -0 "$LBLD_PID" 2>/dev/null && pass "$name: lbld alive" || fail "$name: lbld alive" "died"
	intact && pass "$name: integrity" || fail "$name: integrity" "$(q 'pragma integrity_check')"
else
	fail "$name" "the rig did not start"
fi
stop_spray
end_case "$presses"

# ---- the write lock held by another process across several pairs ----
begin_case
name="database locked across pairs"
if start_spray release-lock && spray_run 1; then
	sleep 2
	hold_lock 3 || fail "$name" "the lock was not taken"
	wait "$LOCK_PID" 2>/dev/null
	wait_for 90 sh -c "[ \"\$(sqlite3 '$db' 'select state from batches where id=1')\" = completed ]" &&
	    pass "$name: the batch completed" || fail "$name: the batch completed" "state $(state_of): $(q 'select failure_cause from batches where id=1')"
	steps=$(q "select count(*) from steps where batch_id=1")
	done_once=$(q "select count(*) from steps where batch_id=1 and outcome='done' and attempts=1")
	last=$(q "select max(seq) from steps where batch_id=1")
	[ "$steps" = "$last" ] && [ "$done_once" = "$steps" ] && [ "$steps" -gt 100 ] &&
	    pass "$name: every step on record once, done ($steps)" ||
	    fail "$name: every step on record once" "$steps rows, $done_once done once, last seq $last"
	# in order: each step starts no earlier than the one before it
	bad=$(q "select count(*) from steps a join steps b on b.batch_id=a.batch_id and b.seq=a.seq+1 where a.batch_id=1 and b.actual_start_ms < a.actual_start_ms")
	[ "$bad" = 0 ] && pass "$name: steps on record in order" || fail "$name: steps in order" "$bad out of order"
	# a pair (a set, then a step planned at the same moment) starts together on record
	pairs=$(q "select count(*) from steps a join steps b on b.batch_id=a.batch_id and b.seq=a.seq+1 where a.batch_id=1 and a.kind='set' and b.kind<>'wait' and b.planned_start_ms=a.planned_start_ms")
	apart=$(q "select count(*) from steps a join steps b on b.batch_id=a.batch_id and b.seq=a.seq+1 where a.batch_id=1 and a.kind='set' and b.kind<>'wait' and b.planned_start_ms=a.planned_start_ms and abs(b.actual_start_ms - a.actual_start_ms) > 50")
	[ "${pairs:-0}" -ge 20 ] && [ "$apart" = 0 ] &&
	    pass "$name: $pairs pairs, each pair's steps starting together on record" ||
	    fail "$name: pairs together" "$pairs pairs, $apart more than 50 ms apart"
	grep -q "locked by another process" "$LBL_TMP/lbld.err" ||
	    echo "info: $name: lbld logged no wait for the lock (the 3 s may have fallen between commits)"
	why=$(wait_for 5 spray_safe && echo ok || spray_safe)
	[ "$why" = ok ] && pass "$name: outputs safe at the end" || fail "$name: outputs safe at the end" "$why"
	intact && pass "$name: integrity" || fail "$name: integrity" "$(q 'pragma integrity_check')"
else
	fail "$name" "the rig or the batch did not start"
fi
stop_spray
end_case

# ---- SIGTERM (systemctl stop) at a random moment of a batch of pairs ----
begin_case
name="SIGTERM amid held commands"
if start_spray release-term && spray_run 1; then
	sleep "$(awk -v ms="$(rand_ms 500 5000)" 'BEGIN { printf "%.3f", ms / 1000 }')"
	pid=$LBLD_PID
	since=$(mono_ns)
	kill -TERM "$pid"
	wait_exit "$pid" 30 && [ "$exit_status" = 0 ] && pass "$name: lbld exits 0" ||
	    fail "$name: lbld exits 0" "$exit_status"
	why=$(spray_safe && echo ok)
	[ "$why" = ok ] && pass "$name: every pump stopped, every valve closed" || fail "$name: outputs safe" "$why"
	late=$(started_after_stops "$since")
	[ -z "$late" ] && pass "$name: no start reached a device after the safe state's stops" ||
	    fail "$name: no start reached a device after the safe state's stops" "$late"
	[ "$(state_of)" = interrupted ] && pass "$name: batch interrupted" || fail "$name: batch interrupted" "$(state_of)"
	no_step_open 1 && pass "$name: no step left open" ||
	    fail "$name: no step left open" "$(q "select seq, kind, outcome from steps where batch_id=1 and outcome='running'" | tr '\n' ' ')"
	spray_parked && pass "$name: the substrate parked" ||
	    fail "$name: the substrate parked" "transfer at $(spray_transfer_at) mm"
	intact && pass "$name: integrity" || fail "$name: integrity" "$(q 'pragma integrity_check')"
else
	fail "$name" "the rig or the batch did not start"
fi
stop_spray
end_case
