# Fault campaign case: nobody locks the operator out, and who may change
# what holds as real users (sourced by campaign.sh, which defines the
# helpers; test_users and as_viewer/as_operator are lib.sh's). A viewer
# opens 500 connections and a slowloris (a request sent a byte at a time,
# never ending) in the middle of a batch; root's abort must go through at
# once, the batch end aborted with the rig safe, and the log hold a bounded
# number of refusal lines, not one per connection. Then a viewer may watch
# a batch but not abort it, and a member of group lbl may.

begin_case
name="500 idle connections and a slowloris from a viewer while root aborts"
if ! test_users; then
	end_case 0
else
start_rig access 100 || exit 1
"$ctl" run "$recipe" --operator campaign >/dev/null 2>&1 || fail "$name" "run refused"
running_past 3
t0=$(date +%s%N); "$ctl" status >/dev/null; base_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
# the flood, as the viewer: it reports once it holds what lbld let it have,
# then once the slowloris and every held connection were dropped (or 25 s)
as_viewer /usr/bin/python3 - "$LBL_SOCKET" >"$dir/flood.out" 2>&1 <<'PY' &
import socket, sys, time
path = sys.argv[1]
slow = socket.socket(socket.AF_UNIX)
slow.connect(path)
slow.setblocking(False)
slow_t0 = time.monotonic()
slow.send(b"history\t--recipe\t")
opened, failed = [], 0
for i in range(500):
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        s.setblocking(False)
        opened.append(s)
    except OSError:
        failed += 1
        s.close()
time.sleep(1)
held, refused, told = [], 0, b""
for s in opened:
    try:
        told = s.recv(4096) or told
        refused += 1
        s.close()
    except BlockingIOError:
        held.append(s)
print("told %s" % told.decode(errors="replace").strip())
print("ready held=%d refused=%d failed=%d" % (len(held), refused, failed), flush=True)
slow_ms, slow_said, dropped, said = None, b"", 0, b""
t0 = time.monotonic()
while (slow_ms is None or held) and time.monotonic() - t0 < 25:
    if slow_ms is None:
        try:
            slow_said = slow.recv(4096)
            slow_ms = (time.monotonic() - slow_t0) * 1000
        except BlockingIOError:
            try:
                slow.send(b"x")		# one more byte, never a newline
            except OSError:
                pass
    for s in list(held):
        try:
            said = s.recv(4096) or said
            dropped += 1
            held.remove(s)
        except BlockingIOError:
            pass
    time.sleep(0.3)
print("slowloris dropped_ms=%d said=%s" % (slow_ms if slow_ms is not None else -1,
    slow_said.decode(errors="replace").strip()))
print("idle dropped=%d still=%d said=%s" % (dropped, len(held), said.decode(errors="replace").strip()),
    flush=True)
PY
flood=$!
LBL_PIDS="$LBL_PIDS $flood"
if wait_for 30 grep -q '^ready' "$dir/flood.out"; then
	ready=$(grep '^ready' "$dir/flood.out")
	held=$(printf '%s\n' "$ready" | sed 's/.*held=\([0-9]*\).*/\1/')
	refused=$(printf '%s\n' "$ready" | sed 's/.*refused=\([0-9]*\).*/\1/')
	[ "$held" -le 8 ] && [ "$refused" -ge 490 ] &&
	    pass "$name: the viewer holds $held connections besides the slowloris, $refused refused" ||
	    fail "$name: the viewer's connections limited" "$ready"
	grep -q "^told fail 1 lbld refuses the connection: uid $VIEWER_UID already holds 8, the most for a viewer" \
	    "$dir/flood.out" && pass "$name: a refused connection is told why" ||
	    fail "$name: a refused connection is told why" "$(grep '^told' "$dir/flood.out")"
	# the operator is not locked out: root aborts at once
	t0=$(date +%s%N)
	"$ctl" abort >"$dir/abort.out" 2>&1; rc=$?
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	echo "info: root's abort under the flood took $ms ms (status before it: $base_ms ms)"
	[ $rc = 0 ] && [ $ms -le $((3000 + 10 * base_ms)) ] && pass "$name: root's abort goes through at once ($ms ms)" ||
	    fail "$name: root's abort goes through" "rc $rc after $ms ms: $(cat "$dir/abort.out")"
	"$ctl" status >/dev/null 2>&1 && pass "$name: root's status answered" || fail "$name: root's status answered" "refused"
	as_viewer "$ctl" status >"$dir/viewer.out" 2>&1
	[ $? = 1 ] && grep -q "already holds 8, the most for a viewer" "$dir/viewer.out" &&
	    pass "$name: the flooding viewer's own status is refused, saying why" ||
	    fail "$name: the flooding viewer's status refused" "$(cat "$dir/viewer.out")"
