#!/bin/sh
# lbl-simrig against independent Modbus peers: pymodbus and mbpoll over
# Modbus TCP on loopback and Modbus RTU through a socat pseudo-terminal pair.
# Several units share each bus; faults switched at run time; and a whole
# lbld run over RTU.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
peer="/usr/bin/python3 $LBL_TOP/tests/integration/simrig_peer.py"
scale=20

# ---- Modbus TCP ----
# the example rig's pumps are BT100S and stirrers: a generic pump for the peer's pump check
add_pump() { sed -i '/^  stir-cnt:/a\  dose: {role: pump, kind: peristaltic, bus: gateway, unit: 9, profile: generic-pump, max_flow: 10 mL/min}' "$1"; }
make_rig dip-rig.yaml "$LBL_TMP/rig.yaml"
add_pump "$LBL_TMP/rig.yaml"
port=$(sed -n 's/.*port: *\([0-9]*\).*/\1/p' "$LBL_TMP/rig.yaml")
SIMCTL="$LBL_TMP/simrig.ctl"
start_simrig "$LBL_TMP/rig.yaml" --time-scale "$scale" --control "$SIMCTL" || exit 1
grep -q "gateway=tcp:127.0.0.1:$port" "$LBL_TMP/simrig.out" && pass "ready line names the bus" ||
    fail "ready line names the bus" "$(cat "$LBL_TMP/simrig.out")"
$peer tcp 127.0.0.1 "$port" axis "$scale"
$peer tcp 127.0.0.1 "$port" pump "$scale"
$peer tcp 127.0.0.1 "$port" bt100s
$peer tcp 127.0.0.1 "$port" absent

# mbpoll, a second independent client, at the same time as pymodbus
$peer tcp 127.0.0.1 "$port" axis "$scale" >"$LBL_TMP/concurrent.out" 2>&1 &
peer_pid=$!
out=$(mbpoll -m tcp -p "$port" -a 7 -t 3:float -B -r 1 -c 1 -1 -q 127.0.0.1 2>&1)
echo "$out" | grep -Eq '^\[1\]:[[:space:]]+0(\.0+)?$' && pass "mbpoll reads the gauge as float32" ||
    fail "mbpoll reads the gauge as float32" "$out"
out=$(mbpoll -m tcp -p "$port" -a 6 -t 3:float -B -r 1 -c 1 -1 -q 127.0.0.1 2>&1)
echo "$out" | grep -Eq '^\[1\]:[[:space:]]+(5e\+06|5000000)' && pass "mbpoll reads the QCM at f0" ||
    fail "mbpoll reads the QCM at f0" "$out"
mbpoll -m tcp -p "$port" -a 2 -t 4 -r 1 -1 -q 127.0.0.1 0 10000 500 >/dev/null 2>&1 &&
    mbpoll -m tcp -p "$port" -a 2 -t 4 -r 5 -1 -q 127.0.0.1 1 >/dev/null 2>&1 &&
    pass "mbpoll commands the transfer axis" || fail "mbpoll commands the transfer axis" "write failed"
# in position (bit 1) and homed (bit 3: the example rig's axes do not home)
wait_for 5 sh -c "mbpoll -m tcp -p $port -a 2 -t 3 -r 3 -c 1 -1 -q 127.0.0.1 | grep -Eq '^\[3\]:[[:space:]]+10$'" &&
    pass "transfer reaches its target (in-position bit)" || fail "transfer reaches its target" "never"
wait "$peer_pid" && pass "two clients served at once" || fail "two clients served at once" "$(cat "$LBL_TMP/concurrent.out")"

# faults switched through the control socket
simctl fault lift exception | grep -q '^ok' || fail "fault exception set" "refused"
$peer tcp 127.0.0.1 "$port" exception
simctl fault lift silent >/dev/null
$peer tcp 127.0.0.1 "$port" silent
simctl fault lift alarm >/dev/null
$peer tcp 127.0.0.1 "$port" alarm
simctl clear lift >/dev/null
out=$(mbpoll -m tcp -p "$port" -a 1 -t 3 -r 3 -c 1 -1 -q 127.0.0.1 2>&1)
echo "$out" | grep -Eq '^\[3\]:[[:space:]]+[0-9]+$' && pass "clear restores answers" || fail "clear restores answers" "$out"
simctl fault lift bogus | grep -q '^error unknown fault' && pass "unknown fault refused" ||
    fail "unknown fault refused" "accepted"
