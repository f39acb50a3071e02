#!/bin/sh
# The fault campaign: the faults a real rig meets, injected into real runs of
# lbld on lbl-simrig. Each must end in safe state (pumps off, valves and
# relays closed) with its cause recorded, lbld alive and the database
# intact; kill -9 must lose no step lbld had reported done.
#   device faults: silent, Modbus exception, stall past the timeout, alarm
#     bit, target never reached (simrig control socket, mid-run)
#   e-stop while a Modbus transaction hangs; interlock (door) opened
#   what people do (case_stops.sh): SIGTERM mid-dip with slow Modbus, stray
#     signals (HUP, USR1, ALRM, USR2) and reloads, SIGTERM while parking
#     after abort, e-stop and interlock then lblctl park, a second lbld, a
#     lift fault then a new batch
#   readers (case_readers.sh): every read's output unchanged; clients hanging
#     up mid-export; an e-stop and the watchdog while 20 clients read 10,000
#     batches
#   the safety net (case_safety_net.sh): kill -9 then lbl-safe, a device's
#     own communication-loss timeout
#   another process holds the database's write lock (case_dblock.sh): e-stop
#     meanwhile, a lock held past the record's hold limit, and one held as
#     the batch ends (run --wait answers once the end is on record)
#   one slow device on a bus (case_bus.sh): e-stop while a pump trickles its
#     answers, sends half a frame, or is silent; lblctl hw against a trickling
#     pump; a lift trickling mid-dip (the park's deadline)
#   access (case_access.sh, as real users): 500 idle connections and a
#     slowloris from a viewer while root aborts; a viewer's abort refused, a
#     member of group lbl's obeyed
#   a recipe too big to plan (case_plans.sh): refused at FILE:LINE:COL by
#     recipe add and run, lbld's memory unchanged, an e-stop amid a burst
#   what the devices say (case_devices.sh): a sensor out of its plausible
#     range mid-batch (a reading above it, FLT_MAX), a pump stopped from
#     outside mid-spray
#   homing with a trickling drive (case_homing.sh): SIGTERM while homing at
#     start-up and during lblctl home, lblctl home through to its end
#   supervision while the database is locked (case_sup_lock.sh): a drive
#     alarm mid-dwell and a pump stopped mid-spray while another process
#     holds the write lock
#   notify commands (case_notify.sh): hanging and flooding during an e-stop,
#     which must not wait for them
#   commissioning (case_commission.sh): a manual action recorded while the
#     database is locked, the disk full while teach writes the rig file, a
#     pump trickling while prime runs (and an e-stop meanwhile)
#   event followers (case_events.sh): five followers of status --events that
#     stop reading, then an e-stop: as fast as without them, and a reading
#     follower hears the e-stop's event as recorded
#   the disk stops syncing (case_disk.sh): the log's sync fails with EIO
#     mid-batch: the batch fails safely, naming the log and the error; the
#     disk hangs (every sync 12 s): lbld answers and the steps go on, and
#     the batch fails safely after 10 s without a sync; the disk hangs
#     during manual control: lbld answers and an e-stop stops the pump
#   the lab's server (case_sync.sh): PostgreSQL crashes mid-batch and
#     lbl-sync is killed -9 meanwhile: the batch runs on, the copy catches up
#   held commands and pairs (case_release.sh): e-stops at random moments of
#     a spray batch of pairs and released commands (no start reaches a
#     device after the stops, by the simulator's trace), the write lock held
#     across pairs, SIGTERM amid them
#   bus drop (the simulator dies mid-run)
#   kill -9 at LBL_KILLS (50) random points, each followed by restart and
#     resume-batch, through as many batches as that takes
#   the database's disk full (a file-size limit on lbld)
#   malformed and oversized control-socket requests
#   malformed recipes and rig files
# Prints PASS/FAIL lines and a summary: faults injected, survived, data lost.
#   tests/faults/campaign.sh        (LBL_BUILD, LBL_TOP set, as tests/run.sh does)
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
recipe="$LBL_TOP/recipes/examples/ag-tca-5-dip.yaml"
kills=${LBL_KILLS:-50}
injected=0 survived=0 lost=0