else
	fail "$name: the flood" "never ready: $(cat "$dir/flood.out")"
fi
wait_for 30 sh -c "[ \"\$(sqlite3 '$db' 'select state from batches where id=1')\" = aborted ]" &&
    pass "$name: the batch ends aborted" || fail "$name: the batch ends aborted" "state $(state_of)"
n=0
while kill -0 "$flood" 2>/dev/null && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
slow=$(grep '^slowloris' "$dir/flood.out")
slow_ms=$(printf '%s\n' "$slow" | sed -n 's/.*dropped_ms=\([-0-9]*\).*/\1/p')
[ -n "$slow_ms" ] && [ "$slow_ms" -ge 4000 ] && [ "$slow_ms" -le 10000 ] &&
    printf '%s\n' "$slow" | grep -q "no complete request within 5 s" &&
    pass "$name: the slowloris is dropped after $slow_ms ms, told why" ||
    fail "$name: the slowloris is dropped" "${slow:-no report}"
idle=$(grep '^idle' "$dir/flood.out")
printf '%s\n' "$idle" | grep -q "still=0" && printf '%s\n' "$idle" | grep -q "no complete request" &&
    pass "$name: every idle connection dropped, told why" || fail "$name: idle connections dropped" "${idle:-no report}"
lines=$(grep -c "control: refused" "$LBL_TMP/lbld.err")
[ "$lines" -ge 1 ] && [ "$lines" -le 3 ] && grep -q "control: refused .* uid $VIEWER_UID refused" "$LBL_TMP/lbld.err" &&
    pass "$name: $lines refusal log lines for $refused refusals and the drops" ||
    fail "$name: refusals logged at a bounded rate" "$lines lines: $(grep 'control:' "$LBL_TMP/lbld.err" | head -3)"
wait_for 10 sh -c "\"$ctl\" status | grep -q '^state: idle'"
settled "$name"

# who may change: a viewer watches a batch but may not abort it; a member
# of group lbl (by /etc/group, an unprivileged uid) starts and aborts one
name="a viewer may watch, a member of group lbl may abort"
as_operator "$ctl" run "$recipe" --operator ana >"$dir/run.out" 2>&1 &&
    pass "$name: the member starts a batch" || fail "$name: the member starts a batch" "$(cat "$dir/run.out")"
wait_for 10 sh -c "[ \"\$(sqlite3 '$db' 'select state from batches where id=2')\" = running ]"
as_viewer "$ctl" status >"$dir/viewer.out" 2>&1 && grep -q '^batch: 2 ' "$dir/viewer.out" &&
    pass "$name: the viewer sees batch 2" || fail "$name: the viewer sees batch 2" "$(cat "$dir/viewer.out")"
as_viewer "$ctl" history >"$dir/viewer.out" 2>&1 && grep -q '^ *2  ag-tca-5@1 .* running ' "$dir/viewer.out" &&
    pass "$name: the viewer reads the history" || fail "$name: the viewer reads the history" "$(cat "$dir/viewer.out")"
as_viewer "$ctl" abort >"$dir/viewer.out" 2>&1; rc=$?
[ $rc = 1 ] && grep -q "abort: permission denied: .* group lbl, and uid $VIEWER_UID is neither" "$dir/viewer.out" &&
    pass "$name: the viewer's abort is refused, clearly" || fail "$name: the viewer's abort refused" "rc $rc: $(cat "$dir/viewer.out")"
sleep 0.3
[ "$(state_of 2)" = running ] && pass "$name: the batch runs on" || fail "$name: the batch runs on" "state $(state_of 2)"
as_operator "$ctl" abort >"$dir/op.out" 2>&1 && pass "$name: the member's abort is obeyed" ||
    fail "$name: the member's abort is obeyed" "$(cat "$dir/op.out")"
wait_for 30 sh -c "[ \"\$(sqlite3 '$db' 'select state from batches where id=2')\" = aborted ]" &&
    q "select failure_cause from batches where id=2" | grep -q "uid $OPERATOR_UID" &&
    pass "$name: batch 2 aborted by uid $OPERATOR_UID" ||
    fail "$name: batch 2 aborted by the member" "$(q 'select state, failure_cause from batches where id=2')"
wait_for 10 sh -c "\"$ctl\" status | grep -q '^state: idle'"
why=$(wait_for 10 outputs_safe && echo ok || outputs_safe)
[ "$why" = ok ] && pass "$name: outputs safe" || fail "$name: outputs safe" "$why"
record_whole 2 && pass "$name: record whole" || fail "$name: record whole" "batch 2's steps"
stop_rig
end_case 3
fi
