#!/bin/sh
# Run control on a real lbld: prompts and continue, one run at a time,
# pause at the boundary and pause --now, resume, abort; run --wait telling
# the operator's waits, kept alive under a short --timeout, and noticing a
# stopped lbld; who may view and who may change, as real users; lblctl's
# timeout against servers that never answer; malformed and oversized
# requests.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
make_rig dip-rig.yaml "$LBL_TMP/rig.yaml"
start_simrig "$LBL_TMP/rig.yaml" --time-scale 100 || exit 1
start_lbld "$LBL_TMP/rig.yaml" "$LBL_TMP/lbl.db" --time-scale 100 || exit 1
db="$LBL_TMP/lbl.db"
state() { "$ctl" status | sed -n 's/^state: //p'; }
batch_state() { sqlite3 "$db" "select state from batches order by id desc limit 1"; }

[ "$(state)" = idle ] && pass "idle status" || fail "idle status" "$(state)"
"$ctl" status --json | /usr/bin/python3 -c 'import json,sys; assert json.load(sys.stdin)["state"] == "idle"' &&
    pass "status --json" || fail "status --json" "not valid JSON"

# taa-cnt-3 starts with a prompt
out=$("$ctl" run "$LBL_TOP/recipes/examples/taa-cnt-3-dip.yaml" --operator ci 2>&1)
echo "$out" | grep -q '^batch 1 started' && pass "run prints the batch id" || fail "run prints the batch id" "$out"
wait_for 5 sh -c "\"$ctl\" status | grep -q '^state: prompt'" && pass "prompt waits" || fail "prompt waits" "$(state)"
"$ctl" status | grep -q "^prompt: Clamp the separator" && pass "prompt text shown" || fail "prompt text shown" "$("$ctl" status)"
"$ctl" run "$LBL_TOP/recipes/examples/ag-tca-5-dip.yaml" >/dev/null 2>"$LBL_TMP/err"; rc=$?
[ $rc -ne 0 ] && grep -q "one run at a time" "$LBL_TMP/err" && pass "second run refused" || fail "second run refused" "rc $rc: $(cat "$LBL_TMP/err")"
"$ctl" continue && pass "continue" || fail "continue" "refused"
wait_for 5 sh -c "\"$ctl\" status | grep -qE '^state: (running|waiting)'" && pass "running after continue" || fail "running after continue" "$(state)"
"$ctl" continue 2>/dev/null && fail "continue without a prompt" "accepted" || pass "continue without a prompt refused"

# pause at the next step boundary, then resume
"$ctl" pause && pass "pause accepted" || fail "pause accepted" "refused"
wait_for 20 sh -c "\"$ctl\" status | grep -q '^state: paused'" && pass "paused at a boundary" || fail "paused at a boundary" "$(state)"
[ "$(batch_state)" = paused ] && pass "pause recorded" || fail "pause recorded" "$(batch_state)"
open=$(sqlite3 "$db" "select count(*) from steps where outcome='running'")
[ "$open" = 0 ] && pass "no step open while paused" || fail "no step open while paused" "$open"
"$ctl" resume && pass "resume" || fail "resume" "refused"
wait_for 5 sh -c "\"$ctl\" status | grep -qE '^state: (running|waiting)'" && pass "running after resume" || fail "running after resume" "$(state)"

# pause --now withdraws at once; the interrupted step runs again on resume
"$ctl" pause --now && pass "pause --now accepted" || fail "pause --now accepted" "refused"
wait_for 10 sh -c "\"$ctl\" status | grep -q '^state: paused'" && pass "paused now" || fail "paused now" "$(state)"
aborted=$(sqlite3 "$db" "select count(*) from steps where outcome='aborted'")
[ "$aborted" -le 1 ] && pass "interrupted step marked" || fail "interrupted step marked" "$aborted"
"$ctl" resume && pass "resume after pause --now" || fail "resume after pause --now" "refused"

# abort: safe state, batch aborted with the cause
sleep 0.5
"$ctl" abort && pass "abort accepted" || fail "abort accepted" "refused"
wait_for 10 sh -c "[ \"\$(sqlite3 '$db' 'select state from batches where id=1')\" = aborted ]" &&
    pass "abort recorded" || fail "abort recorded" "$(batch_state)"
