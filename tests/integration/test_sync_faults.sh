#!/bin/sh
# lbl-sync under faults, against a private PostgreSQL and a simulated rig:
# PostgreSQL stopped in mid-batch and started again once the batch has
# gone on (minutes of the rig's simulated time); lbld killed -9 in
# mid-batch and the batch resumed (interrupted -> running -> completed);
# lbl-sync killed -9 at random points, while a batch runs and while it
# catches up on 1,500 recorded batches; SIGTERM in mid-catch-up (exit 0,
# only whole batches central); the same batches copied twice (the cursor
# removed). After each, the central tables equal the local database row
# for row and nothing is duplicated. Then the hostile and odd: a wrong
# password, a server that refuses, files that are not lbl databases, a
# newer central schema, a cursor that cannot be written (a file size limit
# of 0: EFBIG, as a full disk gives ENOSPC) - each refused or reported
# with its context, and nothing half-written; a second lbl-sync on the same
# state directory refused.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
. "$LBL_TOP/tests/integration/pg.sh"
. "$LBL_TOP/tests/integration/sync_lib.sh"
ctl="$LBL_BUILD/lblctl"
sync="$LBL_BUILD/lbl-sync"
db1="$LBL_TMP/r1/lbl.db"
sq1() { sqlite3 "$db1" "$1"; }
central_count() { pg_sql "select count(*) from $1 where rig = '$(head -n 1 "$LBL_TMP/r$2/rig-id")'"; }
# rand LO HI: a whole number in [LO, HI]
rand() { /usr/bin/python3 -c "import random,sys; print(random.randint(int(sys.argv[1]), int(sys.argv[2])))" "$1" "$2"; }
# msleep MS
msleep() { sleep "$(/usr/bin/python3 -c "print($1 / 1000)")"; }
equal_or_fail() {
	if wait_equal "$1" "$2"; then pass "$3: central == local ($(cat "$LBL_TMP/equal.out"))"
	else fail "$3: central == local" "$(cat "$LBL_TMP/equal.out")"; fi
}

pg_start || { fail "postgresql starts" "see above"; exit 1; }
"$sync" --init --to "$PG_URI" >/dev/null || { fail "--init" "failed"; exit 1; }
rig_up 1 || exit 1
prompts_answered >/dev/null 2>&1 &
LBL_PIDS="$LBL_PIDS $!"
sync_up 1

# ---- PostgreSQL stopped in mid-batch, started again later ----
on_rig 1 "$ctl" run "$SYNC_RECIPE" --substrate f-1 --lot ag=AG-F1 >/dev/null || fail "batch 1 starts" "refused"
wait_for 30 sh -c "[ \"\$($PSQL -X -A -t -c 'select count(*) from steps where batch_id = 1 and outcome = '\"'done'\")\" -ge 2 ]" ||
    fail "batch 1 copied as it runs" "$(pg_sql 'select count(*) from steps')"
pg_stop && pass "PostgreSQL stopped in mid-batch (step $(sq1 'select last_step_seq from batches where id=1'))" ||
    fail "PostgreSQL stops" "pg_ctl stop failed"
at_stop=$(sq1 'select last_step_seq from batches where id=1')
wait_for 120 sh -c "[ \"\$(sqlite3 '$db1' 'select state from batches where id=1')\" = completed ]" &&
    pass "batch 1 completes with PostgreSQL down (steps $at_stop..$(sq1 'select last_step_seq from batches where id=1'))" ||
    fail "batch 1 completes while PostgreSQL is down" "$(sq1 'select state from batches where id=1')"
sleep 3
grep -q "central database lab on 127.0.0.1:$PG_PORT as lbl: .*\(cannot connect\|terminat\|server closed\|connection\)" "$LBL_TMP/r1/sync.err" &&
    pass "the outage reported with the database and the server's message" ||
    fail "outage reported" "$(tail -3 "$LBL_TMP/r1/sync.err")"
grep -q "trying again in [0-9]* s" "$LBL_TMP/r1/sync.err" && pass "lbl-sync backs off and retries" ||
    fail "back-off" "$(tail -3 "$LBL_TMP/r1/sync.err")"
kill -0 "$SYNC_PID_1" 2>/dev/null && pass "lbl-sync keeps running through the outage" || fail "lbl-sync survives the outage" "exited"
pg_resume || fail "PostgreSQL starts again" "see above"
equal_or_fail 1 40 "after the outage"