# A case is survived when none of its checks failed.
fail() { echo "FAIL $1: $2"; LBL_FAILED=1; case_ok=0; }
begin_case() { case_ok=1; }
end_case() { # [COUNT]: the case injected COUNT faults (default 1)
	injected=$((injected + ${1:-1}))
	[ "$case_ok" = 1 ] && survived=$((survived + ${1:-1}))
}
q() { sqlite3 "$db" "$1" 2>/dev/null; }
state_of() { q "select state from batches where id=${1:-1}"; }

# case_dir NAME EXAMPLE: a fresh directory $dir for one case, with a copy
# of the example rig (free ports) and the paths of its lbld socket, the
# simulator's control socket ($SIMCTL) and the database ($db).
case_dir() {
	dir="$LBL_TMP/$1"
	mkdir -p "$dir"
	make_rig "$2" "$dir/rig.yaml"
	export LBL_SOCKET="$dir/lbld.sock"
	SIMCTL="$dir/simrig.ctl"
	db="$dir/lbl.db"
	: >"$LBL_TMP/lbld.err"
}

# start_rig NAME SCALE [SIMRIG_ARGS...]: a fresh simrig (with control
# socket), lbld and database for one case, and an operator answering prompts.
start_rig() {
	case_dir "$1" dip-rig.yaml
	scale=$2
	shift 2
	start_simrig "$dir/rig.yaml" --time-scale "$scale" --control "$SIMCTL" "$@" || return 1
	start_lbld "$dir/rig.yaml" "$db" --time-scale "$scale" || return 1
	answer_prompts >/dev/null 2>&1 &
	PROMPTS_PID=$!
	LBL_PIDS="$LBL_PIDS $PROMPTS_PID"
}
stop_rig() {
	kill "$LBLD_PID" "$SIMRIG_PID" "$PROMPTS_PID" 2>/dev/null
	wait "$LBLD_PID" "$SIMRIG_PID" "$PROMPTS_PID" 2>/dev/null
}
intact() { [ "$(q 'pragma integrity_check')" = ok ]; }
# record_whole [BATCH]: steps 1..last each done once, none after, none open
record_whole() {
	last=$(q "select last_step_seq from batches where id=${1:-1}")
	[ "$(q "select count(*) from steps where batch_id=${1:-1} and outcome='done' and seq<=$last")" = "$last" ] &&
	    [ "$(q "select count(*) from steps where batch_id=${1:-1} and outcome='done' and seq>$last")" = 0 ] &&
	    [ "$(q "select count(*) from steps where batch_id=${1:-1} and outcome='running'")" = 0 ]
}
# outputs_safe: every GPIO output off and, while the simulator answers,
# every pump of the rig stopped.
outputs_safe() {
	for f in "$LBL_TMP"/gpio/*/*.out; do
		[ -f "$f" ] || continue
		[ "$(cat "$f")" = 0 ] || { echo "$f is $(cat "$f")"; return 1; }
	done
	kill -0 "$SIMRIG_PID" 2>/dev/null || return 0
	for p in stir-ag stir-cnt fill-1 drain-1; do
		simctl get "$p" | grep -q 'running=1' && { echo "$p running"; return 1; }
	done
	return 0
}
running_past() { # STEP: batch 1 is past that step
	wait_for 30 sh -c "[ \"\$(sqlite3 '$db' 'select last_step_seq from batches where id=1')\" -ge $1 ]"
}
failed_soon() { # SECONDS: batch 1 is failed within SECONDS
	wait_for "$1" sh -c "[ \"\$(sqlite3 '$db' 'select state from batches where id=1')\" = failed ]"
}
# settled NAME: the checks every case ends with
# park_released NAME: the operator's 'lblctl park' after releasing an e-stop
# or interlock. lbld sees the release at its next read of the input, so the
# first park may still be refused ("release it first"); an operator tries
# again, and so does this, for up to 10 s. Fails naming the last refusal.
park_released() {
	if ! wait_for 10 "$ctl" park; then
		fail "$1: park after release" "refused: $("$ctl" park 2>&1)"
		return 1
	fi
	return 0
}

settled() {
	why=$(wait_for 10 outputs_safe && echo ok || outputs_safe)
	[ "$why" = ok ] && pass "$1: outputs safe" || fail "$1: outputs safe" "$why"
	kill -0 "$LBLD_PID" 2>/dev/null && pass "$1: lbld alive" || fail "$1: lbld alive" "died"
	intact && pass "$1: integrity" || fail "$1: integrity" "$(q 'pragma integrity_check')"
	record_whole && pass "$1: record whole" || fail "$1: record whole" "a step missing, repeated or left open"
}

# ---- device faults, injected mid-run ----
# fault_case KIND DEVICE WANT: the failure cause must match the regex WANT.
fault_case() {
	kind=$1 device=$2 want=$3 name="fault $1 on $2"
	begin_case
	start_rig "$kind-$device" 100 || { fail "$name" "rig did not start"; end_case; return; }
	"$ctl" run "$recipe" --operator campaign >/dev/null 2>&1 || fail "$name" "run refused"
	running_past 3	# a few steps in, with the stirrer running
	simctl fault "$device" "$kind" | grep -q '^ok' || fail "$name" "simrig refused the fault"
	failed_soon 30 && pass "$name: batch failed" || fail "$name: batch failed" "state $(state_of)"
	cause=$(q "select failure_cause from batches where id=1")
	echo "$cause" | grep -Eq "$want" && pass "$name: cause recorded" ||
	    fail "$name: cause recorded" "'$cause' does not match '$want'"
	[ "$(q "select count(*) from events where batch_id=1 and kind='fault'")" != 0 ] &&
	    pass "$name: fault event" || fail "$name: fault event" "none"
	[ "$(q "select count(*) from events where batch_id=1 and kind='fault' and device='$device'")" != 0 ] &&
	    pass "$name: the fault event names $device" ||
	    fail "$name: the fault event names $device" "$(q "select device, message from events where batch_id=1 and kind='fault'")"
	settled "$name"
	stop_rig
	end_case
}
fault_case silent lift "lift.*(timed out|Connection)"
fault_case exception transfer "transfer.*(exception|failure)"
fault_case alarm lift "lift.*alarm"
fault_case stuck transfer "transfer.*did not reach"
fault_case stall lift "lift.*(timed out|Connection)"

# The e-stop while a transaction hangs: the QCM stalls (each read waits out
# its timeout), and the e-stop must still stop everything at once.
begin_case
start_rig estop 100 || exit 1
"$ctl" run "$recipe" --operator campaign >/dev/null 2>&1
running_past 3
simctl fault lift stall >/dev/null
sleep 0.1
t0=$(date +%s%N)
printf '0\n' >"$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in"	# active low: 0 is pressed
failed_soon 5
t1=$(date +%s%N)
ms=$(( (t1 - t0) / 1000000 ))
[ "$(sqlite3 "$db" 'select state from batches where id=1')" = failed ] && pass "e-stop while hung: batch failed" ||
    fail "e-stop while hung: batch failed" "$(sqlite3 "$db" 'select state from batches where id=1')"
echo "info: e-stop to failed batch recorded in $ms ms (stall holds a transaction for 2 s)"
[ "$ms" -lt 1500 ] && pass "e-stop not delayed by the hung transaction" || fail "e-stop not delayed" "$ms ms"
sqlite3 "$db" "select failure_cause from batches where id=1" | grep -q "e-stop 'estop' engaged" &&
    pass "e-stop cause recorded" || fail "e-stop cause recorded" "$(sqlite3 "$db" 'select failure_cause from batches where id=1')"
sqlite3 "$db" "select count(*) from events where batch_id=1 and kind='estop'" | grep -qv '^0$' &&
    pass "e-stop event" || fail "e-stop event" "none"
simctl clear lift >/dev/null
"$ctl" run "$recipe" --operator campaign >/dev/null 2>"$dir/err" && fail "no run while the e-stop is engaged" "accepted" ||
    pass "no run while the e-stop is engaged"
printf '1\n' >"$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in"
sleep 0.2
settled "e-stop"
stop_rig
end_case

# ---- bus drop: the Modbus gateway disappears mid-run ----
begin_case
start_rig busdrop 100 || exit 1
"$ctl" run "$recipe" --operator campaign >/dev/null
running_past 3
kill -9 "$SIMRIG_PID"
failed_soon 20 && pass "bus drop: batch failed ($(q 'select failure_cause from batches where id=1' | cut -c1-60)...)" ||
    fail "bus drop: batch failed" "state $(state_of)"
settled "bus drop"
stop_rig
end_case

# ---- interlock: the door opens mid-run ----
begin_case
start_rig door 100 || exit 1
"$ctl" run "$recipe" --operator campaign >/dev/null
running_past 3
printf '1\n' >"$LBL_TMP/gpio/pinctrl-bcm2711/GPIO22.in"
failed_soon 10 && pass "interlock: batch failed" || fail "interlock: batch failed" "state $(state_of)"
q "select failure_cause from batches where id=1" | grep -q door && pass "interlock: the door named" ||
    fail "interlock: the door named" "$(q 'select failure_cause from batches where id=1')"
"$ctl" run "$recipe" >/dev/null 2>&1 && fail "interlock: no run while open" "accepted" ||
    pass "interlock: no run while open"
settled "interlock"
printf '0\n' >"$LBL_TMP/gpio/pinctrl-bcm2711/GPIO22.in"
stop_rig
end_case

# ---- the e-stop's GPIO chip goes away mid-run (a USB expander unplugged) ----
# The simulated line takes "E" as its chip gone: its fd polls readable for
# ever and reading it fails (ENODEV). The batch fails safe, saying which
# input and why; the e-stop counts as engaged; the loop does not spin.
begin_case
start_rig estop-gone 100 || exit 1
"$ctl" run "$recipe" --operator campaign >/dev/null
running_past 3
printf 'E' >"$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in"
failed_soon 10 && pass "e-stop's chip gone: batch failed" || fail "e-stop's chip gone: batch failed" "state $(state_of)"
q "select failure_cause from batches where id=1" | grep -q "^e-stop 'estop' cannot be read (reading its events failed: " &&
    pass "e-stop's chip gone: the cause names the e-stop and why" ||
    fail "e-stop's chip gone: the cause" "$(q 'select failure_cause from batches where id=1')"
"$ctl" run "$recipe" --operator campaign >/dev/null 2>&1 && fail "e-stop's chip gone: no run while unreadable" "accepted" ||
    pass "e-stop's chip gone: no run while unreadable"
cpu0=$(awk '{print $14 + $15}' "/proc/$LBLD_PID/stat")
sleep 1
cpu1=$(awk '{print $14 + $15}' "/proc/$LBLD_PID/stat")
[ $((cpu1 - cpu0)) -le 5 ] && pass "e-stop's chip gone: lbld does not spin on the dead line" ||
    fail "e-stop's chip gone: lbld spins" "$((cpu1 - cpu0)) clock ticks in 1 s"
settled "e-stop's chip gone"
stop_rig
end_case

# ---- what operators, systemd and package managers do ----
. "$LBL_TOP/tests/faults/case_stops.sh"
. "$LBL_TOP/tests/faults/case_readers.sh"
. "$LBL_TOP/tests/faults/case_plans.sh"
. "$LBL_TOP/tests/faults/case_dblock.sh"
. "$LBL_TOP/tests/faults/case_bus.sh"
. "$LBL_TOP/tests/faults/case_access.sh"
[ -f "$LBL_TOP/tests/faults/case_safety_net.sh" ] && . "$LBL_TOP/tests/faults/case_safety_net.sh"
. "$LBL_TOP/tests/faults/case_devices.sh"
. "$LBL_TOP/tests/faults/case_homing.sh"
. "$LBL_TOP/tests/faults/case_sup_lock.sh"
. "$LBL_TOP/tests/faults/case_notify.sh"
. "$LBL_TOP/tests/faults/case_commission.sh"
. "$LBL_TOP/tests/faults/case_events.sh"
. "$LBL_TOP/tests/faults/case_sync.sh"
. "$LBL_TOP/tests/faults/case_release.sh"
. "$LBL_TOP/tests/faults/case_disk.sh"

# ---- kill -9 at random points, each followed by restart and resume ----
begin_case
start_rig kills 300 || exit 1
planned=$("$ctl" plan "$recipe" --rig "$dir/rig.yaml" --json | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["steps"]))')
"$ctl" run "$recipe" --operator campaign >/dev/null
# (not "i": wait_for in lib.sh uses that name)
kill_no=0 k_survived=0 k_lost=0 batch=1
while [ $kill_no -lt "$kills" ]; do
	kill_no=$((kill_no + 1))
	sleep "0.$(od -An -N2 -tu2 /dev/urandom | tr -d ' ' | cut -c1-3)"	# 0 to 0.999 s
	# what lbld has said is done must be in the database after the kill
	said=$("$ctl" status --json 2>/dev/null | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(max(d["step"] - 1, 0) if d["batch"] == '"$batch"' and d["state"] != "idle" else -1)' 2>/dev/null || echo -1)
	kill -9 "$LBLD_PID"; wait "$LBLD_PID" 2>/dev/null
	kill "$PROMPTS_PID" 2>/dev/null
	durable=$(q "select last_step_seq from batches where id=$batch")
	if [ "$said" -gt "${durable:-0}" ]; then
		k_lost=$((k_lost + said - durable)); echo "kill $kill_no: lbld had said step $said was done, database has $durable"
	fi
	start_lbld "$dir/rig.yaml" "$db" --time-scale 300 || { fail "kill $kill_no: restart" "lbld did not start"; break; }
	answer_prompts >/dev/null 2>&1 &
	PROMPTS_PID=$!
	LBL_PIDS="$LBL_PIDS $PROMPTS_PID"
	state=$(state_of "$batch")
	if intact && record_whole "$batch" && { [ "$state" = interrupted ] || [ "$state" = completed ]; } &&
	    [ -z "$(outputs_safe)" ]; then
		k_survived=$((k_survived + 1))
	else
		echo "kill $kill_no: batch $batch state $state, integrity $(q 'pragma integrity_check'), $(outputs_safe)"
	fi
	if [ "$state" = completed ]; then
		"$ctl" run "$recipe" --operator campaign >/dev/null; batch=$((batch + 1))
	else
		"$ctl" resume-batch "$batch" >/dev/null 2>&1 || echo "kill $kill_no: resume-batch $batch refused"
	fi
done
# the last batch runs to its end undisturbed
wait_for 120 sh -c "[ \"\$(sqlite3 '$db' 'select state from batches where id=$batch')\" = completed ]" ||
    fail "kill -9: last batch completes" "state $(state_of "$batch")"
[ "$k_survived" = "$kills" ] && pass "kill -9 x $kills: every restart found its batch interrupted, outputs safe, the record whole" ||
    fail "kill -9 x $kills" "$k_survived survived"
[ "$k_lost" = 0 ] && pass "kill -9: no step lbld had reported done was missing" || fail "kill -9: steps lost" "$k_lost"
complete=$(q "select count(*) from batches where state='completed'")
every_step_once=1
for b in $(q "select id from batches"); do
	[ "$(q "select count(*) from steps where batch_id=$b and outcome='done'")" = "$planned" ] || every_step_once=0
	[ "$(q "select count(distinct seq) from steps where batch_id=$b")" = "$planned" ] || every_step_once=0
done
[ "$complete" = "$batch" ] && [ $every_step_once = 1 ] && intact &&
    pass "kill -9: $complete batches completed through the kills, each of the $planned steps done and recorded once" ||
    fail "kill -9: completed batches" "$complete of $batch completed, every step once: $every_step_once"
stop_rig
# each kill is a fault; a failed check after the loop costs the case one
injected=$((injected + kills)); lost=$((lost + k_lost))
survived=$((survived + k_survived - (1 - case_ok) * (k_survived == kills)))

# ---- disk full: the database may not grow past a limit ----
begin_case
dir="$LBL_TMP/diskfull"; mkdir -p "$dir"
make_rig dip-rig.yaml "$dir/rig.yaml"
export LBL_SOCKET="$dir/lbld.sock"
db="$dir/lbl.db"
start_simrig "$dir/rig.yaml" --time-scale 200 || exit 1
# a first start makes the database; then lbld runs with a file-size limit
# just above what it holds, as on a full disk
start_lbld "$dir/rig.yaml" "$db" --time-scale 200 || exit 1
kill "$LBLD_PID"; wait "$LBLD_PID" 2>/dev/null
size_kb=$(( ($(stat -c %s "$db") + $(stat -c %s "$db-wal" 2>/dev/null || echo 0)) / 1024 + 40 ))
: >"$dir/lbld.err"
( ulimit -f $((size_kb * 2)); exec "$LBL_BUILD/lbld" --rig "$dir/rig.yaml" --db "$db" --socket "$LBL_SOCKET" \
    --gpio-sim "$LBL_TMP/gpio" --time-scale 200 2>"$dir/lbld.err" ) &
LBLD_PID=$!; LBL_PIDS="$LBL_PIDS $LBLD_PID"
wait_for 10 "$ctl" status || fail "disk full: lbld starts" "$(cat "$dir/lbld.err")"
answer_prompts >/dev/null 2>&1 &
PROMPTS_PID=$!; LBL_PIDS="$LBL_PIDS $PROMPTS_PID"
"$ctl" run "$recipe" --operator campaign >/dev/null 2>&1
wait_for 60 sh -c "\"$ctl\" status | grep -q '^state: idle'" || fail "disk full: run stops" "$("$ctl" status | head -3)"
kill -0 "$LBLD_PID" 2>/dev/null && pass "disk full: lbld alive" || fail "disk full: lbld alive" "died"
# the batch fails in lbld's memory (the database cannot take it), with the cause
"$ctl" status | grep -q '^cause: the database did not record step' &&
    pass "disk full: batch failed, $("$ctl" status | sed -n 's/^cause: //p')" ||
    fail "disk full: batch failed" "$("$ctl" status | head -3)"
grep -q "database .*: committing .*: disk I/O error" "$dir/lbld.err" &&
    pass "disk full: the error logged with its context" || fail "disk full: the error logged" "$(tail -3 "$dir/lbld.err")"
why=$(wait_for 10 outputs_safe && echo ok || outputs_safe)
[ "$why" = ok ] && pass "disk full: outputs safe" || fail "disk full: outputs safe" "$why"
kill "$LBLD_PID" "$PROMPTS_PID" 2>/dev/null; wait "$LBLD_PID" 2>/dev/null
# with space again the batch is found and settled; nothing recorded is lost
start_lbld "$dir/rig.yaml" "$db" --time-scale 200 || exit 1
state=$(state_of)
{ [ "$state" = failed ] || [ "$state" = interrupted ]; } && intact && record_whole &&
    pass "disk full: batch settled ($state), the record intact up to step $(q 'select last_step_seq from batches where id=1')" ||
    fail "disk full: batch settled" "state $state, integrity $(q 'pragma integrity_check')"
stop_rig
end_case

# ---- malformed and oversized control requests ----
begin_case
start_rig requests 100 || exit 1
before=$(q "select count(*) from batches")
n=$(/usr/bin/python3 - "$LBL_SOCKET" <<'PY'
import os, random, socket, sys
random.seed(7)
cases = [b"\n", b"\t\t\n", b"run\n", b"run\t@99999999999\n", b"run\t@5\nab", b"\x00\x01\x02\n",
         b"status\t" + b"x" * 70000 + b"\n", b"x" * (3 << 20), b"recipe\tadd\tf\t@10\n0123456789",
         b"abort\t--now\t--now\t--now\n", b"history\t--since\tnot-a-date\n", b"show\t-1\n",
         b"export\t1\t--format\n", b"compare\t1\n", "plan\t\u00e9\u00e9\n".encode()]
cases += [bytes(random.getrandbits(8) for _ in range(random.randint(1, 600))) for _ in range(200)]
for c in cases:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(sys.argv[1])
    try:
        s.sendall(c)
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
    except OSError:
        pass
    s.close()
print(len(cases))
PY
)
kill -0 "$LBLD_PID" && "$ctl" status >/dev/null && pass "$n malformed or oversized requests: lbld answered on" ||
    fail "malformed requests" "lbld died or stopped answering"
[ "$(q 'select count(*) from batches')" = "$before" ] && intact && pass "malformed requests: nothing changed" ||
    fail "malformed requests" "the database changed"
stop_rig
end_case "${n:-1}"

# ---- malformed recipes and rig files ----
bad=0 refused=0
for f in "$LBL_TOP"/tests/bad/*.yaml; do
	bad=$((bad + 1))
	"$ctl" check "$f" --rig "$LBL_TOP/hw/examples/dip-rig.yaml" >/dev/null 2>"$LBL_TMP/bad.err"
	[ $? = 2 ] && grep -q ':[0-9]*:[0-9]*: error:' "$LBL_TMP/bad.err" && refused=$((refused + 1))
done
for mutation in 's/port: 1502/port: 0/' 's/role: axis/role: axle/' 's/unit: 1$/unit: 300/' \
    's/safe_z: 20 mm/safe_z: 20/' 's/profile: generic-drive/profile: nosuch/' 's/^devices:/devicez:/'; do
	bad=$((bad + 1))
	sed "$mutation" "$LBL_TOP/hw/examples/dip-rig.yaml" >"$LBL_TMP/bad-rig.yaml"
	"$LBL_BUILD/lbld" --rig "$LBL_TMP/bad-rig.yaml" --db "$LBL_TMP/never.db" --socket "$LBL_TMP/never.sock" \
	    >/dev/null 2>"$LBL_TMP/bad.err" && continue
	grep -q 'bad-rig.yaml:[0-9]*:[0-9]*: error:' "$LBL_TMP/bad.err" && [ ! -e "$LBL_TMP/never.db" ] &&
	    refused=$((refused + 1))
done
[ "$refused" = "$bad" ] && pass "$bad malformed recipes and rig files refused with FILE:LINE:COL, nothing created" ||
    fail "malformed recipes and rig files" "$refused of $bad refused properly"
injected=$((injected + bad)); survived=$((survived + refused))

echo "info: fault campaign: $injected faults injected, $survived survived, data lost: $lost"
[ "$survived" = "$injected" ] && [ "$lost" = 0 ] && pass "campaign: all survived, nothing lost" ||
    fail "campaign" "$survived of $injected survived, $lost lost"
[ -z "${LBL_FAILED:-}" ]
