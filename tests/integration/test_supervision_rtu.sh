#!/bin/sh
# Supervision on Modbus RTU (issue 16): test_supervision.sh's detections
# with every Modbus device on one emulated RS-485 line at 19,200 baud
# (lbl-simrig on a socat pty pair, each frame's wire time emulated), where
# each read takes milliseconds and a device's period is lengthened where
# its polls would take more than a twentieth of the line (lbld logs each
# device's period and budget at the batch's start; the test checks they
# are at least TCP's; a generic drive's or pump's poll is one read here):
#   - a drive alarm mid-dwell, a drive pushed 0.5 mm mid-dwell, a dead
#     drive mid-dwell (dip-rig-rtu.yaml, a 30 s dwell)
#   - a pump stopped from outside mid-spray, a pump running dry mid-spray
#     (spray-rig-rtu.yaml at 19,200 baud, a 30 s spray)
# Each must fail the batch within the device's budget (its period and one
# transaction deadline; a counter's stall one period more) plus a margin
# for a loaded machine, far less than the step that would end it
# otherwise, naming device, bus, unit and register, with outputs safe.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
margin_ms=2000

db() { sqlite3 "$dbf" "$1"; }
now_ms() { /usr/bin/python3 -c 'import time; print(int(time.time() * 1000))'; }
at_ms() {
	/usr/bin/python3 -c 'import sys, datetime as d; t = d.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=d.timezone.utc); print(int(t.timestamp() * 1000))' "$1"
}
budget_of() {
	sed -n "s/.*supervision: .*\b$1 every [0-9]* ms (a fault within \([0-9]*\) ms).*/\1/p" \
	    "$LBL_TMP/lbld.err" | tail -1
}
period_of() {
	sed -n "s/.*supervision: .*\b$1 every \([0-9]*\) ms.*/\1/p" "$LBL_TMP/lbld.err" | tail -1
}

# start NAME EXAMPLE: simrig on one end of a fresh pty pair at 19,200 baud, lbld on the other
start() {
	dir="$LBL_TMP/$(echo "$1" | tr -c 'a-z0-9\n' '-')"
	mkdir -p "$dir"
	socat pty,raw,echo=0,link="$dir/sim" pty,raw,echo=0,link="$dir/ctl" >/dev/null 2>"$dir/socat.err" &
	SOCAT_PID=$!
	LBL_PIDS="$LBL_PIDS $SOCAT_PID"
	wait_for 5 test -e "$dir/ctl" || { fail "$1: socat" "$(cat "$dir/socat.err")"; return 1; }
	sed -e "s|device: /dev/ttyUSB0|device: $dir/sim|" -e "s|baud: [0-9]*|baud: 19200|" \
	    "$LBL_TOP/hw/examples/$2" >"$dir/rig-sim.yaml"
	sed "s|device: $dir/sim|device: $dir/ctl|" "$dir/rig-sim.yaml" >"$dir/rig.yaml"
	SIMCTL="$dir/sim.ctl"
	dbf="$dir/lbl.db"
	export LBL_SOCKET="$dir/lbld.sock"
	: >"$LBL_TMP/lbld.err"
	start_simrig "$dir/rig-sim.yaml" --control "$SIMCTL" && start_lbld "$dir/rig.yaml" "$dbf"
}
stop() {
	for pid in ${LBLD_PID:-} ${SIMRIG_PID:-} ${SOCAT_PID:-}; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	LBLD_PID= SIMRIG_PID= SOCAT_PID=
}

# fault_case NAME DEVICE INJECT CAUSE_REGEX [PERIODS] [TCP_PERIOD]: as in
# test_supervision.sh; TCP_PERIOD, the device's default period on TCP,
# which its period on this line must not be under.
fault_case() {
	name=$1 dev=$2 inject=$3 want=$4
	budget=$(budget_of "$dev") period=$(period_of "$dev")
	[ -n "$budget" ] || { fail "$name: lbld logs the budget of $dev" "$(grep supervision "$LBL_TMP/lbld.err")"; return; }
	[ "$period" -ge "${6:-0}" ] && pass "$name: $dev polled every $period ms on the 19,200-baud line (on TCP ${6:-0} ms)" ||
	    fail "$name: the period on RTU is at least TCP's" "$period ms"
	budget=$((budget + ${5:-0} * period))
	t0=$(now_ms)
	simctl $inject | grep -q '^ok' || fail "$name" "simrig refused '$inject'"
	wait_for 30 sh -c "[ \"\$(sqlite3 '$dbf' 'select state from batches where id=1')\" = failed ]" ||
	    { fail "$name: the batch fails" "$(db 'select state, failure_cause from batches')"; return; }
	cause=$(db "select failure_cause from batches where id=1")
	echo "$cause" | grep -Eq "$want" && pass "$name: the cause: $cause" ||
	    fail "$name: the cause names device, bus, unit and register" "'$cause' does not match '$want'"
	at=$(db "select at from events where batch_id=1 and kind='fault' and device='$dev' order by id limit 1")
	if [ -n "$at" ]; then
		took=$(($(at_ms "$at") - t0))
		[ "$took" -le $((budget + margin_ms)) ] &&
		    pass "$name: detected in $took ms (budget $budget ms + $margin_ms ms margin; the step: 30 s)" ||
		    fail "$name: detected within budget" "$took ms > $budget + $margin_ms ms"
	else
		fail "$name: the fault event names $dev" "$(db "select kind, device, message from events where batch_id=1")"
	fi
	safe() {
		for p in $outputs; do
			simctl get "$p" 2>/dev/null | grep -Eq 'running=1|active=1' && return 1
		done
		return 0
	}
	wait_for 15 safe && pass "$name: outputs safe" || fail "$name: outputs safe" "a pump or valve is on"
	kill -0 "$LBLD_PID" 2>/dev/null && pass "$name: lbld alive" || fail "$name: lbld alive" "died"
	sanitizer_clean "$LBL_TMP/lbld.err" "lbld ($name)"
}

