# Fault campaign cases: another process holds the database's write lock (a
# sqlite3 shell in a transaction, a careless backup script) while a batch
# runs. lbld's loop must not wait on it: the e-stop stops the pumps at once,
# status answers, the record is held in memory and written, whole, when the
# lock goes; a lock held too long fails the batch safely. Sourced by
# campaign.sh (uses its helpers and case_stops.sh's).

# hold_lock SECONDS: a python process holds the write lock (BEGIN IMMEDIATE)
# that long; waits until it has it. Its pid is in $LOCK_PID.
hold_lock() {
	/usr/bin/python3 - "$db" "$1" "$dir/locked" <<'PY' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[3], "w").close()
time.sleep(float(sys.argv[2]))
c.execute("ROLLBACK")
PY
	LOCK_PID=$!
	LBL_PIDS="$LBL_PIDS $LOCK_PID"
	wait_for 10 test -e "$dir/locked"
}

# estop_ms: presses the e-stop, prints the largest delay (ms) from the press
# to each pump's stop command as lbl-simrig stamped it (both CLOCK_MONOTONIC).
estop_ms() {
	/usr/bin/python3 - "$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in" "$SIMCTL" <<'PY'
import socket, sys, time
def get(dev):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[2])
    s.sendall(("get %s\n" % dev).encode()); out = b""
    while not out.endswith(b"\n"):
        b = s.recv(4096)
        if not b: break
        out += b
    return dict(w.split("=", 1) for w in out.decode().split()[1:] if "=" in w)
