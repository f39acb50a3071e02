# Fault campaign cases: one slow device must not hold the whole bus (issue
# 14). A unit that trickles its answers a byte at a time, one that sends
# half a frame and falls silent, and one that never answers: every Modbus
# transaction has a deadline whatever the device does byte by byte, the
# safe state's stops each have a short one of their own (one attempt), and
# a park ends within its deadline, saying what did not move. Sourced by
# campaign.sh (uses its helpers and case_stops.sh's).

# The example rig's gateway bus, as its rig file says: timeout T (ms), retries R.
bus_timeout_ms() { sed -n 's/.*gateway:.*timeout: *\([0-9]*\)ms.*/\1/p' "$dir/rig.yaml"; }
bus_retries() { sed -n 's/.*gateway:.*retries: *\([0-9]*\).*/\1/p' "$dir/rig.yaml"; }

# estop_stops DEVICE...: presses the e-stop and prints, once each device's
# stop command has reached lbl-simrig, the largest delay (ms) from the press
# to a stop and then each device's as NAME=MS (lbl-simrig's stop_ns and the
# press both on CLOCK_MONOTONIC); 99999 when one never came within 10 s.
estop_stops() {
	/usr/bin/python3 - "$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in" "$SIMCTL" "$@" <<'PY'
import socket, sys, time
def get(dev):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[2])
    s.sendall(("get %s\n" % dev).encode()); out = b""
    while not out.endswith(b"\n"):
        b = s.recv(4096)
        if not b: break
        out += b
    s.close()
    return dict(w.split("=", 1) for w in out.decode().split()[1:] if "=" in w)
devices = sys.argv[3:]
t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
with open(sys.argv[1], "w") as f:
    f.write("0\n")
deadline = time.monotonic() + 10
stops = {}
while time.monotonic() < deadline and len(stops) < len(devices):
    for d in devices:
        if d not in stops:
            ns = int(get(d).get("stop_ns", 0))
            if ns >= t0:
                stops[d] = (ns - t0) // 1000000
    time.sleep(0.005)
each = " ".join("%s=%s" % (d, stops.get(d, "never")) for d in devices)
print(max(stops.values()) if len(stops) == len(devices) else 99999, each)
PY
}

# ---- e-stop while one device is slow: every other device stops within its budget ----
# bus_estop_case FAULT [MS]: fill-1, the first output the safe state stops
# (outputs, then motion, in rig order), has the fault; every other Modbus
# device's stop must reach the rig within the faulty unit's one safe-state
# attempt, T plus T for reconnecting (hw_safe_command_ms), with half a T for
# a loaded machine: 2.5 T. Before the deadlines, a unit trickling a byte
# every 450 ms held the others' stops 5 to 10 s, and a silent one
# (R + 1) x T.
bus_estop_case() {
	fault=$1 name="e-stop while fill-1 is $1${2:+ ($2 ms a byte)}"
	begin_case
	start_rig "bus-estop-$1" 100 || { fail "$name" "rig did not start"; end_case; return; }
	T=$(bus_timeout_ms) R=$(bus_retries)
	budget=$((T * 5 / 2))
	if start_batch "$name"; then
		simctl fault fill-1 "$fault" ${2:-} | grep -q '^ok' || fail "$name" "simrig refused the fault"
		out=$(estop_stops drain-1 stir-ag stir-cnt lift transfer)
		ms=${out%% *}
		echo "info: $name: the other devices stopped ${out#* } ms after the press (max $ms ms; budget $budget ms, timeout $T ms)"
		[ "$ms" -le "$budget" ] && pass "$name: every other device stopped within $budget ms ($ms ms)" ||
		    fail "$name: every other device stopped within $budget ms" "$out"
		failed_soon 10 && pass "$name: batch failed" || fail "$name: batch failed" "state $(state_of)"
		q "select failure_cause from batches where id=1" | grep -q "e-stop 'estop' engaged" &&
		    pass "$name: the e-stop is the cause" || fail "$name: the e-stop is the cause" "$(q 'select failure_cause from batches where id=1')"
		# fill-1 is tried R more times after the others, then named
		wait_for 10 grep -q "safe state: not confirmed: device 'fill-1' (bus gateway, unit 3): .* after $((R + 1)) attempts" "$LBL_TMP/lbld.err" &&
		    pass "$name: fill-1's stop tried $((R + 1)) times, then named as not confirmed" ||
		    fail "$name: fill-1's stop named as not confirmed" "$(grep 'not confirmed' "$LBL_TMP/lbld.err")"
		wait_for 10 sh -c "\"$ctl\" status | grep -q '^state: idle'" && pass "$name: state safe ends" ||
		    fail "$name: state safe ends" "$("$ctl" status | tr '\n' '|')"
		simctl clear fill-1 >/dev/null
		printf '1\n' >"$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in"
		park_released "$name" &&
		    wait_for 20 parked || fail "$name: park after release" "$(park_why)"
		settled "$name"
	fi
	stop_rig
	end_case
}
bus_estop_case trickle
bus_estop_case half
bus_estop_case silent