cat >"$LBL_TMP/spray.yaml" <<'YAML'
name: supervised-spray
version: "1"
process: spray
substrate: glass slide
resume: allowed
target: {bilayers: 1}
growth: {model: linear, per_bilayer: 5 nm}
solutions:
  ag: {nozzle: ag}
  tca: {nozzle: tca}
cycle:
  - spray: {solution: ag, time: 30s, flow: 20 mL/min, drain: 2s}
  - spray: {solution: tca, time: 5s, flow: 20 mL/min, drain: 2s}
YAML
cat >"$LBL_TMP/dip.yaml" <<'YAML'
name: supervised-dip
version: "1"
process: dip
substrate: glass slide
resume: allowed
target: {bilayers: 1}
growth: {model: linear, per_bilayer: 5 nm}
solutions:
  tca: {station: tca}
  ag: {station: ag}
cycle:
  - dip: {solution: tca, dwell: 30s, depth: 20 mm}
  - dip: {solution: ag, dwell: 5s, depth: 20 mm}
YAML

spraying() { "$ctl" status | grep -q '^step: .* spray ag' && simctl get pump-ag | grep -q 'running=1'; }
dwelling() { "$ctl" status | grep -q '^step: .* dip tca' && simctl get lift | grep -q 'moving=0' &&
    [ "$(simctl get lift | sed -n 's/.*position=\([0-9.]*\).*/\1/p' | cut -d. -f1)" -ge 70 ]; }

# dip CASE DEVICE INJECT CAUSE [PERIODS]
dip() {
	outputs="fill-1 drain-1 stir-ag stir-cnt"
	if start "$1" dip-rig-rtu.yaml; then
		"$ctl" run "$LBL_TMP/dip.yaml" --operator ci >/dev/null 2>&1 || fail "$1: dip run" "refused"
		if wait_for 60 dwelling; then
			sleep 1
			fault_case "$1" "$2" "$3" "$4" "${5:-0}" 500
		else
			fail "$1: the dwell starts" "$("$ctl" status; simctl get lift)"
		fi
	fi
	stop
}
# spray CASE INJECT CAUSE [PERIODS]
spray() {
	outputs="pump-ag pump-tca pump-rinse valve-ag valve-tca valve-rinse"
	if start "$1" spray-rig-rtu.yaml; then
		"$ctl" run "$LBL_TMP/spray.yaml" --operator ci >/dev/null 2>&1 || fail "$1: spray run" "refused"
		if wait_for 60 spraying; then
			sleep 1
			fault_case "$1" pump-ag "$2" "$3" "${4:-0}" 250
		else
			fail "$1: the spray starts" "$("$ctl" status; simctl get pump-ag)"
		fi
	fi
	stop
}

where_lift="device 'lift' \(bus gateway, unit 1\)"
dip "RTU: drive alarm mid-dwell" lift "fault lift alarm" \
    "^supervision: $where_lift: read input 0x0002 \(alarm\): alarm raised"
dip "RTU: drive pushed mid-dwell" lift "push lift 0.5" \
    "^supervision: $where_lift: read input 0x0000 \(position\): at [0-9.]+ mm, while it should stand still at [0-9.]+ mm \(moved 0.500 mm"
dip "RTU: dead drive mid-dwell" transfer "fault transfer silent" \
    "^supervision: device 'transfer' not answering: 3 polls in a row failed, the last: device 'transfer' \(bus gateway, unit 2\): read input 0x0000 \(position\)"
where_pump="device 'pump-ag' \(bus line, unit 2\)"
spray "RTU: pump stopped from outside mid-spray" "stop pump-ag" \
    "^supervision: $where_pump: read input 0x0002 \(running\): stopped, while commanded to run at 20 mL/min"
spray "RTU: pump dry mid-spray" "fault pump-ag dry" \
    "^supervision: $where_pump: read input 0x0000 \(volume\): stands at [0-9.]+ mL for [0-9]+ ms, while running at 20 mL/min" 1
[ -z "${LBL_FAILED:-}" ]
