# Fault campaign case (sourced by campaign.sh): followers of lbld's event
# stream (status --follow --json --events, what lbl-web and lbl-mqtt use)
# that stop reading, while a batch runs and the e-stop is pressed. lbld
# never waits on a follower (its socket is non-blocking; what a follower
# does not read piles up in the kernel's buffers, then in lbld's backlog
# for it, which is dropped at CONTROL_MAX_BACKLOG; test_control covers
# that limit): the e-stop fails the batch and the outputs go off as fast as
# without them, and a follower that does read hears the e-stop's event
# within two seconds, the same as the record has it.

ev_ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

begin_case
name="event followers that stop reading, then an e-stop"
start_rig events 100 || exit 1
# five stuck followers: lblctl writes into a FIFO nobody reads, so once it
# is full lblctl stops reading lbld's socket
stuck=
for n in 1 2 3 4 5; do
	mkfifo "$dir/stuck$n"
	sleep 600 <"$dir/stuck$n" &
	stuck="$stuck $!"
	"$ctl" status --follow --json --events >"$dir/stuck$n" 2>/dev/null &
	stuck="$stuck $!"
done
LBL_PIDS="$LBL_PIDS $stuck"
"$ctl" status --follow --json --events >"$dir/events.out" 2>&1 &
reader=$!
LBL_PIDS="$LBL_PIDS $reader"
gpio="$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in"
if "$ctl" run "$recipe" --operator campaign >/dev/null 2>&1 && running_past 3; then
	t0=$(date +%s%N)
	printf '0\n' >"$gpio"	# active low: 0 is pressed
	failed_soon 5
	ms=$(ev_ms "$t0")
	why=$(wait_for 5 outputs_safe && echo ok || outputs_safe)
	safe_ms=$(ev_ms "$t0")
	wait_for 5 grep -q '"kind":"estop"' "$dir/events.out"
	heard_ms=$(ev_ms "$t0")
	echo "info: $name: failed in $ms ms, outputs off after $safe_ms ms, estop event heard after $heard_ms ms"
	[ "$(state_of)" = failed ] && [ "$ms" -lt 1000 ] &&
	    pass "$name: the e-stop fails the batch at once ($ms ms)" ||
	    fail "$name: the e-stop fails the batch at once" "state $(state_of) after $ms ms"
	[ "$why" = ok ] && [ "$safe_ms" -lt 1500 ] && pass "$name: outputs off ($safe_ms ms)" ||
	    fail "$name: outputs off" "$why after $safe_ms ms"
	told=$(sed -n 's/.*"kind":"estop","device":"estop","message":"\([^"]*\)".*/\1/p' "$dir/events.out" | head -1)
	kept=$(q "select message from events where kind='estop' order by id limit 1")
	[ -n "$told" ] && [ "$told" = "$kept" ] && [ "$heard_ms" -lt 2000 ] &&
	    pass "$name: the reading follower hears the e-stop as recorded ($heard_ms ms)" ||
	    fail "$name: the reading follower hears the e-stop" "told '$told', kept '$kept', $heard_ms ms"
	printf '1\n' >"$gpio"
	park_released "$name" && wait_for 20 parked && pass "$name: park after release" ||
	    fail "$name: park after release" "$(park_why)"
	settled "$name"
else
	fail "$name" "the batch did not start"
fi
kill $stuck "$reader" 2>/dev/null
stop_rig
end_case