# ---- lblctl hw against a trickling device: within its transaction's deadline ----
# The probe of a device whose every attempt fails ends at its transaction's
# deadline, (R + 1) x T + T, and names it; a second is allowed for starting
# lblctl and probing the others on a loaded machine. Before, a reply
# trickled a byte every 450 ms took about 5 s per read, two reads a pump.
begin_case
name="lblctl hw against a trickling pump"
start_rig bus-hw 100 || exit 1
T=$(bus_timeout_ms) R=$(bus_retries)
bound=$(((R + 2) * T + 1000))
simctl fault fill-1 trickle | grep -q '^ok' || fail "$name" "simrig refused the fault"
t0=$(date +%s%N)
out=$("$ctl" hw --rig "$dir/rig.yaml" --gpio-sim "$LBL_TMP/gpio" 2>&1)
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
echo "info: $name: lblctl hw returned in $ms ms (bound $bound ms)"
[ "$ms" -le "$bound" ] && pass "$name: returns within $bound ms ($ms ms)" ||
    fail "$name: returns within $bound ms" "$ms ms"
[ "$rc" = 1 ] && echo "$out" | grep -q "^fill-1 .* no  *device 'fill-1' (bus gateway, unit 3): .*timed out" &&
    pass "$name: names the device, its bus, unit and register" ||
    fail "$name: names the device" "exit $rc: $out"
[ "$(echo "$out" | grep -c ' yes ')" = 10 ] && pass "$name: every other device answers" ||
    fail "$name: every other device answers" "$out"
kill -0 "$LBLD_PID" 2>/dev/null && pass "$name: lbld alive" || fail "$name: lbld alive" "died"
stop_rig
end_case

# ---- a lift fault mid-dip: state safe ends within the park deadline ----
# The lift trickles its answers, so every lift transaction fails at its
# deadline: the batch fails, and its park cannot lift the substrate. State
# safe must end within the park's deadline (lbld logs it as the safe state
# begins) with the park's event naming the lift, and say meanwhile what it
# waits for. Before, each trickled transaction succeeded after about 5 s and
# lbld stayed in state safe for minutes.
begin_case
name="lift trickling mid-dip"
start_rig bus-lift 100 || exit 1
if start_batch "$name"; then
	# the status line at every change of state, as systemd and followers see it
	"$ctl" status --follow >"$dir/follow" 2>&1 &
	FOLLOW_PID=$!
	LBL_PIDS="$LBL_PIDS $FOLLOW_PID"
	simctl fault lift trickle | grep -q '^ok' || fail "$name" "simrig refused the fault"
	failed_soon 30 && pass "$name: batch failed" || fail "$name: batch failed" "state $(state_of)"
	t0=$(date +%s%N)
	waiting=
	while "$ctl" status >"$dir/status" 2>&1 && grep -q '^state: safe' "$dir/status"; do
		[ -n "$waiting" ] || waiting=$(sed -n 's/^waiting: //p' "$dir/status")
		[ $(($(date +%s%N) - t0)) -gt 120000000000 ] && break
		sleep 0.05
	done
	ms=$((($(date +%s%N) - t0) / 1000000))
	deadline=$(sed -n 's/.*then the substrate withdrawn and parked, within \([0-9.]*\) s.*/\1/p' "$LBL_TMP/lbld.err" | tail -1)
	deadline_ms=$(awk -v s="${deadline:-0}" 'BEGIN { printf "%d", s * 1000 }')
	echo "info: $name: state safe ended $ms ms after the batch failed (park deadline $deadline s)"
	grep -q '^state: idle' "$dir/status" && [ "$deadline_ms" -gt 0 ] && [ "$ms" -le $((deadline_ms + 1000)) ] &&
	    pass "$name: state safe ends within the park deadline ($ms ms of $deadline_ms)" ||
	    fail "$name: state safe ends within the park deadline" "$ms ms of ${deadline_ms} ms: $(tr '\n' '|' <"$dir/status")"
	wait_exit "$FOLLOW_PID" 10
	follow=$(grep -m1 ': safe state: .*; waiting for the stop and off commands: .*gives up in' "$dir/follow")
	echo "info: $name: status said meanwhile: ${waiting:+waiting: $waiting; }the status line: $follow"
	[ -n "$follow" ] && pass "$name: status says what lbld waits for" ||
	    fail "$name: status says what lbld waits for" "$(tr '\n' '|' <"$dir/follow")"
	q "select failure_cause from batches where id=1" | grep -q "device 'lift' (bus gateway, unit 1)" &&
	    pass "$name: the cause names the lift" || fail "$name: the cause names the lift" "$(q 'select failure_cause from batches where id=1')"
	wait_for 10 sh -c "[ \"\$(sqlite3 '$db' \"select count(*) from events where batch_id=1 and kind='fault' and message like '%not parked%lift%'\")\" != 0 ]" &&
	    pass "$name: the park's event names the lift" ||
	    fail "$name: the park's event names the lift" "$(q "select message from events where batch_id=1 and kind='fault'")"
	"$ctl" status | grep -q "^substrate: .*lift 'lift'.*the last park failed" &&
	    pass "$name: status says the park failed" || fail "$name: status says the park failed" "$("$ctl" status | grep substrate)"
	simctl clear lift >/dev/null
	"$ctl" park >/dev/null 2>&1 && wait_for 20 parked && pass "$name: park after the fault clears" ||
	    fail "$name: park after the fault clears" "$(park_why)"
	settled "$name"
fi
stop_rig
end_case