# ---- lbld killed -9 in mid-batch, the batch resumed ----
on_rig 1 "$ctl" run "$SYNC_RECIPE" --substrate f-2 --lot ag=AG-F2 >/dev/null || fail "batch 2 starts" "refused"
wait_for 30 sh -c "[ \"\$(sqlite3 '$db1' 'select last_step_seq from batches where id=2')\" -ge 6 ]"
wait_for 10 sh -c "[ \"\$($PSQL -X -A -t -c 'select count(*) from steps where batch_id = 2')\" -ge 4 ]"
kill -9 "$LBLD_PID_1"; wait "$LBLD_PID_1" 2>/dev/null
pass "lbld killed -9 at step $(sq1 'select last_step_seq from batches where id=2') of batch 2"
rig_up 1 || exit 1
[ "$(sq1 'select state from batches where id=2')" = interrupted ] && pass "batch 2 interrupted" || fail "batch 2 interrupted" "$(sq1 'select state from batches where id=2')"
equal_or_fail 1 20 "batch 2 interrupted"
[ "$(pg_sql 'select state from batches where id = 2')" = interrupted ] && pass "central: batch 2 interrupted" ||
    fail "central: batch 2 interrupted" "$(pg_sql 'select state from batches where id = 2')"
on_rig 1 "$ctl" resume-batch 2 --wait >"$LBL_TMP/resume.out" 2>&1 && pass "resume-batch 2 completes" ||
    fail "resume-batch 2 completes" "$(tail -3 "$LBL_TMP/resume.out")"
equal_or_fail 1 20 "batch 2 resumed and completed"
[ "$(pg_sql 'select state from batches where id = 2')" = completed ] && pass "central: batch 2 completed" ||
    fail "central: batch 2 completed" "$(pg_sql 'select state from batches where id = 2')"
[ "$(pg_sql 'select max(attempts) from steps where batch_id = 2')" = "$(sq1 'select max(attempts) from steps where batch_id = 2')" ] &&
    pass "central: the interrupted step's second attempt" || fail "central attempts" "$(pg_sql 'select seq, attempts from steps where batch_id = 2 and attempts > 1')"

# ---- lbl-sync killed -9 at random points while a batch runs ----
on_rig 1 "$ctl" run "$SYNC_RECIPE" --substrate f-3 --lot ag=AG-F3 >/dev/null || fail "batch 3 starts" "refused"
kills=""
for k in 1 2 3 4 5; do
	ms=$(rand 100 1500)
	msleep "$ms"
	kill -9 "$SYNC_PID_1"; wait "$SYNC_PID_1" 2>/dev/null
	kills="$kills ${ms}ms@step$(sq1 'select last_step_seq from batches where id=3')"
	sync_up 1
done
pass "lbl-sync killed -9 five times in batch 3:$kills"
wait_for 120 sh -c "[ \"\$(sqlite3 '$db1' 'select state from batches where id=3')\" = completed ]" ||
    fail "batch 3 completes" "$(sq1 'select state from batches where id=3')"
equal_or_fail 1 20 "after five kill -9"

# ---- the same batches copied twice ----
sync_down 1
rm -f "$LBL_TMP/r1/sync/cursor"
sync_up 1 --once; wait "$SYNC_PID_1"
sync_up 1 --once; wait "$SYNC_PID_1"
equal_or_fail 1 5 "copied again without its cursor, twice"
for t in batches steps events solutions bilayers; do
	[ "$(central_count $t 1)" = "$(sq1 "select count(*) from $t")" ] || fail "no $t duplicated" "central $(central_count $t 1), local $(sq1 "select count(*) from $t")"
done
pass "nothing duplicated ($(central_count steps 1) steps, $(central_count events 1) events)"

# ---- catching up 1,500 recorded batches: kill -9 at random points, SIGTERM ----
mkdir -p "$LBL_TMP/r9"
"$LBL_BUILD/tests/lbl-histgen" "$LBL_TMP/r9/lbl.db" 1500 1780000000 >/dev/null || fail "lbl-histgen" "failed"
kills=""
for k in 1 2 3; do
	sync_up 9
	ms=$(rand 200 1200)
	msleep "$ms"
	kill -9 "$SYNC_PID_9"; wait "$SYNC_PID_9" 2>/dev/null
	kills="$kills ${ms}ms:$(central_count batches 9)"
done
pass "catch-up killed -9 three times (after ms: batches central):$kills"
central_equal 9 --batches-present >"$LBL_TMP/equal.out" 2>&1 &&
    pass "after kill -9: every batch copied is whole ($(cat "$LBL_TMP/equal.out"))" ||
    fail "after kill -9: whole batches" "$(cat "$LBL_TMP/equal.out")"