simctl fault nosuch silent | grep -q "^error no Modbus device 'nosuch'" && pass "unknown device refused" ||
    fail "unknown device refused" "accepted"
# stall: the answer comes, but 2 s late
simctl fault lift stall >/dev/null
t0=$(date +%s%N)
mbpoll -m tcp -p "$port" -a 1 -t 3 -r 1 -c 1 -o 3 -1 -q 127.0.0.1 >/dev/null 2>&1
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -ge 1900 ] && pass "stall answers late ($ms ms)" || fail "stall answers late" "$ms ms"
simctl clear lift >/dev/null
kill "$SIMRIG_PID"; wait "$SIMRIG_PID" 2>/dev/null
sanitizer_clean "$LBL_TMP/simrig.err" "lbl-simrig over TCP"
[ -e "$SIMCTL" ] && fail "control socket removed on exit" "still there" || pass "control socket removed on exit"

# --trace stamps a command when it reached the device's socket (the kernel's
# receive stamp), not when the simulator got round to it: stopped (SIGSTOP)
# while a go is sent and for 300 ms after, it still traces the go at its
# sending, though it read it 300 ms later.
make_rig dip-rig.yaml "$LBL_TMP/rig3.yaml"
port3=$(sed -n 's/.*port: *\([0-9]*\).*/\1/p' "$LBL_TMP/rig3.yaml")
start_simrig "$LBL_TMP/rig3.yaml" --trace "$LBL_TMP/trace3.txt" || exit 1
out=$(/usr/bin/python3 - "$port3" "$SIMRIG_PID" <<'PY'
import os, signal, socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
pid = int(sys.argv[2])
os.kill(pid, signal.SIGSTOP)
time.sleep(0.05)
# write HR 4 (the command word) = 1, go, to unit 2 (the transfer)
sent = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
s.sendall(struct.pack(">HHHBBHH", 1, 0, 6, 2, 6, 4, 1))
time.sleep(0.3)
os.kill(pid, signal.SIGCONT)
s.settimeout(5)
s.recv(64)
print(sent)
PY
)
sleep 0.2
kill "$SIMRIG_PID"; wait "$SIMRIG_PID" 2>/dev/null
go=$(sed -n 's/^\([0-9]*\) transfer go$/\1/p' "$LBL_TMP/trace3.txt" | head -1)
if [ -n "$out" ] && [ -n "$go" ]; then
	late=$(( (go - out) / 1000000 ))
	[ "$late" -ge 0 ] && [ "$late" -lt 150 ] &&
	    pass "--trace stamps a command when the kernel received it ($late ms after the send; read 300 ms later)" ||
	    fail "--trace stamps a command when the kernel received it" "$late ms after the send"
else
	fail "--trace stamps a command when the kernel received it" "sent '$out', traced '$go': $(head -3 "$LBL_TMP/trace3.txt")"
fi

# a command-line fault and a bad rig
make_rig dip-rig.yaml "$LBL_TMP/rig2.yaml"
port2=$(sed -n 's/.*port: *\([0-9]*\).*/\1/p' "$LBL_TMP/rig2.yaml")
start_simrig "$LBL_TMP/rig2.yaml" --fault lift:exception || exit 1
$peer tcp 127.0.0.1 "$port2" exception
kill "$SIMRIG_PID"; wait "$SIMRIG_PID" 2>/dev/null
printf 'name: x\nbuses: {b: {type: tcp, host: 127.0.0.1, port: 0}}\ndevices: {}\n' >"$LBL_TMP/bad.yaml"
"$LBL_BUILD/lbl-simrig" --rig "$LBL_TMP/bad.yaml" >/dev/null 2>"$LBL_TMP/bad.err" &&
    fail "bad rig refused" "started" || {
	grep -q "bad.yaml:2:" "$LBL_TMP/bad.err" && pass "bad rig refused with FILE:LINE" ||
	    fail "bad rig refused with FILE:LINE" "$(cat "$LBL_TMP/bad.err")"; }

