#!/bin/sh
# Run control on a real lbld: prompts and continue, one run at a time,
# pause at the boundary and pause --now, resume, abort; the socket's access
# boundary; malformed and oversized requests.
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

# the access boundary: a user outside group lbl may read but not change
chmod 0666 "$LBL_SOCKET"
chmod 0711 "$LBL_TMP" "$(dirname "$LBL_SOCKET")"	# mktemp -d is 0700: let others reach it
if command -v setpriv >/dev/null && [ "$(id -u)" = 0 ]; then
	setpriv --reuid=65534 --regid=65534 --clear-groups "$ctl" status >/dev/null 2>&1 &&
	    pass "status for any local user" || fail "status for any local user" "refused"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$ctl" pause 2>"$LBL_TMP/err" &&
	    fail "pause refused outside group lbl" "accepted" ||
	    { grep -q "permission denied" "$LBL_TMP/err" && pass "pause refused outside group lbl" ||
	      fail "pause refused outside group lbl" "$(cat "$LBL_TMP/err")"; }
fi

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