sync_up 9
msleep "$(rand 300 900)"
t0=$(date +%s%N)
kill -TERM "$SYNC_PID_9"; wait "$SYNC_PID_9"; rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $rc = 0 ] && [ $ms -lt 10000 ] && pass "SIGTERM in mid-catch-up: status 0 in $ms ms" || fail "SIGTERM mid-copy" "status $rc after $ms ms"
grep -q "stopped" "$LBL_TMP/r9/sync.err" && pass "SIGTERM: 'stopped' logged" || fail "SIGTERM logged" "$(tail -2 "$LBL_TMP/r9/sync.err")"
central_equal 9 --batches-present >"$LBL_TMP/equal.out" 2>&1 &&
    pass "after SIGTERM: every batch copied is whole ($(central_count batches 9) of 1500 central)" ||
    fail "after SIGTERM: whole batches" "$(cat "$LBL_TMP/equal.out")"
sync_up 9 --once; wait "$SYNC_PID_9"
central_equal 9 >"$LBL_TMP/equal.out" 2>&1 && pass "catch-up finished: central == local ($(cat "$LBL_TMP/equal.out"))" ||
    fail "catch-up finished: central == local" "$(cat "$LBL_TMP/equal.out")"

# ---- a cursor that cannot be written ----
rm -f "$LBL_TMP/r1/sync/cursor"
pg_sql "delete from events where batch_id = 3 and rig = '$(head -n 1 "$LBL_TMP/r1/rig-id")'" >/dev/null
# (its log goes through a pipe: the limit would stop it in a file too)
{ (ulimit -f 0; exec "$sync" --db "$db1" --to "$PG_URI" --state-dir "$LBL_TMP/r1/sync" --rig-id "$LBL_TMP/r1/rig-id" \
    --name rig-1 --once) 2>&1; echo "status $?"; } | cat >"$LBL_TMP/full.out"
rc=$(sed -n 's/^status //p' "$LBL_TMP/full.out")
grep -q "cursor $LBL_TMP/r1/sync/cursor.*File too large" "$LBL_TMP/full.out" && pass "cursor write failure reported with file and errno" ||
    fail "cursor write failure reported" "$(cat "$LBL_TMP/full.out")"
[ $rc = 0 ] && central_equal 1 >"$LBL_TMP/equal.out" 2>&1 && pass "the copy goes on without its cursor: central == local" ||
    fail "copy without a cursor" "status $rc, $(cat "$LBL_TMP/equal.out")"
[ ! -s "$LBL_TMP/r1/sync/cursor" ] && [ ! -e "$LBL_TMP/r1/sync/cursor.tmp" ] && pass "no half-written cursor left" ||
    fail "no half-written cursor" "$(ls -l "$LBL_TMP/r1/sync")"

# ---- hostile and odd ----
bad_uri=$(echo "$PG_URI" | sed "s/:$PG_PASSWORD@/:wrong-password@/")
"$sync" --db "$db1" --to "$bad_uri" --state-dir "$LBL_TMP/r1/sync" --rig-id "$LBL_TMP/r1/rig-id" --once >"$LBL_TMP/bad.out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "central database lab on 127.0.0.1:$PG_PORT as lbl: cannot connect: .*password authentication failed" "$LBL_TMP/bad.out" &&
    ! grep -q "wrong-password" "$LBL_TMP/bad.out" && pass "wrong password: refused, said, password not printed" ||
    fail "wrong password" "status $rc: $(cat "$LBL_TMP/bad.out")"
port=$(free_port)
"$sync" --db "$db1" --to "postgresql://lbl@127.0.0.1:$port/lab" --state-dir "$LBL_TMP/r1/sync" --rig-id "$LBL_TMP/r1/rig-id" --once >"$LBL_TMP/bad.out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "127.0.0.1:$port.*cannot connect: .*refused" "$LBL_TMP/bad.out" && pass "a server that refuses: said" ||
    fail "refusing server" "status $rc: $(cat "$LBL_TMP/bad.out")"
"$sync" --db "$db1" --to "postgresql://nobody-here:pw@127.0.0.1:$PG_PORT/lab" --state-dir "$LBL_TMP/r1/sync" --rig-id "$LBL_TMP/r1/rig-id" --once >"$LBL_TMP/bad.out" 2>&1
[ $? = 1 ] && grep -q "cannot connect: .*password authentication failed for user \"nobody-here\"" "$LBL_TMP/bad.out" && pass "an unknown role: the server's refusal said" ||
    fail "unknown role" "$(cat "$LBL_TMP/bad.out")"