pumps = ["stir-ag", "stir-cnt", "fill-1", "drain-1"]
t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
with open(sys.argv[1], "w") as f:
    f.write("0\n")
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    d = {p: int(get(p).get("stop_ns", 0)) for p in pumps}
    if all(v >= t0 for v in d.values()):
        print(max((v - t0) // 1000000 for v in d.values())); sys.exit(0)
    time.sleep(0.005)
print(99999)
PY
}

# ---- e-stop while another process holds the write lock ----
begin_case
name="e-stop while the database is locked"
start_rig dblock 100 || exit 1
if start_batch "$name"; then
	hold_lock 4 || fail "$name" "the lock was not taken"
	ms=$(estop_ms)
	echo "info: $name: every pump stopped $ms ms after the press (the lock holds for 4 s)"
	[ "$ms" -lt 1000 ] && pass "$name: every pump stopped at once ($ms ms)" ||
	    fail "$name: every pump stopped at once" "$ms ms"
	t0=$(date +%s%N)
	out=$("$ctl" status 2>&1)
	t1=$(date +%s%N)
	st_ms=$(( (t1 - t0) / 1000000 ))
	[ "$st_ms" -lt 1000 ] && echo "$out" | grep -q '^record: .* held in memory' &&
	    pass "$name: status answers at once and says the record is held ($st_ms ms)" ||
	    fail "$name: status while locked" "$st_ms ms: $(echo "$out" | tr '\n' '|')"
	[ "$(state_of)" = running ] && pass "$name: nothing written while the lock is held" ||
	    fail "$name: nothing written while locked" "state $(state_of)"
	failed_soon 15 && pass "$name: batch failed once the lock went" ||
	    fail "$name: batch failed once the lock went" "state $(state_of)"
	wait_for 10 sh -c "[ \"\$(sqlite3 '$db' \"select count(*) from events where batch_id=1 and kind='estop'\")\" = 1 ]" &&
	    pass "$name: the e-stop event recorded" || fail "$name: the e-stop event recorded" "none"
	printf '1\n' >"$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in"
	park_released "$name" &&
	    { wait_for 20 parked || fail "$name: park" "$(park_why)"; }
	settled "$name"
fi
stop_rig
end_case

# ---- the lock held past the record's hold limit: the batch fails safely ----
begin_case
name="database locked for 25 s mid-batch"
start_rig dblong 100 || exit 1
if start_batch "$name"; then
	# the first write after the lock may come seconds later (the first dip
	# is a long one): the record's 10 s hold counts from there
	hold_lock 25 || fail "$name" "the lock was not taken"
	wait_for 24 sh -c "\"$ctl\" status | grep -q 'locked by another process for'" &&
	    pass "$name: the batch fails when the record cannot be kept" ||
	    fail "$name: the batch fails" "$("$ctl" status | tr '\n' '|')"
	why=$(wait_for 10 outputs_safe && echo ok || outputs_safe)
	[ "$why" = ok ] && pass "$name: outputs safe while still locked" || fail "$name: outputs safe" "$why"
	kill -0 "$LOCK_PID" 2>/dev/null && [ "$(state_of)" = running ] &&
	    pass "$name: the lock was still held when the batch failed" ||
	    fail "$name: the lock was still held" "the lock ended first: the test proves nothing"
	wait "$LOCK_PID" 2>/dev/null
	failed_soon 10 && pass "$name: the failure is on record once the lock went" ||
	    fail "$name: the failure is on record" "state $(state_of)"
	q "select failure_cause from batches where id=1" | grep -q "locked by another process" &&
	    pass "$name: the cause names the lock" || fail "$name: the cause names the lock" "$(q 'select failure_cause from batches where id=1')"
	wait_for 30 parked || fail "$name: parked" "$(park_why)"
	settled "$name"
fi
stop_rig
end_case

# ---- the lock held as the batch ends: who waits is told once it is on record ----
# `lblctl run --wait` answers "completed" when the batch ends; a script then
# reads the record at once (a LIMS export, the generated-recipe test). While
# another process holds the lock the end is held in memory, and the answer
# must wait for it: told "completed", the record must say so too.
begin_case
name="database locked as the batch ends (run --wait)"
start_rig dbend 100 || exit 1
cat >"$dir/end.yaml" <<'YAML'
name: locked-end
version: "1"
process: dip
substrate: {name: glass slide, area: 8 cm2}
target: {bilayers: 1}
growth: {model: linear, per_bilayer: 7.8 nm}
resume: allowed
solutions:
  ag: {station: ag, volume: 200 mL}
  tca: {station: tca, volume: 200 mL}
cycle:
  - dip: {solution: ag, dwell: 30s, depth: 30 mm}
  - dip: {solution: tca, dwell: 10min, depth: 30 mm}
YAML
"$ctl" run "$dir/end.yaml" --operator campaign --wait >"$dir/wait.out" 2>&1 &
wait_pid=$!
LBL_PIDS="$LBL_PIDS $wait_pid"
# the last dip (6 s at this scale) has begun: a lock taken up to 6 s later
# (a busy machine) still covers its end, and ends within the record's 10 s
if wait_for 30 sh -c "[ \"\$(sqlite3 '$db' \"select count(*) from steps where batch_id=1 and seq=2 and outcome='running'\")\" = 1 ]"; then
	hold_lock 9 || fail "$name" "the lock was not taken"
	wait_exit "$wait_pid" 30
	# read as a script would, the moment the answer came
	st=$(q "select state from batches where id=1")
	grep -q "holding the batch record in memory" "$LBL_TMP/lbld.err" &&
	    pass "$name: the batch ended while the lock was held" ||
	    fail "$name: the batch ended while the lock was held" "the lock ended first: the test proves nothing"
	[ "$exit_status" = 0 ] && grep -q "batch 1 completed" "$dir/wait.out" &&
	    pass "$name: --wait says completed" ||
	    fail "$name: --wait says completed" "exit $exit_status: $(tr '\n' '|' <"$dir/wait.out")"
	[ "$st" = completed ] && pass "$name: the record says completed when --wait answers" ||
	    fail "$name: the record says completed when --wait answers" "state $st"
	wait "$LOCK_PID" 2>/dev/null
	wait_for 30 parked || fail "$name: parked" "$(park_why)"
	settled "$name"
else
	fail "$name" "the last dip never began: $(tr '\n' '|' <"$dir/wait.out")"
fi
stop_rig
end_case