wait_for 10 sh -c "\"$ctl\" status | grep -q '^state: idle'" && pass "idle after abort" || fail "idle after abort" "$(state)"
for f in "$LBL_TMP"/gpio/*/*.out; do
	[ -f "$f" ] || continue
	[ "$(cat "$f")" = 0 ] || fail "outputs off after abort" "$f is $(cat "$f")"
done
pass "outputs off after abort"
sqlite3 "$db" "select kind from events where batch_id=1" | grep -q abort && pass "abort event" || fail "abort event" "missing"

# run --wait prints each wait for the operator as it comes (taa-cnt-3
# starts with a prompt), and a --timeout shorter than lbld's keep-alive
# period holds while lbld follows: only "~" lines come at a prompt
"$ctl" --timeout 0.5 run "$LBL_TOP/recipes/examples/taa-cnt-3-dip.yaml" --operator ci --wait \
    >"$LBL_TMP/wait.out" 2>&1 &
waiter=$!
LBL_PIDS="$LBL_PIDS $waiter"
want="waiting for the operator: Clamp the separator flat in the holder; it floats if loose — answer with 'lblctl continue'"
wait_for 10 grep -qxF "$want" "$LBL_TMP/wait.out" && pass "run --wait prints the prompt as it is reached" ||
    fail "run --wait prints the prompt" "$(cat "$LBL_TMP/wait.out")"
sleep 3
kill -0 "$waiter" 2>/dev/null && pass "run --wait --timeout 0.5 waits at a prompt for 3 s (keep-alives)" ||
    fail "run --wait --timeout 0.5 waits at a prompt" "$(cat "$LBL_TMP/wait.out")"
# a hung lbld is noticed within three keep-alive periods (6 s) of the last
# line it sent (so 4 to 6 s after it stopped), not never
kill -STOP "$LBLD_PID"
t0=$(date +%s%N) n=0
while kill -0 "$waiter" 2>/dev/null && [ $n -lt 150 ]; do sleep 0.1; n=$((n + 1)); done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
kill -CONT "$LBLD_PID"
wait "$waiter" 2>/dev/null; rc=$?
if [ $rc = 1 ] && [ $ms -ge 3000 ] && [ $ms -le 12000 ] &&
    grep -q "^lblctl: no reply from lbld on $LBL_SOCKET within 6 s$" "$LBL_TMP/wait.out"; then
	pass "run --wait notices a stopped lbld: exit 1 after $ms ms (bound 6 s)"
else
	fail "run --wait notices a stopped lbld" "rc $rc after $ms ms: $(tail -2 "$LBL_TMP/wait.out")"
fi

# who may view and who may change: the socket lets anyone in, lbld decides
# by the peer's credentials; as real users (the batch waits at its prompt)
[ "$(stat -c %a "$LBL_SOCKET")" = 666 ] && pass "the socket is 0666" ||
    fail "the socket is 0666" "$(stat -c %a "$LBL_SOCKET")"
if test_users; then
	as_viewer "$ctl" status >"$LBL_TMP/out" 2>&1 && grep -q '^state: prompt' "$LBL_TMP/out" &&
	    pass "a viewer (not in group lbl) sees the status" || fail "a viewer sees the status" "$(cat "$LBL_TMP/out")"
	as_viewer "$ctl" history >"$LBL_TMP/out" 2>&1 && grep -q 'taa-cnt-3' "$LBL_TMP/out" &&
	    pass "a viewer reads the history" || fail "a viewer reads the history" "$(cat "$LBL_TMP/out")"
	as_viewer "$ctl" recipe list >"$LBL_TMP/out" 2>&1 && grep -q 'taa-cnt-3' "$LBL_TMP/out" &&
	    pass "a viewer lists the recipes" || fail "a viewer lists the recipes" "$(cat "$LBL_TMP/out")"
	for cmd in abort continue pause park "recipe add $LBL_TOP/recipes/examples/ag-tca-5-dip.yaml" \
	    "run ag-tca-5" "abort-batch 1"; do
		# shellcheck disable=SC2086
		as_viewer "$ctl" $cmd >"$LBL_TMP/out" 2>&1; rc=$?
		[ $rc = 1 ] && grep -q "permission denied: .* group lbl, and uid $VIEWER_UID is neither" "$LBL_TMP/out" &&
		    pass "a viewer's '$cmd' is refused: permission denied" ||
		    fail "a viewer's '$cmd' is refused" "rc $rc: $(cat "$LBL_TMP/out")"
	done
	[ "$(state)" = prompt ] && pass "the viewers changed nothing" || fail "the viewers changed nothing" "$(state)"
	# a process whose effective gid is lbl (sg lbl) may change things
	setpriv --reuid="$VIEWER_UID" --regid="$LBL_GID" --clear-groups "$ctl" continue >"$LBL_TMP/out" 2>&1 &&
	    pass "a peer with effective gid lbl may continue" || fail "a peer with effective gid lbl may continue" "$(cat "$LBL_TMP/out")"
	# a member of group lbl by the group database
	as_operator "$ctl" abort >"$LBL_TMP/out" 2>&1 && pass "a member of group lbl may abort" ||
	    fail "a member of group lbl may abort" "$(cat "$LBL_TMP/out")"
	wait_for 10 sh -c "[ \"\$(sqlite3 '$db' 'select state from batches order by id desc limit 1')\" = aborted ]" &&
	    sqlite3 "$db" "select failure_cause from batches order by id desc limit 1" | grep -q "uid $OPERATOR_UID" &&
	    pass "the member's abort is recorded with its uid" ||
	    fail "the member's abort is recorded" "$(sqlite3 "$db" 'select state, failure_cause from batches order by id desc limit 1')"
else
	"$ctl" abort >/dev/null 2>&1
fi
wait_for 10 sh -c "\"$ctl\" status | grep -q '^state: idle'" || fail "idle after the access checks" "$(state)"

# lblctl never waits forever: servers that accept and stay silent, that
# never accept (a full listen queue), or that speak another protocol
/usr/bin/python3 - "$LBL_TMP/silent.sock" "$LBL_TMP/full.sock" "$LBL_TMP/foreign.sock" <<'PY' &
import os, socket, sys, threading, time
def silent(path):
    s = socket.socket(socket.AF_UNIX); s.bind(path); s.listen(8); held = []
    while True: held.append(s.accept()[0])
def full(path):
    s = socket.socket(socket.AF_UNIX); s.bind(path); s.listen(0)
    c = socket.socket(socket.AF_UNIX); c.connect(path)	# fills the queue; never accepted
    os.chmod(path, 0o666); time.sleep(3600)
def foreign(path):
    s = socket.socket(socket.AF_UNIX); s.bind(path); s.listen(8); held = []
    while True:
        c = s.accept()[0]; c.sendall(b"error: unknown command\n"); held.append(c)
for f, p in zip((silent, full, foreign), sys.argv[1:]):
    threading.Thread(target=f, args=(p,), daemon=True).start()
time.sleep(3600)
PY
LBL_PIDS="$LBL_PIDS $!"
wait_for 5 test -S "$LBL_TMP/foreign.sock" || fail "fake servers" "did not start"
sleep 0.2
# timed: COMMAND...: runs it, sets rc and ms
timed() { t0=$(date +%s%N); "$@" >"$LBL_TMP/out" 2>&1; rc=$?; ms=$(( ($(date +%s%N) - t0) / 1000000 )); }
for how in "--timeout 1 --socket $LBL_TMP/silent.sock" "--socket $LBL_TMP/full.sock --timeout 1"; do
	sock=$(echo "$how" | sed 's/.*--socket \([^ ]*\).*/\1/')
	# shellcheck disable=SC2086
	timed "$ctl" $how status
	[ $rc = 1 ] && [ $ms -ge 900 ] && [ $ms -le 4000 ] &&
	    grep -q "^lblctl: no reply from lbld on $sock within 1 s" "$LBL_TMP/out" &&
	    pass "lblctl $how status: exit 1 after $ms ms, saying so" ||
	    fail "lblctl $how status" "rc $rc after $ms ms: $(cat "$LBL_TMP/out")"