echo "not a database" >"$LBL_TMP/text.db"
sqlite3 "$LBL_TMP/empty.db" "create table t (x)"
for f in text.db empty.db missing.db; do
	"$sync" --db "$LBL_TMP/$f" --to "$PG_URI" --state-dir "$LBL_TMP/r1/sync" --rig-id "$LBL_TMP/r1/rig-id" --once >"$LBL_TMP/bad.out" 2>&1
	rc=$?
	case $f in
	missing.db) want="database $LBL_TMP/$f: cannot open it read-only" ;;
	*) want="database $LBL_TMP/$f is not an lbl database" ;;
	esac
	[ $rc = 1 ] && grep -q "$want" "$LBL_TMP/bad.out" && pass "$f: refused ('$want')" || fail "$f refused" "status $rc: $(cat "$LBL_TMP/bad.out")"
done
[ ! -e "$LBL_TMP/missing.db" ] && pass "a missing database is not made" || fail "missing database" "created"
pg_sql "update lbl_sync_schema set version = 99" >/dev/null
"$sync" --db "$db1" --to "$PG_URI" --state-dir "$LBL_TMP/r1/sync" --rig-id "$LBL_TMP/r1/rig-id" --once >"$LBL_TMP/bad.out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "central schema is version 99 (record version 4), newer than this lbl-sync knows (1, record 4): refusing" "$LBL_TMP/bad.out" &&
    pass "a newer central schema: refused clearly" || fail "newer central schema" "status $rc: $(cat "$LBL_TMP/bad.out")"
"$sync" --init --to "$PG_URI" >"$LBL_TMP/bad.out" 2>&1
[ $? = 1 ] && grep -q "newer than this lbl-sync knows" "$LBL_TMP/bad.out" && pass "--init refuses a newer schema too" ||
    fail "--init on a newer schema" "$(cat "$LBL_TMP/bad.out")"
pg_sql "update lbl_sync_schema set version = 1" >/dev/null
pg_sql "alter table steps drop column dwell_ms" >/dev/null
"$sync" --db "$db1" --to "$PG_URI" --state-dir "$LBL_TMP/r1/sync" --rig-id "$LBL_TMP/r1/rig-id" --once >"$LBL_TMP/bad.out" 2>&1
[ $? = 1 ] && grep -q "central table steps has no column dwell_ms" "$LBL_TMP/bad.out" && pass "a central table missing a column: refused by name" ||
    fail "central column missing" "$(cat "$LBL_TMP/bad.out")"
"$sync" --init --to "$PG_URI" >"$LBL_TMP/bad.out" 2>&1 && grep -q "1 columns added" "$LBL_TMP/bad.out" &&
    pass "--init adds the missing column" || fail "--init adds the column" "$(cat "$LBL_TMP/bad.out")"
echo "not-a-uuid" >"$LBL_TMP/bad-id"
"$sync" --db "$db1" --to "$PG_URI" --state-dir "$LBL_TMP/r1/sync" --rig-id "$LBL_TMP/bad-id" --once >"$LBL_TMP/bad.out" 2>&1
[ $? = 1 ] && grep -q "rig identity $LBL_TMP/bad-id: expected one line with a UUID" "$LBL_TMP/bad.out" && pass "a bad rig identity refused" ||
    fail "bad rig identity" "$(cat "$LBL_TMP/bad.out")"
# one lbl-sync per state directory: a second one would fight over the cursor
sync_up 1
# the lock file stays from earlier runs (with their pids): wait for this one's
wait_for 10 grep -qx "$SYNC_PID_1" "$LBL_TMP/r1/sync/lbl-sync.lock"
"$sync" --db "$db1" --to "$PG_URI" --state-dir "$LBL_TMP/r1/sync" --rig-id "$LBL_TMP/r1/rig-id" --once >"$LBL_TMP/bad.out" 2>&1
[ $? = 1 ] && grep -q "another lbl-sync (pid $SYNC_PID_1) copies with the state directory $LBL_TMP/r1/sync" "$LBL_TMP/bad.out" &&
    pass "a second lbl-sync on the same state directory refused, naming the first" || fail "second lbl-sync" "$(cat "$LBL_TMP/bad.out")"
sync_down 1
sync_up 1 --once; wait "$SYNC_PID_1"
equal_or_fail 1 5 "at the end"
for n in 1 9; do sanitizer_clean "$LBL_TMP/r$n/sync.err" "rig $n lbl-sync"; done
[ -z "${LBL_FAILED:-}" ]
