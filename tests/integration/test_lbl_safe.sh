#!/bin/sh
# lbl-safe, the net under lbld, on the simulated spray rig (every Modbus
# answer 10 ms late) left as a crashed lbld would leave it: pumps running,
# relay valves and the N2 GPIO valve open, the transfer axis moving.
#   - it stops and closes everything, stops the axis where it is, exits 0;
#   - with one pump silenced it exits 1 within its timeout naming that pump
#     (bus, unit, register), yet every other device is stopped;
#   - it refuses while lbld (here a stand-in) holds the database's lock,
#     sending nothing, and goes on with --force; a free lock is no obstacle;
#   - a bad rig file gives FILE:LINE:COL and exit 2, and nothing is sent;
#   - the simulator's device watchdog, the other half of the net: a pump
#     whose communication-loss timeout is armed runs on while fed and stops
#     by itself when its master goes silent, or cannot reach it.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
rig="$LBL_TMP/rig.yaml"
gpio="$LBL_TMP/gpio"
db="$LBL_TMP/lbl.db"
n2="$gpio/pinctrl-bcm2711/GPIO17.out"
pumps="pump-ag pump-tca pump-rinse"
valves="valve-ag valve-tca valve-rinse"

make_rig spray-rig.yaml "$rig"
drives=$(sed -n 's/^  drives:.*port: *\([0-9]*\).*/\1/p' "$rig")
relays=$(sed -n 's/^  relays:.*port: *\([0-9]*\).*/\1/p' "$rig")
SIMCTL="$LBL_TMP/simrig.ctl"
start_simrig "$rig" --control "$SIMCTL" --latency 10 || exit 1

