#!/bin/sh
# Crash and power loss: kill -9 lbld mid-run, restart it: the batch is found
# interrupted with its last step, the rig is made safe, resume-batch
# continues from the next step, and the record is intact with no step lost
# or repeated, its lots kept. A recipe that forbids resume is refused with the reason.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
make_rig dip-rig.yaml "$LBL_TMP/rig.yaml"
db="$LBL_TMP/lbl.db"
recipe="$LBL_TOP/recipes/examples/ag-tca-5-dip.yaml"
scale=200
start_simrig "$LBL_TMP/rig.yaml" --time-scale $scale || exit 1
start_lbld "$LBL_TMP/rig.yaml" "$db" --time-scale $scale || exit 1
answer_prompts >/dev/null 2>&1 &
LBL_PIDS="$LBL_PIDS $!"
planned=$("$ctl" plan "$recipe" --rig "$LBL_TMP/rig.yaml" --json | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["steps"]))')
"$ctl" run "$recipe" --operator ci --lot ag=LOT-CRASH-1 >/dev/null || fail "run" "refused"
wait_for 30 sh -c "[ \"\$(sqlite3 '$db' 'select last_step_seq from batches where id=1')\" -ge 8 ]"
kill -9 "$LBLD_PID"
wait "$LBLD_PID" 2>/dev/null
last=$(sqlite3 "$db" "select last_step_seq from batches where id=1")
pass "killed -9 after step $last"
start_lbld "$LBL_TMP/rig.yaml" "$db" --time-scale $scale || exit 1
[ "$(sqlite3 "$db" 'select state from batches where id=1')" = interrupted ] && pass "found interrupted" ||
    fail "found interrupted" "$(sqlite3 "$db" 'select state from batches where id=1')"
[ "$(sqlite3 "$db" 'select last_step_seq from batches where id=1')" = "$last" ] && pass "last step kept" || fail "last step kept" "changed"
answer_prompts >/dev/null 2>&1 &
LBL_PIDS="$LBL_PIDS $!"
if "$ctl" resume-batch 1 --wait >"$LBL_TMP/out" 2>&1; then pass "resume-batch completes"; else fail "resume-batch completes" "$(tail -3 "$LBL_TMP/out")"; fi
[ "$(sqlite3 "$db" 'pragma integrity_check')" = ok ] && pass "integrity_check ok" || fail "integrity_check ok" "corrupt"
done_steps=$(sqlite3 "$db" "select count(*) from steps where batch_id=1 and outcome='done'")
[ "$done_steps" = "$planned" ] && pass "no step lost ($planned done)" || fail "no step lost" "$done_steps of $planned"
repeated=$(sqlite3 "$db" "select count(*) from steps where batch_id=1 and attempts > 1")
[ "$repeated" -le 1 ] && pass "only the interrupted step ran twice ($repeated)" || fail "only the interrupted step ran twice" "$repeated"
seqs=$(sqlite3 "$db" "select count(distinct seq) from steps where batch_id=1")
[ "$seqs" = "$planned" ] && pass "each step recorded once" || fail "each step recorded once" "$seqs"
[ "$(sqlite3 "$db" 'select state from batches where id=1')" = completed ] && pass "resumed batch completed" || fail "resumed batch completed" "not completed"
# the lot the batch started with stays its lot (resume once wrote the recipe's over it)
[ "$(sqlite3 "$db" "select lot from solutions where batch_id=1 and name='ag'")" = LOT-CRASH-1 ] &&
    pass "resumed batch keeps its --lot" ||
    fail "resumed batch keeps its --lot" "$(sqlite3 "$db" "select name, lot from solutions where batch_id=1")"

# resume: forbidden is honoured
# (a new version: one name and version hold one text)
sed -e 's/^resume: allowed/resume: forbidden/' -e 's/^version: .*/version: "1-forbidden"/' \
    "$recipe" >"$LBL_TMP/forbidden.yaml"
"$ctl" run "$LBL_TMP/forbidden.yaml" >/dev/null 2>&1
sleep 1
kill -9 "$LBLD_PID"; wait "$LBLD_PID" 2>/dev/null
start_lbld "$LBL_TMP/rig.yaml" "$db" --time-scale $scale || exit 1
"$ctl" resume-batch 2 2>"$LBL_TMP/err" && fail "resume forbidden" "accepted" ||
    { grep -q "forbidden" "$LBL_TMP/err" && pass "resume forbidden refused with the reason" || fail "resume forbidden" "$(cat "$LBL_TMP/err")"; }
[ -z "${LBL_FAILED:-}" ]