done
timed env LBL_TIMEOUT=1 LBL_SOCKET="$LBL_TMP/silent.sock" "$ctl" abort
[ $rc = 1 ] && [ $ms -le 4000 ] && grep -q "within 1 s" "$LBL_TMP/out" &&
    pass "LBL_TIMEOUT=1: exit 1 after $ms ms" || fail "LBL_TIMEOUT=1" "rc $rc after $ms ms: $(cat "$LBL_TMP/out")"
timed "$ctl" --socket "$LBL_TMP/foreign.sock" --timeout 1 status
[ $rc = 1 ] && grep -q "within 1 s (it said 'error: unknown command': is that lbld's socket?)" "$LBL_TMP/out" &&
    pass "a foreign server: exit 1 naming what it said" || fail "a foreign server" "rc $rc: $(cat "$LBL_TMP/out")"
timed "$ctl" --socket "$LBL_TMP/silent.sock" status
[ $rc = 1 ] && [ $ms -ge 4500 ] && [ $ms -le 9000 ] && grep -q "within 5 s" "$LBL_TMP/out" &&
    pass "the default timeout is 5 s ($ms ms)" || fail "the default timeout is 5 s" "rc $rc after $ms ms: $(cat "$LBL_TMP/out")"
for bad in "--timeout 0" "--timeout -1" "--timeout soon" "--timeout 86401"; do
	# shellcheck disable=SC2086
	"$ctl" $bad status >"$LBL_TMP/out" 2>&1; rc=$?
	[ $rc = 2 ] && grep -q "expected seconds" "$LBL_TMP/out" && pass "lblctl $bad: usage error" ||
	    fail "lblctl $bad: usage error" "rc $rc: $(cat "$LBL_TMP/out")"