# write PORT UNIT TYPE REF VALUES...: a raw Modbus write (mbpoll: type 0
# coils, 4 holding registers; references from 1)
write() {
	port=$1 unit=$2 type=$3 ref=$4; shift 4
	mbpoll -m tcp -p "$port" -a "$unit" -t "$type" -r "$ref" -1 -q 127.0.0.1 "$@" >/dev/null 2>&1
}
field() { # DEV KEY: one key=value of the simulator's state
	simctl get "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}
# crashed: the rig as an lbld killed mid-spray leaves it
crashed() {
	unit=2
	for p in $pumps; do
		# flow 10 mL/min (0.01 mL/min units), forward, run
		write "$drives" $unit 4 1 1000 0 1 || echo "cannot start $p"
		unit=$((unit + 1))
	done
	unit=5
	for v in $valves; do
		write "$relays" $unit 0 1 1 || echo "cannot open $v"
		unit=$((unit + 1))
	done
	mkdir -p "$(dirname "$n2")"
	printf '1\n' >"$n2"
	# the transfer axis on its way to 400 mm at 20 mm/s: target (int32 µm), speed, go
	write "$drives" 1 4 1 6 6784 200 || echo "cannot set the transfer's target"
	write "$drives" 1 4 5 1 || echo "cannot start the transfer"
	for p in $pumps; do [ "$(field "$p" running)" = 1 ] || echo "$p not running"; done
	for v in $valves; do [ "$(field "$v" active)" = 1 ] || echo "$v not open"; done
	[ "$(field transfer moving)" = 1 ] || echo "transfer not moving"
}
# safe_except [DEV]: every pump stopped, every valve closed, N2 off, the axis
# stopped; DEV (silenced) is left out
safe_except() {
	for p in $pumps; do
		[ "$p" = "${1:-}" ] && continue
		[ "$(field "$p" running)" = 0 ] || echo "$p running"
	done
	for v in $valves; do
		[ "$(field "$v" active)" = 0 ] || echo "$v open"
	done
	[ "$(cat "$n2" 2>/dev/null)" = 0 ] || echo "n2 is $(cat "$n2" 2>/dev/null)"
	[ "$(field transfer moving)" = 0 ] || echo "transfer moving"
}
elapsed_ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
# safe ARGS...: runs lbl-safe, its stderr in safe.err (and all of them in safe.all)
safe() {
	"$LBL_BUILD/lbl-safe" "$@" 2>"$LBL_TMP/safe.err"
	rc=$?
	cat "$LBL_TMP/safe.err" >>"$LBL_TMP/safe.all"
	return $rc
}

# ---- everything left running: all stopped, exit 0 ----
why=$(crashed)
[ -z "$why" ] && pass "the rig left running, as a killed lbld leaves it" ||
    fail "the rig left running" "$why"
sleep 0.3
t0=$(date +%s%N)
safe --rig "$rig" --gpio-sim "$gpio" --db "$db" -v
rc=$? ms=$(elapsed_ms "$t0")
[ $rc = 0 ] && pass "lbl-safe exits 0 when every device is confirmed ($ms ms)" ||
    fail "lbl-safe exits 0" "exit $rc: $(cat "$LBL_TMP/safe.err")"
why=$(safe_except)
[ -z "$why" ] && pass "every pump stopped, every valve closed, N2 off, the axis stopped" ||
    fail "everything stopped" "$why"
grep -q "rig 'spray-rig-1': every device confirmed safe (8)" "$LBL_TMP/safe.err" &&
    pass "it says every device was confirmed" || fail "it says every device was confirmed" "$(tail -3 "$LBL_TMP/safe.err")"
grep -q "device 'pump-ag' (bus drives, unit 2): safe (stop acknowledged, running reads 0)" "$LBL_TMP/safe.err" &&
    pass "-v: a pump confirmed by reading it back" || fail "-v: a pump confirmed by reading it back" "$(cat "$LBL_TMP/safe.err")"
at=$(field transfer position)
awk -v x="$at" 'BEGIN { exit !(x > 0 && x < 400) }' &&
    pass "the axis stopped where it was ($at mm), not sent anywhere" || fail "the axis stopped where it was" "at $at mm"
sleep 0.3
[ "$(field transfer position)" = "$at" ] && pass "the axis stays put" ||
    fail "the axis stays put" "$at mm, then $(field transfer position) mm"

# ---- one pump silenced: exit 1 within the timeout, naming it; the rest stopped ----
crashed >/dev/null
simctl fault pump-tca silent | grep -q '^ok' || fail "silence pump-tca" "simrig refused"
t0=$(date +%s%N)
safe --rig "$rig" --gpio-sim "$gpio" --db "$db" --timeout 2
rc=$? ms=$(elapsed_ms "$t0")
[ $rc = 1 ] && pass "a silent pump: exit 1" || fail "a silent pump: exit 1" "exit $rc"
[ "$ms" -ge 1900 ] && [ "$ms" -lt 3500 ] && pass "a silent pump: it gives up at its timeout (2 s: $ms ms)" ||
    fail "a silent pump: it gives up at its timeout" "$ms ms"
grep -q "not confirmed safe after [0-9]* commands: device 'pump-tca' (bus drives, unit 3): write holding 0x0002 (stop): Connection timed out" "$LBL_TMP/safe.err" &&
    pass "the silent pump named with its bus, unit, register and why" ||
    fail "the silent pump named" "$(cat "$LBL_TMP/safe.err")"
[ "$(grep -c 'not confirmed safe after' "$LBL_TMP/safe.err")" = 1 ] &&
    pass "no other device named" || fail "no other device named" "$(cat "$LBL_TMP/safe.err")"
grep -q "rig 'spray-rig-1': 1 of 8 devices not confirmed safe within 2 s" "$LBL_TMP/safe.err" &&
    pass "the last line counts them" || fail "the last line counts them" "$(tail -1 "$LBL_TMP/safe.err")"
why=$(safe_except pump-tca)
[ -z "$why" ] && pass "a silent pump: every other device stopped" || fail "a silent pump: every other device stopped" "$why"
simctl clear pump-tca >/dev/null

# ---- lbld's lock: refused while held, --force goes on, a free lock is no obstacle ----
crashed >/dev/null
lock="$db.lock"
# a stand-in for lbld: flock(1) on the lock file, its pid in it, as lbld does
sh -c 'exec 9>>"$1"; flock -x 9 || exit 1; echo $$ >"$1"; exec sleep 60' sh "$lock" &
holder=$!
LBL_PIDS="$LBL_PIDS $holder"
wait_for 5 sh -c "[ \"\$(cat '$lock')\" = $holder ]" || fail "lock holder" "did not start"
safe --rig "$rig" --gpio-sim "$gpio" --db "$db"
rc=$?
[ $rc = 1 ] && grep -q "lbl-safe: lbld is running (pid $holder); use 'lblctl abort', or --force" "$LBL_TMP/safe.err" &&
    pass "refused while lbld holds the lock, naming its pid" ||
    fail "refused while lbld holds the lock" "exit $rc: $(cat "$LBL_TMP/safe.err")"
[ "$(field pump-ag running)" = 1 ] && [ "$(cat "$n2")" = 1 ] && pass "refused: nothing was sent" ||
    fail "refused: nothing was sent" "pump-ag running=$(field pump-ag running), n2 $(cat "$n2")"
safe --rig "$rig" --gpio-sim "$gpio" --db "$db" --force
rc=$?
why=$(safe_except)
[ $rc = 0 ] && [ -z "$why" ] && grep -q "going on (--force)" "$LBL_TMP/safe.err" &&
    pass "--force: everything stopped although the lock is held" ||
    fail "--force" "exit $rc, $why: $(cat "$LBL_TMP/safe.err")"
kill "$holder"; wait "$holder" 2>/dev/null
crashed >/dev/null
safe --rig "$rig" --gpio-sim "$gpio" --db "$db"
rc=$?
[ $rc = 0 ] && [ -z "$(safe_except)" ] && pass "a lock file nobody holds: everything stopped" ||
    fail "a lock file nobody holds" "exit $rc: $(cat "$LBL_TMP/safe.err")"

# ---- bad rig files: FILE:LINE:COL, exit 2, nothing sent ----
crashed >/dev/null
# each line: what is wrong, then the sed expression that breaks the rig copy
while read -r what mutation; do
	sed "$mutation" "$rig" >"$LBL_TMP/bad.yaml"
	safe --rig "$LBL_TMP/bad.yaml" --gpio-sim "$gpio" --db "$db"
	rc=$?
	if [ $rc = 2 ] && grep -Eq "^$LBL_TMP/bad.yaml:[0-9]+:[0-9]+: error: " "$LBL_TMP/safe.err"; then
		pass "bad rig ($what): FILE:LINE:COL, exit 2"
	else
		fail "bad rig ($what)" "exit $rc: $(cat "$LBL_TMP/safe.err")"
	fi
done <<'MUTATIONS'
unknown-profile s/profile: generic-drive/profile: nosuch/
comm_timeout-5ms s/\(pump-ag: {.*\)max_flow: 60 mL\/min/\1max_flow: 60 mL\/min, comm_timeout: 5ms/
misspelt-section s/^devices:/devicez:/
MUTATIONS
[ "$(field pump-ag running)" = 1 ] && pass "bad rig: nothing was sent" || fail "bad rig: nothing was sent" "pump-ag stopped"
safe --rig "$rig" --bogus >/dev/null
[ $? = 2 ] && grep -q '^usage: lbl-safe' "$LBL_TMP/safe.err" && pass "usage error: exit 2" ||
    fail "usage error: exit 2" "$(cat "$LBL_TMP/safe.err")"

# ---- the simulator's device watchdog, driven by hand (mbpoll as the master) ----
# pump-rinse (unit 4, generic-pump: its timeout in HR 3, ms)
feed() { # SECONDS: reads its watchdog register every 100 ms
	n=0
	while [ $n -lt $(($1 * 10)) ]; do
		mbpoll -m tcp -p "$drives" -a 4 -t 4 -r 4 -c 1 -o 0.1 -1 -q 127.0.0.1 >/dev/null 2>&1
		sleep 0.1; n=$((n + 1))
	done
}
stops_within() { # MS: pump-rinse stops by itself within MS; the time in $ms
	t0=$(date +%s%N)
	while [ "$(field pump-rinse running)" = 1 ] && [ "$(elapsed_ms "$t0")" -lt "$1" ]; do sleep 0.02; done
	ms=$(elapsed_ms "$t0")
	[ "$(field pump-rinse running)" = 0 ]
}
write "$drives" 4 4 4 400 && write "$drives" 4 4 1 1000 0 1 || fail "arm pump-rinse" "write failed"
[ "$(field pump-rinse watchdog)" = 400 ] && pass "watchdog: written 400 ms, get says watchdog=400" ||
    fail "watchdog: armed" "$(simctl get pump-rinse)"
feed 1
[ "$(field pump-rinse running)" = 1 ] && [ "$(field pump-rinse tripped)" = 0 ] &&
    pass "watchdog: fed every 100 ms, the pump runs on" || fail "watchdog: fed, the pump runs on" "$(simctl get pump-rinse)"
stops_within 2000 && [ "$ms" -lt 700 ] && [ "$(field pump-rinse tripped)" = 1 ] &&
    pass "watchdog: its master silent, the pump stops by itself ($ms ms, timeout 400 ms), tripped=1" ||
    fail "watchdog: the pump stops by itself" "$ms ms: $(simctl get pump-rinse)"
write "$drives" 4 4 4 0 && write "$drives" 4 4 3 1 || fail "disarm pump-rinse" "write failed"
[ "$(field pump-rinse watchdog)" = 0 ] && [ "$(field pump-rinse tripped)" = 0 ] &&
    pass "watchdog: 0 written disarms and clears the trip" || fail "watchdog: disarm" "$(simctl get pump-rinse)"
sleep 0.8
[ "$(field pump-rinse running)" = 1 ] && pass "watchdog: disarmed, the pump runs unfed" ||
    fail "watchdog: disarmed, the pump runs unfed" "$(simctl get pump-rinse)"
# a master still talking, but the device cannot hear it (cable cut)
write "$drives" 4 4 4 400 || fail "arm pump-rinse again" "write failed"
simctl fault pump-rinse silent >/dev/null
feed 1 &
feeder=$!
stops_within 2000 && [ "$ms" -lt 700 ] && pass "watchdog: a device that hears nothing stops by itself ($ms ms)" ||
    fail "watchdog: a silent device stops by itself" "$ms ms: $(simctl get pump-rinse)"
wait "$feeder"
simctl clear pump-rinse >/dev/null
write "$drives" 4 4 4 0 || fail "disarm pump-rinse" "write failed"

# ---- a late answer from another device on an RTU line ----
# Each request is answered first by unit 99 (a slow device answering what
# the master gave up on), then by its own device: lbl-safe takes the
# stranger's frame for what it is and waits on for its own, so every stop
# is heard once and confirmed. (libmodbus alone fails each with "response
# not from requested slave", and its flush could drop the next request.)
d="$LBL_TMP/stray"
mkdir -p "$d"
socat pty,raw,echo=0,link="$d/sim" pty,raw,echo=0,link="$d/ctl" >/dev/null 2>"$d/socat.err" &
LBL_PIDS="$LBL_PIDS $!"
if wait_for 5 test -e "$d/ctl"; then
	/usr/bin/python3 "$LBL_TOP/tests/integration/rtu_stray.py" "$d/sim" "$d/heard" 2>"$d/stray.err" &
	LBL_PIDS="$LBL_PIDS $!"
	sed -e "s|device: /dev/ttyUSB0|device: $d/ctl|" "$LBL_TOP/hw/examples/spray-rig-rtu.yaml" >"$d/rig.yaml"
	safe --rig "$d/rig.yaml" --gpio-sim "$d/gpio" --timeout 3 -v
	rc=$?
	[ $rc = 0 ] && pass "RTU, late answers from another unit: every device confirmed safe" ||
	    fail "RTU, late answers from another unit: every device confirmed safe" "exit $rc: $(tail -5 "$LBL_TMP/safe.err")"
	# units 1 to 7 each get their stop once (6: write register; 5: coil)
	stops=$(awk '$2 == 5 || $2 == 6 || $2 == 16 { print $1 }' "$d/heard" | sort | uniq -c | awk '{ print $2 "x" $1 }' | tr '\n' ' ')
	[ "$stops" = "1x1 2x1 3x1 4x1 5x1 6x1 7x1 " ] && pass "RTU, late answers: one stop or off command per device, none sent again" ||
	    fail "RTU, late answers: one command per device" "heard: $stops"
	! grep -q "sent again" "$LBL_TMP/safe.err" && pass "RTU, late answers: no command failed" ||
	    fail "RTU, late answers: no command failed" "$(grep "sent again" "$LBL_TMP/safe.err")"
else
	fail "RTU, late answers: socat" "$(cat "$d/socat.err")"
fi

sanitizer_clean "$LBL_TMP/safe.all" "lbl-safe"
sanitizer_clean "$LBL_TMP/simrig.err" "lbl-simrig"
kill "$SIMRIG_PID"; wait "$SIMRIG_PID" 2>/dev/null
[ -z "${LBL_FAILED:-}" ]
