# Fault campaign cases: commissioning and maintenance (issue 17) when
# things go wrong. Another process holds the database's write lock while a
# manual action is recorded: the command still answers at once, and the
# event is written, once, when the lock goes. The disk fills while teach
# writes the rig file: the rig file is untouched, the .bak beside it whole,
# and the error says what could not be written. A pump trickles its
# answers while prime runs: prime still ends by its time with the pump
# off, and an e-stop meanwhile reaches every other device within its
# budget. Sourced by campaign.sh (uses its helpers, case_dblock.sh's
# hold_lock and case_bus.sh's estop_stops and bus_* readers).

# manual_events: the operator events manual control recorded
manual_events() { q "select count(*) from events where kind='operator' and message like 'manual: %'"; }
# fill_running 0|1: whether lbl-simrig's fill-1 runs so (for wait_for)
fill_running() { simctl get fill-1 | grep -q "running=$1"; }

# ---- a manual action recorded while another process holds the write lock ----
begin_case
name="manual set while the database is locked"
start_rig commission-lock 100 || exit 1
"$ctl" set n2 on --for 1s >/dev/null 2>&1 || fail "$name" "set n2 refused without a lock"
wait_for 10 sh -c "[ \"\$(sqlite3 '$db' \"select count(*) from events where kind='operator' and message like 'manual: %'\")\" -ge 1 ]"
per=$(manual_events)	# what one 'set --for' records, the lock aside
hold_lock 5 || fail "$name" "the lock was not taken"
t0=$(date +%s%N)
out=$("$ctl" set n2 on --for 1s 2>&1)
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
echo "info: $name: 'lblctl set n2 on --for 1s' answered in $ms ms with the lock held 5 s"
[ $rc = 0 ] && [ "$ms" -lt 3000 ] &&
    pass "$name: the command answers at once ($ms ms), not after the lock" ||
    fail "$name: the command answers at once" "rc $rc after $ms ms: $out"
out=$("$ctl" status 2>&1)
echo "$out" | grep -q '^record: .* held in memory' &&
    pass "$name: status says the record is held" || fail "$name: status says the record is held" "$(echo "$out" | tr '\n' '|')"
kill -0 "$LOCK_PID" 2>/dev/null && [ "$(manual_events)" = "$per" ] &&
    pass "$name: nothing written while the lock is held" ||
    fail "$name: nothing written while locked" "$(manual_events) events of $per before (or the lock ended first)"
wait "$LOCK_PID" 2>/dev/null
wait_for 15 sh -c "[ \"\$(sqlite3 '$db' \"select count(*) from events where kind='operator' and message like 'manual: %'\")\" = $((per * 2)) ]" &&
    pass "$name: the events written once the lock went, each once ($((per * 2)))" ||
    fail "$name: the events written once the lock went" "$(manual_events) of $((per * 2))"
sleep 1
[ "$(manual_events)" = $((per * 2)) ] && pass "$name: none written twice" ||
    fail "$name: none written twice" "$(manual_events) of $((per * 2))"
[ "$(cat "$LBL_TMP/gpio/pinctrl-bcm2711/GPIO17.out")" = 0 ] &&
    pass "$name: n2 went off by itself" || fail "$name: n2 off" "$(cat "$LBL_TMP/gpio/pinctrl-bcm2711/GPIO17.out")"
kill -0 "$LBLD_PID" 2>/dev/null && pass "$name: lbld alive" || fail "$name: lbld alive" "died"
intact && pass "$name: integrity" || fail "$name: integrity" "$(q 'pragma integrity_check')"
stop_rig
end_case

# ---- the disk fills while teach writes the rig file ----
# lblctl writes a full copy as .bak, then the edited text to a temporary
# file renamed over the rig file. A file-size limit on lblctl (prlimit, in
# bytes; SIGXFSZ ignored, so the write fails with EFBIG as on a full disk)
# between the two texts' sizes lets the .bak through and stops the rig
# file's.
begin_case
name="disk full while teach writes the rig file"
start_rig commission-teach 100 || exit 1
"$ctl" move transfer 345.678mm >/dev/null 2>&1 || fail "$name" "move transfer refused: $("$ctl" move transfer 345.678mm 2>&1)"
cp "$dir/rig.yaml" "$dir/rig.pre"
"$ctl" teach ag >/dev/null 2>&1 || fail "$name" "teach refused with room: $("$ctl" teach ag 2>&1)"
grow=$(($(wc -c <"$dir/rig.yaml") - $(wc -c <"$dir/rig.pre")))
cp "$dir/rig.pre" "$dir/rig.yaml"
rm -f "$dir/rig.yaml.bak"
cp "$dir/rig.yaml" "$dir/rig.before"
limit=$(($(wc -c <"$dir/rig.yaml") + grow - 1))
echo "info: $name: rig file $(wc -c <"$dir/rig.yaml") bytes, the edit adds $grow, the limit $limit bytes"
if [ "$grow" -lt 1 ]; then
	fail "$name" "the edit does not grow the file ($grow bytes): the limit cannot fall between"