done
LBL_TIMEOUT=never "$ctl" status >"$LBL_TMP/out" 2>&1; rc=$?
[ $rc = 2 ] && grep -q "LBL_TIMEOUT: expected seconds" "$LBL_TMP/out" && pass "LBL_TIMEOUT=never: usage error" ||
    fail "LBL_TIMEOUT=never: usage error" "rc $rc: $(cat "$LBL_TMP/out")"

# malformed and oversized requests get an error, never a crash
/usr/bin/python3 - "$LBL_SOCKET" <<'PY'
import socket, sys
def ask(data):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        b = s.recv(4096)
        if not b: break
        out += b
    s.close(); return out.decode(errors="replace")
checks = [("long line", b"status" + b"x" * 5000 + b"\n", "fail 2"),
          ("control chars", b"sta\x01tus\n", "fail 2"),
          ("bad payload size", b"recipe\tadd\tf\t@99999999999\n", "fail 2"),
          ("unknown command", b"explode\n", "fail 2 unknown command"),
          ("empty", b"\n", "fail 2")]
for name, data, want in checks:
    got = ask(data)
    print(("PASS" if want in got else "FAIL") + " malformed: " + name + ("" if want in got else ": " + got))
PY
kill -0 "$LBLD_PID" && pass "lbld alive after malformed requests" || fail "lbld alive after malformed requests" "died"

# peers that leave before their answer: one that closes right after asking
# (lbld's sends fail midway through a many-line reply) and followers that
# hang up; lbld must neither touch a freed client nor spin on the hangup
"$ctl" run "$LBL_TOP/recipes/examples/ag-tca-5-dip.yaml" --operator ci >/dev/null || fail "run to follow" "refused"
followers=""
for n in 1 2 3; do
	"$ctl" status --follow >/dev/null 2>&1 &
	followers="$followers $!"
done
sleep 0.3
for pid in $followers; do kill -0 "$pid" || fail "followers follow" "$pid ended early"; done
kill $followers; wait $followers 2>/dev/null
/usr/bin/python3 - "$LBL_SOCKET" <<'PY'
import socket, sys
for request in [b"status\n", b"history\n", b"show\t1\n", b"recipe\tlist\n", b"status\t--follow\n"] * 20:
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(request)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")	# reset, unread
    s.close()
PY
sleep 0.5
cpu0=$(awk '{print $14 + $15}' "/proc/$LBLD_PID/stat")
sleep 1
cpu1=$(awk '{print $14 + $15}' "/proc/$LBLD_PID/stat")
kill -0 "$LBLD_PID" && "$ctl" status >/dev/null && pass "lbld answers on after 100 peers left unanswered" ||
    fail "peers that leave" "lbld died: $(tail -5 "$LBL_TMP/lbld.err")"
[ $((cpu1 - cpu0)) -le 5 ] && pass "no spinning on hung-up peers ($((cpu1 - cpu0)) ticks in 1 s)" ||
    fail "no spinning on hung-up peers" "$((cpu1 - cpu0)) clock ticks in 1 s"
"$ctl" abort >/dev/null || fail "abort the followed run" "refused"
sanitizer_clean "$LBL_TMP/lbld.err" "lbld after peers left"
[ -z "${LBL_FAILED:-}" ]