# ---- Modbus RTU over a socat pty pair ----
socat pty,raw,echo=0,link="$LBL_TMP/rtu-sim" pty,raw,echo=0,link="$LBL_TMP/rtu-ctl" 2>"$LBL_TMP/socat.err" &
LBL_PIDS="$LBL_PIDS $!"
wait_for 5 test -e "$LBL_TMP/rtu-ctl" || { fail "socat pty pair" "$(cat "$LBL_TMP/socat.err")"; exit 1; }
# the dip rig with its gateway replaced by one RS-485 line carrying all eight units
sed "s|^  gateway: .*|  gateway: {type: rtu, device: $LBL_TMP/rtu-sim, baud: 115200, timeout: 300ms, retries: 2}|" \
    "$LBL_TOP/hw/examples/dip-rig.yaml" >"$LBL_TMP/rig-rtu.yaml"
add_pump "$LBL_TMP/rig-rtu.yaml"
"$LBL_BUILD/lblctl" check-rig "$LBL_TMP/rig-rtu.yaml" >/dev/null && pass "RTU rig valid" ||
    fail "RTU rig valid" "$("$LBL_BUILD/lblctl" check-rig "$LBL_TMP/rig-rtu.yaml" 2>&1)"
SIMCTL="$LBL_TMP/simrig-rtu.ctl"
start_simrig "$LBL_TMP/rig-rtu.yaml" --time-scale "$scale" --control "$SIMCTL" || exit 1
$peer rtu "$LBL_TMP/rtu-ctl" 115200 axis "$scale"
$peer rtu "$LBL_TMP/rtu-ctl" 115200 pump "$scale"
$peer rtu "$LBL_TMP/rtu-ctl" 115200 bt100s
$peer rtu "$LBL_TMP/rtu-ctl" 115200 absent
out=$(mbpoll -m rtu -b 115200 -P none -a 6 -t 3:float -B -r 1 -c 1 -1 -q "$LBL_TMP/rtu-ctl" 2>&1)
echo "$out" | grep -Eq '^\[1\]:[[:space:]]+(5e\+06|5000000)' && pass "mbpoll over RTU reads unit 6" ||
    fail "mbpoll over RTU reads unit 6" "$out"
# garbage on the line, then a good frame: the simulator resynchronises
printf '\377\001\002' >"$LBL_TMP/rtu-ctl"
sleep 0.1
out=$(mbpoll -m rtu -b 115200 -P none -a 7 -t 3:float -B -r 1 -c 1 -1 -q "$LBL_TMP/rtu-ctl" 2>&1)
echo "$out" | grep -Eq '^\[1\]:' && pass "RTU resynchronises after noise" || fail "RTU resynchronises after noise" "$out"
simctl fault lift exception >/dev/null
$peer rtu "$LBL_TMP/rtu-ctl" 115200 exception
simctl clear lift >/dev/null

# ---- a whole run of lbld over RTU ----
# the daemon's rig file names the other end of the pair
sed "s|$LBL_TMP/rtu-sim|$LBL_TMP/rtu-ctl|" "$LBL_TMP/rig-rtu.yaml" >"$LBL_TMP/rig-rtu-ctl.yaml"
start_lbld "$LBL_TMP/rig-rtu-ctl.yaml" "$LBL_TMP/rtu.db" --time-scale 400 || exit 1
answer_prompts >/dev/null 2>&1 &
LBL_PIDS="$LBL_PIDS $!"
# the simulator started at scale 20: the daemon's moves just take a little longer
if "$LBL_BUILD/lblctl" run "$LBL_TOP/recipes/examples/ag-tca-5-dip.yaml" --operator ci --wait \
    >"$LBL_TMP/rtu-run.out" 2>&1; then
	pass "ag-tca-5 completes over Modbus RTU"
else
	fail "ag-tca-5 completes over Modbus RTU" "$(tail -5 "$LBL_TMP/rtu-run.out"; tail -5 "$LBL_TMP/lbld.err")"
fi
measured=$(sqlite3 "$LBL_TMP/rtu.db" "select round(thickness_measured_nm, 1) from batches where id=1")
[ "$measured" = 39.0 ] && pass "gauge over RTU measured 39.0 nm" || fail "gauge over RTU measured 39.0 nm" "$measured"
kill "$LBLD_PID" "$SIMRIG_PID"; wait "$LBLD_PID" "$SIMRIG_PID" 2>/dev/null
sanitizer_clean "$LBL_TMP/lbld.err" "lbld over RTU"
sanitizer_clean "$LBL_TMP/simrig.err" "lbl-simrig over RTU"
[ -z "${LBL_FAILED:-}" ]
