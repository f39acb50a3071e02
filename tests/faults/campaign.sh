#!/bin/sh
# The fault campaign: faults a real rig meets, injected into real runs of
# lbld on lbl-simrig, each ending in safe state with its cause recorded and
# the database intact. (Device faults — silent, exception, stall, alarm,
# stuck — and the e-stop during a hung transaction are in
# tests/integration/test_daemon_faults.sh.) Here:
#   bus drop (the simulator dies mid-run), interlock opened, kill -9 at
#   KILLS random points each followed by restart and resume-batch, the
#   database's disk full (a file-size limit), malformed and oversized
#   control-socket requests, malformed recipes and rig files.
# Prints PASS/FAIL lines and a summary: faults injected, survived, data lost.
#   tests/faults/campaign.sh        (LBL_BUILD, LBL_TOP set; LBL_KILLS=50)
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
recipe="$LBL_TOP/recipes/examples/ag-tca-5-dip.yaml"
kills=${LBL_KILLS:-50}
injected=0 survived=0 lost=0

survive() { injected=$((injected + 1)); survived=$((survived + 1)); pass "$1"; }
die() { injected=$((injected + 1)); fail "$1" "$2"; }
q() { sqlite3 "$db" "$1" 2>/dev/null; }

start_rig() { # NAME SCALE
	dir="$LBL_TMP/$1"
	mkdir -p "$dir"
	make_rig dip-rig.yaml "$dir/rig.yaml"
	export LBL_SOCKET="$dir/lbld.sock"
	db="$dir/lbl.db"
	start_simrig "$dir/rig.yaml" --time-scale "$2" || return 1
	start_lbld "$dir/rig.yaml" "$db" --time-scale "$2" || return 1
	answer_prompts >/dev/null 2>&1 &
	PROMPTS_PID=$!
	LBL_PIDS="$LBL_PIDS $PROMPTS_PID"
}
stop_rig() {
	kill "$LBLD_PID" "$SIMRIG_PID" "$PROMPTS_PID" 2>/dev/null
	wait "$LBLD_PID" "$SIMRIG_PID" "$PROMPTS_PID" 2>/dev/null
}
intact() { [ "$(q 'pragma integrity_check')" = ok ]; }
# the record of batch 1 is whole: steps 1..last each done once, none after
record_whole() {
	last=$(q "select last_step_seq from batches where id=${1:-1}")
	[ "$(q "select count(*) from steps where batch_id=${1:-1} and outcome='done' and seq<=$last")" = "$last" ] &&
	    [ "$(q "select count(*) from steps where batch_id=${1:-1} and outcome='done' and seq>$last")" = 0 ]
}
outputs_off() {
	for f in "$LBL_TMP"/gpio/*/*.out; do
		[ -f "$f" ] && [ "$(cat "$f")" != 0 ] && return 1
	done
	return 0
}
running_past() { # STEP: batch 1 is past that step
	wait_for 30 sh -c "[ \"\$(sqlite3 '$db' 'select last_step_seq from batches where id=1')\" -ge $1 ]"
}

# ---- bus drop: the Modbus gateway disappears mid-run ----
start_rig busdrop 100 || exit 1
"$ctl" run "$recipe" --operator campaign >/dev/null
running_past 3
kill -9 "$SIMRIG_PID"
if wait_for 20 sh -c "[ \"\$(sqlite3 '$db' 'select state from batches where id=1')\" = failed ]" &&
    kill -0 "$LBLD_PID" && intact && record_whole && outputs_off; then
	survive "bus drop: batch failed ($(q 'select failure_cause from batches where id=1' | cut -c1-70)...), lbld alive, record intact"
else
	die "bus drop" "state $(q 'select state from batches where id=1'), cause $(q 'select failure_cause from batches where id=1')"
fi
stop_rig

# ---- interlock: the door opens mid-run ----
start_rig door 100 || exit 1
"$ctl" run "$recipe" --operator campaign >/dev/null
running_past 3
printf '1\n' >"$LBL_TMP/gpio/pinctrl-bcm2711/GPIO22.in"
if wait_for 10 sh -c "[ \"\$(sqlite3 '$db' 'select state from batches where id=1')\" = failed ]" &&
    q "select failure_cause from batches where id=1" | grep -q door && intact && record_whole && outputs_off &&
    ! "$ctl" run "$recipe" >/dev/null 2>&1; then
	survive "interlock opened: batch failed with the door named, no run while open"
else
	die "interlock opened" "state $(q 'select state from batches where id=1'), cause $(q 'select failure_cause from batches where id=1')"
fi
printf '0\n' >"$LBL_TMP/gpio/pinctrl-bcm2711/GPIO22.in"
stop_rig

# ---- kill -9 at random points, restart, resume ----
start_rig kills 300 || exit 1
planned=$("$ctl" plan "$recipe" --rig "$dir/rig.yaml" --json | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["steps"]))')
"$ctl" run "$recipe" --operator campaign >/dev/null
i=0 k_survived=0 k_lost=0 batch=1
while [ $i -lt "$kills" ]; do
	i=$((i + 1))
	sleep "0.$(od -An -N2 -tu2 /dev/urandom | tr -d ' ' | cut -c1-3)"	# 0 to 0.999 s
	# what lbld has said is done must be in the database after the kill
	said=$("$ctl" status --json 2>/dev/null | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(max(d["step"] - 1, 0) if d["batch"] == '"$batch"' and d["state"] != "idle" else -1)' 2>/dev/null || echo -1)
	kill -9 "$LBLD_PID"; wait "$LBLD_PID" 2>/dev/null
	kill "$PROMPTS_PID" 2>/dev/null
	durable=$(q "select last_step_seq from batches where id=$batch")
	if [ "$said" -gt "${durable:-0}" ]; then
		k_lost=$((k_lost + said - durable)); echo "kill $i: lbld had said step $said was done, database has $durable"
	fi
	start_lbld "$dir/rig.yaml" "$db" --time-scale 300 || { die "kill $i: restart" "lbld did not start"; break; }
	answer_prompts >/dev/null 2>&1 &
	PROMPTS_PID=$!
	LBL_PIDS="$LBL_PIDS $PROMPTS_PID"
	state=$(q "select state from batches where id=$batch")
	if intact && record_whole "$batch" && { [ "$state" = interrupted ] || [ "$state" = completed ]; }; then
		k_survived=$((k_survived + 1))
	else
		echo "kill $i: batch $batch state $state, integrity $(q 'pragma integrity_check')"
	fi
	if [ "$state" = completed ]; then
		"$ctl" run "$recipe" --operator campaign >/dev/null; batch=$((batch + 1))
	else
		"$ctl" resume-batch "$batch" >/dev/null 2>&1 || echo "kill $i: resume-batch $batch refused"
	fi
done
"$ctl" resume-batch "$batch" --wait >/dev/null 2>&1 || "$ctl" status | head -3
injected=$((injected + kills)); survived=$((survived + k_survived)); lost=$((lost + k_lost))
[ "$k_survived" = "$kills" ] && pass "kill -9 x $kills: every restart found its batch interrupted, the record whole" ||
    fail "kill -9 x $kills" "$k_survived survived"
[ "$k_lost" = 0 ] && pass "kill -9: no step lbld had reported done was missing" || fail "kill -9: steps lost" "$k_lost"
complete=$(q "select count(*) from batches where state='completed'")
all_once=1
for b in $(q "select id from batches where state='completed'"); do
	[ "$(q "select count(*) from steps where batch_id=$b and outcome='done'")" = "$planned" ] || all_once=0
done
[ "$complete" -ge 1 ] && [ $all_once = 1 ] && intact &&
    pass "kill -9: $complete batches completed through the kills, each step done exactly once" ||
    fail "kill -9: completed batches" "$complete completed, all once $all_once"
stop_rig

# ---- disk full: the database may not grow past a limit ----
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
( ulimit -f $((size_kb * 2)); exec "$LBL_BUILD/lbld" --rig "$dir/rig.yaml" --db "$db" --socket "$LBL_SOCKET" \
    --gpio-sim "$LBL_TMP/gpio" --time-scale 200 2>>"$LBL_TMP/lbld.err" ) &
LBLD_PID=$!; LBL_PIDS="$LBL_PIDS $LBLD_PID"
wait_for 10 "$ctl" status || echo "lbld did not start under the limit"
answer_prompts >/dev/null 2>&1 &
PROMPTS_PID=$!; LBL_PIDS="$LBL_PIDS $PROMPTS_PID"
"$ctl" run "$recipe" --operator campaign >/dev/null 2>&1
wait_for 60 sh -c "\"$ctl\" status | grep -q '^state: idle'"
alive=$(kill -0 "$LBLD_PID" 2>/dev/null && echo yes || echo no)
kill "$LBLD_PID" "$PROMPTS_PID" 2>/dev/null; wait "$LBLD_PID" 2>/dev/null
# without the limit the batch is found and settled; nothing recorded is lost
start_lbld "$dir/rig.yaml" "$db" --time-scale 200 || exit 1
state=$(q "select state from batches where id=1")
if [ "$alive" = yes ] && intact && record_whole && [ "$state" != running ] && [ "$state" != completed ] &&
    grep -q "database" "$LBL_TMP/lbld.err" && outputs_off; then
	survive "disk full: batch stopped ($state) in safe state, the cause logged, the record intact up to step $(q 'select last_step_seq from batches where id=1')"
else
	die "disk full" "lbld alive $alive, state $state, integrity $(q 'pragma integrity_check')"
fi
kill "$LBLD_PID" "$SIMRIG_PID" 2>/dev/null; wait "$LBLD_PID" "$SIMRIG_PID" 2>/dev/null

# ---- malformed and oversized control requests ----
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
if kill -0 "$LBLD_PID" && "$ctl" status >/dev/null && [ "$(q 'select count(*) from batches')" = "$before" ] && intact; then
	injected=$((injected + n)); survived=$((survived + n))
	pass "$n malformed or oversized requests: lbld answered on, nothing changed"
else
	die "malformed requests" "lbld died or the database changed"
fi
stop_rig

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
injected=$((injected + bad)); survived=$((survived + refused))
[ "$refused" = "$bad" ] && pass "$bad malformed recipes and rig files refused with FILE:LINE:COL, nothing created" ||
    fail "malformed recipes and rig files" "$refused of $bad refused properly"

echo "fault campaign: $injected faults injected, $survived survived, data lost: $lost"
[ "$survived" = "$injected" ] && [ "$lost" = 0 ] && pass "campaign: all survived, nothing lost" ||
    fail "campaign" "$survived of $injected survived, $lost lost"
[ -z "${LBL_FAILED:-}" ]
