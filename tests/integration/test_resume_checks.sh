#!/bin/sh
# resume-batch checks that going on is still what the recipe meant: the rig
# file may not have changed under a batch in anything it relies on (unless
# the operator accepts it, which is recorded), and a recipe may bound how
# long an interrupted batch stays resumable (resume: {within: ...}).
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
scale=100
make_rig dip-rig.yaml "$LBL_TMP/rig.yaml"
db="$LBL_TMP/lbl.db"
recipe="$LBL_TOP/recipes/examples/ag-tca-5-dip.yaml"
start_simrig "$LBL_TMP/rig.yaml" --time-scale $scale || exit 1
start_lbld "$LBL_TMP/rig.yaml" "$db" --time-scale $scale || exit 1
answer_prompts >/dev/null 2>&1 &
LBL_PIDS="$LBL_PIDS $!"
crash() { # kill -9 once batch $1 is past step 3, then start lbld again on rig $2
	wait_for 30 sh -c "[ \"\$(sqlite3 '$db' 'select last_step_seq from batches where id=$1')\" -ge 3 ]"
	kill -9 "$LBLD_PID"; wait "$LBLD_PID" 2>/dev/null
	start_lbld "$2" "$db" --time-scale $scale || exit 1
}

# ---- a changed station under a batch ----
"$ctl" run "$recipe" --operator ci >/dev/null || fail "run 1" "refused"
sed 's/^  tca: *{kind: beaker, x: 200 mm/  tca:     {kind: beaker, x: 210 mm/' "$LBL_TMP/rig.yaml" >"$LBL_TMP/moved.yaml"
grep -q 'x: 210 mm' "$LBL_TMP/moved.yaml" || fail "the moved rig" "sed changed nothing"
crash 1 "$LBL_TMP/moved.yaml"
out=$("$ctl" resume-batch 1 2>&1) && fail "resume after a moved station is refused" "accepted" ||
    { echo "$out" | grep -q "station 'tca' changed" && echo "$out" | grep -q -- "--accept-rig-change" &&
      pass "resume after a moved station is refused, naming it and the way on" ||
      fail "resume after a moved station is refused, naming it" "$out"; }
[ "$(sqlite3 "$db" 'select state from batches where id=1')" = interrupted ] &&
    pass "the refusal changes nothing" || fail "the refusal changes nothing" "$(sqlite3 "$db" 'select state from batches where id=1')"
"$ctl" resume-batch 1 --accept-rig-change >/dev/null 2>&1 && pass "--accept-rig-change goes on" ||
    fail "--accept-rig-change goes on" "refused"
[ "$(sqlite3 "$db" "select count(*) from events where batch_id=1 and message like 'resumed with a changed rig file%tca%'")" = 1 ] &&
    pass "the accepted change is an event" || fail "the accepted change is an event" "none"
"$ctl" abort >/dev/null 2>&1
wait_for 20 sh -c "\"$ctl\" status | grep -q '^state: idle'"

# ---- the same rig text: no question asked ----
"$ctl" run "$recipe" --operator ci >/dev/null || fail "run 2" "refused"
crash 2 "$LBL_TMP/moved.yaml"
"$ctl" resume-batch 2 >/dev/null 2>&1 && pass "the same rig file resumes without question" ||
    fail "the same rig file resumes" "refused"
"$ctl" abort >/dev/null 2>&1
wait_for 20 sh -c "\"$ctl\" status | grep -q '^state: idle'"

# ---- resume: {allowed: true, within: 200s}: 2 s of wall time at scale 100 ----
# (a new version: one name and version hold one text)
sed -e 's/^resume: allowed/resume: {allowed: true, within: 200s}/' \
    -e 's/^version: .*/version: "1-within"/' "$recipe" >"$LBL_TMP/within.yaml"
"$ctl" check "$LBL_TMP/within.yaml" --rig "$LBL_TMP/moved.yaml" >/dev/null 2>&1 || fail "resume: {within} is valid" "refused"
"$ctl" run "$LBL_TMP/within.yaml" --operator ci >/dev/null || fail "run 3" "refused"
crash 3 "$LBL_TMP/moved.yaml"
sleep 3
out=$("$ctl" resume-batch 3 2>&1) && fail "resume past the window is refused" "accepted" ||
    { echo "$out" | grep -q "within 3m20s only" && pass "resume past the window is refused, naming the window" ||
      fail "resume past the window is refused, naming it" "$out"; }
"$ctl" run "$LBL_TMP/within.yaml" --operator ci >/dev/null || fail "run 4" "refused"
crash 4 "$LBL_TMP/moved.yaml"
"$ctl" resume-batch 4 >/dev/null 2>&1 && pass "resume inside the window goes on" || fail "resume inside the window" "refused"
"$ctl" abort >/dev/null 2>&1
printf 'resume: {allowed: false, within: 1h}\n' >"$LBL_TMP/bad.yaml"
sed 's/^resume: allowed/resume: {allowed: false, within: 1h}/' "$recipe" >"$LBL_TMP/bad.yaml"
"$ctl" check "$LBL_TMP/bad.yaml" 2>"$LBL_TMP/err" >/dev/null && fail "within without allowed is refused" "accepted" ||
    { grep -q "bad.yaml:[0-9]*:[0-9]*: error: 'within' bounds a resume that is allowed" "$LBL_TMP/err" &&
      pass "within without allowed is refused with FILE:LINE:COL" || fail "within without allowed" "$(cat "$LBL_TMP/err")"; }
[ -z "${LBL_FAILED:-}" ]
