#!/bin/sh
# resume-batch runs the same pre-flight as a start (issue 17): after a
# crash, a batch whose plan uses a device that no longer answers (fill-1
# silenced in lbl-simrig) is refused with the list of what failed, the
# batch stays interrupted and nothing moves; once the device answers again
# the same resume goes on.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
scale=100
d="$LBL_TMP/rpf"
mkdir -p "$d"
make_rig dip-rig.yaml "$d/rig.yaml"
db="$d/lbl.db"
recipe="$LBL_TOP/recipes/examples/ag-tca-5-dip.yaml"
SIMCTL="$d/simrig.ctl"
start_simrig "$d/rig.yaml" --control "$SIMCTL" --time-scale $scale || exit 1
start_lbld "$d/rig.yaml" "$db" --time-scale $scale || exit 1
answer_prompts >/dev/null 2>&1 &
LBL_PIDS="$LBL_PIDS $!"

"$ctl" run "$recipe" --operator ci >/dev/null || fail "run 1" "refused"
wait_for 30 sh -c "[ \"\$(sqlite3 '$db' 'select last_step_seq from batches where id=1')\" -ge 3 ]"
kill -9 "$LBLD_PID"; wait "$LBLD_PID" 2>/dev/null
start_lbld "$d/rig.yaml" "$db" --time-scale $scale || exit 1
[ "$(sqlite3 "$db" 'select state from batches where id=1')" = interrupted ] ||
    fail "batch 1 interrupted by the crash" "$(sqlite3 "$db" 'select state from batches where id=1')"
wait_for 20 sh -c "\"$ctl\" status | grep -q '^state: idle'"

simctl fault fill-1 silent | grep -q '^ok' || fail "simrig: silence fill-1" "refused"
steps=$(sqlite3 "$db" 'select count(*) from steps where batch_id=1')
lift=$(simctl get lift | sed -n 's/.* position=\([-0-9.]*\).*/\1/p')
out=$("$ctl" resume-batch 1 2>&1)
rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "^FAILED device 'fill-1' is not reachable" &&
    echo "$out" | grep -q "^ok     e-stop and interlocks released" &&
    echo "$out" | grep -q "resume-batch refused: pre-flight failed" &&
    pass "resume-batch is refused by pre-flight, every check listed, naming the device" ||
    fail "resume-batch refused by pre-flight" "rc $rc: $out"
[ "$(sqlite3 "$db" 'select state from batches where id=1')" = interrupted ] &&
    [ "$(sqlite3 "$db" 'select count(*) from steps where batch_id=1')" = "$steps" ] &&
    [ "$(simctl get lift | sed -n 's/.* position=\([-0-9.]*\).*/\1/p')" = "$lift" ] &&
    pass "the refusal changes nothing: interrupted, no step recorded, nothing moved" ||
    fail "the refusal changes nothing" "$(sqlite3 "$db" 'select state from batches where id=1'); $(simctl get lift)"

simctl clear fill-1 >/dev/null
out=$("$ctl" resume-batch 1 2>&1)
rc=$?
[ $rc = 0 ] && echo "$out" | grep -q "^batch 1 resumed after step" &&
    pass "with the device back, the same resume goes on" || fail "resume with the device back" "rc $rc: $out"
"$ctl" abort >/dev/null 2>&1
wait_for 20 sh -c "\"$ctl\" status | grep -q '^state: idle'"
sanitizer_clean "$LBL_TMP/lbld.err" lbld
exit "${LBL_FAILED:-0}"