else
	out=$( (trap '' XFSZ; exec prlimit --fsize="$limit:$limit" "$ctl" teach ag) 2>&1)
	rc=$?
	[ $rc != 0 ] && echo "$out" | grep -q "writing .*rig.yaml\.[A-Za-z0-9]* (to replace .*rig.yaml): File too large" &&
	    pass "$name: refused, naming the file and the error" || fail "$name: refused with a clear error" "rc $rc: $out"
	cmp -s "$dir/rig.yaml" "$dir/rig.before" &&
	    pass "$name: the rig file untouched" || fail "$name: the rig file untouched" "$(diff "$dir/rig.before" "$dir/rig.yaml" | head -5)"
	cmp -s "$dir/rig.yaml.bak" "$dir/rig.before" &&
	    pass "$name: the .bak whole" || fail "$name: the .bak whole" "$(wc -c <"$dir/rig.yaml.bak" 2>&1) bytes of $(wc -c <"$dir/rig.before")"
	[ "$(ls "$dir" | grep -c '^rig\.yaml\.[A-Za-z0-9]\{6\}$')" = 0 ] &&
	    pass "$name: no temporary file left" || fail "$name: no temporary file left" "$(ls "$dir")"
	"$ctl" check-rig "$dir/rig.yaml" >/dev/null 2>&1 && "$ctl" reload >/dev/null 2>&1 &&
	    pass "$name: the rig file still checks and reloads" ||
	    fail "$name: the rig file still checks and reloads" "$("$ctl" reload 2>&1)"
fi
kill -0 "$LBLD_PID" 2>/dev/null && pass "$name: lbld alive" || fail "$name: lbld alive" "died"
stop_rig
end_case

# ---- a pump trickles its answers while prime runs ----
# prime's time at the flow is 20 s of rig time (2 s here); fill-1 (the
# BT100S profile: no volume counter, so prime stops by time) starts to
# trickle its answers a byte at a time half a second in. Prime must still
# end by its time, failed when the stop is not confirmed (lbld then makes
# the rig safe), with the pump off; then, with fill-1 trickling mid-prime,
# an e-stop must reach every other device within case_bus.sh's budget.
begin_case
name="a pump trickling while prime runs"
start_rig commission-trickle 10 || exit 1
T=$(bus_timeout_ms) R=$(bus_retries)
bound=$((2000 + (R + 2) * T * 2 + 2000))
t0=$(date +%s%N)
"$ctl" prime fill-1 20mL --flow 60mL/min >"$dir/prime.out" 2>&1 &
ppid=$!
wait_for 5 fill_running 1 || fail "$name" "prime did not start: $(cat "$dir/prime.out")"
sleep 0.5
simctl fault fill-1 trickle | grep -q '^ok' || fail "$name" "simrig refused the fault"
wait_exit "$ppid" 30
ms=$((($(date +%s%N) - t0) / 1000000))
echo "info: $name: prime answered after $ms ms (exit $exit_status; bound $bound ms): $(tr '\n' '|' <"$dir/prime.out")"
[ "$exit_status" != timeout ] && [ "$ms" -le "$bound" ] &&
    pass "$name: prime ends by its time, within $bound ms ($ms ms)" ||
    fail "$name: prime ends by its time" "$ms ms, exit $exit_status: $(cat "$dir/prime.out")"
wait_for 20 fill_running 0 &&
    pass "$name: the pump is off" || fail "$name: the pump is off" "$(simctl get fill-1)"
wait_for 20 sh -c "\"$ctl\" status | grep -q '^state: idle'" || fail "$name: lbld idle again" "$("$ctl" status | tr '\n' '|')"
simctl clear fill-1 >/dev/null
# the e-stop mid-prime, fill-1 trickling
"$ctl" prime fill-1 20mL --flow 60mL/min >"$dir/prime2.out" 2>&1 &
ppid=$!
wait_for 5 fill_running 1 || fail "$name" "the second prime did not start: $(cat "$dir/prime2.out")"
simctl fault fill-1 trickle | grep -q '^ok' || fail "$name" "simrig refused the fault"
sleep 0.3
budget=$((T * 5 / 2))
out=$(estop_stops drain-1 stir-ag stir-cnt lift transfer)
es=${out%% *}
echo "info: $name: e-stop mid-prime: the other devices stopped ${out#* } ms after the press (max $es ms; budget $budget ms)"
[ "$es" -le "$budget" ] && pass "$name: the e-stop reaches every other device within $budget ms ($es ms)" ||
    fail "$name: the e-stop is not delayed" "$out"
wait_exit "$ppid" 30
[ "$exit_status" != 0 ] && [ "$exit_status" != timeout ] && grep -q "e-stop" "$dir/prime2.out" &&
    pass "$name: prime ends, failed, naming the e-stop" || fail "$name: prime ends naming the e-stop" "exit $exit_status: $(cat "$dir/prime2.out")"
simctl clear fill-1 >/dev/null
wait_for 20 fill_running 0 &&
    pass "$name: the pump is off after the e-stop" || fail "$name: the pump is off after the e-stop" "$(simctl get fill-1)"
printf '1\n' >"$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in"
why=$(wait_for 10 outputs_safe && echo ok || outputs_safe)
[ "$why" = ok ] && pass "$name: outputs safe" || fail "$name: outputs safe" "$why"
kill -0 "$LBLD_PID" 2>/dev/null && pass "$name: lbld alive" || fail "$name: lbld alive" "died"
stop_rig
end_case
