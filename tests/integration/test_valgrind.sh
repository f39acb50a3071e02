#!/bin/sh
# The end-to-end daemon run under valgrind (memcheck): lbld runs a whole
# dip batch on lbl-simrig, with a pause, a resume and an operator prompt, and
# lblctl reads the record back, and lbld plans the stored recipe (plan, in
# its reader thread); then lbld stops on SIGTERM. Any memcheck
# error or definite/indirect leak in lbld or lblctl fails the test.
# valgrind cannot run sanitizer builds, so this uses the plain build:
# LBL_PLAIN_BUILD (make check sets it), else LBL_BUILD.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
plain=${LBL_PLAIN_BUILD:-$LBL_BUILD}
if nm -D "$plain/lbld" 2>/dev/null | grep -q __asan_init; then
	fail "valgrind" "$plain/lbld is a sanitizer build; set LBL_PLAIN_BUILD to a plain build"
	exit 1
fi
command -v valgrind >/dev/null || { fail "valgrind" "valgrind is not installed (make deps)"; exit 1; }
scale=50
recipe="$LBL_TOP/recipes/examples/ag-tca-5-dip.yaml"
vg="valgrind --quiet --error-exitcode=97 --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --num-callers=30"
# lblctl under valgrind, its log kept per call
n_ctl=0
vctl() {
	n_ctl=$((n_ctl + 1))
	$vg --log-file="$LBL_TMP/vg-lblctl.$n_ctl" "$plain/lblctl" "$@"
}
make_rig dip-rig.yaml "$LBL_TMP/rig.yaml"
db="$LBL_TMP/lbl.db"
LBL_BUILD=$plain start_simrig "$LBL_TMP/rig.yaml" --time-scale $scale || exit 1
mkdir -p "$LBL_TMP/gpio"
$vg --log-file="$LBL_TMP/vg-lbld" "$plain/lbld" --rig "$LBL_TMP/rig.yaml" --db "$db" --socket "$LBL_SOCKET" \
    --gpio-sim "$LBL_TMP/gpio" --time-scale $scale 2>"$LBL_TMP/lbld.err" &
LBLD_PID=$!
LBL_PIDS="$LBL_PIDS $LBLD_PID"
wait_for 60 "$plain/lblctl" status || { fail "lbld under valgrind starts" "$(tail -5 "$LBL_TMP/lbld.err")"; exit 1; }
pass "lbld under valgrind starts"
LBL_BUILD=$plain answer_prompts >"$LBL_TMP/prompts" 2>&1 &
LBL_PIDS="$LBL_PIDS $!"

vctl run "$recipe" --operator valgrind --lot ag=A1 >/dev/null || fail "run" "refused"
wait_for 60 sh -c "[ \"\$(sqlite3 '$db' 'select last_step_seq from batches where id=1')\" -ge 4 ]"
vctl pause >/dev/null && wait_for 60 sh -c "'$plain/lblctl' status | grep -q '^state: paused'" &&
    pass "pause under valgrind" || fail "pause under valgrind" "$("$plain/lblctl" status | head -2)"
vctl status --json >/dev/null
vctl resume >/dev/null || fail "resume" "refused"
if vctl status --follow >"$LBL_TMP/follow" 2>&1 &&
    [ "$(sqlite3 "$db" 'select state from batches where id=1')" = completed ]; then
	pass "batch completes under valgrind"
else
	fail "batch completes under valgrind" "$(sqlite3 "$db" 'select state, failure_cause from batches')"
fi
grep -q 'operator:' "$LBL_TMP/prompts" && pass "a prompt answered" || fail "a prompt answered" "none seen"
for cmd in "history" "show 1" "show 1 --json" "export 1 --format csv" "compare 1 1" "recipe list"; do
	# shellcheck disable=SC2086
	vctl $cmd >/dev/null 2>"$LBL_TMP/ctl.err" || fail "lblctl $cmd" "$(cat "$LBL_TMP/ctl.err")"
done
# lbld's plan request (the reader thread plans the stored recipe), text and JSON
for form in "" "	--json"; do
	out=$(/usr/bin/python3 - "$LBL_SOCKET" "plan	ag-tca-5$form" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(120); s.connect(sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode())
data = b""
while not any(l.startswith((b"ok", b"fail ")) for l in data.split(b"\n")[:-1]):
    c = s.recv(65536)
    if not c:
        break
    data += c
print(data.decode().split("\n")[-2])
PY
)
	[ "$out" = ok ] && pass "plan ag-tca-5${form:+ --json} under valgrind" || fail "plan$form under valgrind" "$out"
done
kill "$LBLD_PID"
wait "$LBLD_PID"
rc=$?
[ $rc = 0 ] && pass "lbld exits cleanly under valgrind, no memcheck error or leak" ||
    fail "lbld under valgrind" "exit $rc: $(grep -v '^==[0-9]*== *$' "$LBL_TMP/vg-lbld" | head -30)"
bad=0
for f in "$LBL_TMP"/vg-lblctl.*; do
	[ -s "$f" ] && { bad=1; echo "$f:"; head -30 "$f"; }
done
[ $bad = 0 ] && pass "$n_ctl lblctl calls: no memcheck error or leak" || fail "lblctl under valgrind" "see above"
[ -z "${LBL_FAILED:-}" ]
