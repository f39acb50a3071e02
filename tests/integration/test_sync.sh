#!/bin/sh
# lbl-sync end to end: a private PostgreSQL cluster, two lbl-simrig rigs,
# each with its lbld and its lbl-sync. The central schema is made (and made
# again: nothing changes); a running batch reaches the central database as
# it goes, within seconds; when the batches have ended, the central tables
# equal both local databases row for row, every column; the lab-wide
# history (lblctl history --server) lists both rigs with lblctl's filters;
# README's lab-wide queries run and agree with the local records; lbl-sync
# reads the database as a separate user in group lbl, through WAL, with
# the directory and the -shm file read-only to it; SIGTERM stops it cleanly.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
. "$LBL_TOP/tests/integration/pg.sh"
. "$LBL_TOP/tests/integration/sync_lib.sh"
ctl="$LBL_BUILD/lblctl"
sync="$LBL_BUILD/lbl-sync"

pg_start || { fail "postgresql starts" "see above"; exit 1; }
pass "private PostgreSQL on 127.0.0.1:$PG_PORT"
"$sync" --init --to "$PG_URI" >"$LBL_TMP/init.out" 2>&1 && grep -q "8 tables made" "$LBL_TMP/init.out" &&
    pass "--init makes the central schema" || fail "--init makes the central schema" "$(cat "$LBL_TMP/init.out")"
"$sync" --init --to "$PG_URI" >"$LBL_TMP/init.out" 2>&1 && grep -q "0 tables made, 0 columns added" "$LBL_TMP/init.out" &&
    pass "--init again changes nothing" || fail "--init again changes nothing" "$(cat "$LBL_TMP/init.out")"
[ "$(pg_sql "SELECT version, record_version FROM lbl_sync_schema")" = "1|4" ] &&
    pass "central schema versioned (1, record 4)" || fail "central schema versioned" "$(pg_sql "SELECT * FROM lbl_sync_schema")"

rig_up 1 || exit 1
rig_up 2 || exit 1
prompts_answered >/dev/null 2>&1 &
LBL_PIDS="$LBL_PIDS $!"
sync_up 1
sync_up 2

# ---- a running batch is copied as it goes ----
on_rig 1 "$ctl" run "$SYNC_RECIPE" --substrate tex-1 --operator ana --lot ag=AG-2611-01 >/dev/null ||
    fail "rig 1 batch starts" "refused"
on_rig 2 "$ctl" run "$SYNC_RECIPE" --substrate tex-2 --operator ben --lot ag=AG-2611-01 >/dev/null ||
    fail "rig 2 batch starts" "refused"
wait_for 30 sh -c "[ \"\$(sqlite3 '$LBL_TMP/r1/lbl.db' 'select last_step_seq from batches where id=1')\" -ge 4 ]"
t0=$(date +%s)
wait_for 10 sh -c "[ \"\$($PSQL -X -A -t -c \"select count(*) from steps s join rigs g on g.uuid = s.rig where g.name = 'rig-1' and s.batch_id = 1 and s.outcome = 'done'\")\" -ge 4 ]" &&
    pass "running batch's steps copied within $(( $(date +%s) - t0 + 1 )) s" ||
    fail "running batch copied as it goes" "central: $(pg_sql "select count(*) from steps")"
state=$(pg_sql "select b.state from batches b join rigs g on g.uuid = b.rig where g.name = 'rig-1' and b.id = 1")
local_state=$(sqlite3 "$LBL_TMP/r1/lbl.db" "select state from batches where id = 1")
case "$state" in running|paused) pass "central shows batch 1 $state while it runs" ;;
*) [ "$local_state" = completed ] && pass "central batch state (ended already: $state)" ||
    fail "central shows the batch running" "central '$state', local '$local_state'" ;; esac

# ---- more batches: two more on rig 1, one more on rig 2, one aborted ----
wait_for 120 sh -c "on_done() { [ \"\$(sqlite3 \"\$1\" \"select count(*) from batches where state in ('running','paused')\")\" = 0 ]; }; on_done '$LBL_TMP/r1/lbl.db' && on_done '$LBL_TMP/r2/lbl.db'" ||
    fail "first batches end" "still running"
on_rig 1 "$ctl" run "$SYNC_RECIPE" --substrate tex-3 --operator ana --lot ag=AG-2611-02 --wait >/dev/null 2>&1 ||
    fail "rig 1 batch 2 completes" "failed"
on_rig 2 "$ctl" run "$SYNC_RECIPE" --substrate tex-4 --operator ben --lot ag=AG-2611-01 >/dev/null 2>&1
wait_for 30 sh -c "[ \"\$(sqlite3 '$LBL_TMP/r2/lbl.db' 'select last_step_seq from batches where id=2')\" -ge 3 ]"
on_rig 2 "$ctl" abort >/dev/null 2>&1
wait_for 60 sh -c "[ \"\$(sqlite3 '$LBL_TMP/r2/lbl.db' 'select state from batches where id=2')\" = aborted ]" &&
    pass "rig 2 batch 2 aborted" || fail "rig 2 batch 2 aborted" "$(sqlite3 "$LBL_TMP/r2/lbl.db" 'select state from batches where id=2')"

# ---- central == local, row for row, both rigs ----
for n in 1 2; do
	if wait_equal $n 20; then pass "rig $n: central == local ($(cat "$LBL_TMP/equal.out"))"
	else fail "rig $n: central == local" "$(cat "$LBL_TMP/equal.out")"; fi
done
rigs=$(pg_sql "select name from rigs order by name" | tr '\n' ' ')
[ "$rigs" = "rig-1 rig-2 " ] && pass "rigs table: rig-1 rig-2" || fail "rigs table" "$rigs"
[ "$(pg_sql "select count(distinct uuid) from rigs")" = 2 ] && pass "two rig identities" || fail "two rig identities" "$(pg_sql "select * from rigs")"

# ---- the lab-wide history ----
"$ctl" history --server "$PG_URI" >"$LBL_TMP/hist.out" 2>&1 && pass "lblctl history --server runs" ||
    fail "lblctl history --server runs" "$(cat "$LBL_TMP/hist.out")"
[ "$(grep -c '^rig-[12] ' "$LBL_TMP/hist.out")" = 4 ] && pass "history lists 4 batches of 2 rigs" ||
    fail "history lists 4 batches of 2 rigs" "$(cat "$LBL_TMP/hist.out")"
head -n 1 "$LBL_TMP/hist.out" | grep -q '^RIG  *ID  *RECIPE' && pass "history has a rig column" ||
    fail "history has a rig column" "$(head -n 1 "$LBL_TMP/hist.out")"
"$ctl" history --server "$PG_URI" --state aborted >"$LBL_TMP/hist.out" 2>&1
[ "$(grep -c '^rig-2 .* aborted ' "$LBL_TMP/hist.out")" = 1 ] && [ "$(grep -c '^rig-' "$LBL_TMP/hist.out")" = 1 ] &&
    pass "history --state aborted" || fail "history --state aborted" "$(cat "$LBL_TMP/hist.out")"
"$ctl" history --server "$PG_URI" --substrate tex-3 --recipe ag-tca-5 --since yesterday --limit 5 >"$LBL_TMP/hist.out" 2>&1
[ "$(grep -c '^rig-1 .*tex-3' "$LBL_TMP/hist.out")" = 1 ] && [ "$(grep -c '^rig-' "$LBL_TMP/hist.out")" = 1 ] &&
    pass "history --substrate --recipe --since --limit" || fail "history filters" "$(cat "$LBL_TMP/hist.out")"
"$ctl" history --server "$PG_URI" --limit 2 --json >"$LBL_TMP/hist.json" 2>&1
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d)==2 and all(x["rig"].startswith("rig-") and x["id"] >= 1 for x in d)' "$LBL_TMP/hist.json" &&
    pass "history --json (2 rows, with rig)" || fail "history --json" "$(head -c 300 "$LBL_TMP/hist.json")"
"$ctl" history --server "$PG_URI" --state finished >"$LBL_TMP/hist.out" 2>&1
[ $? = 2 ] && grep -q "state" "$LBL_TMP/hist.out" && pass "history --state finished refused" ||
    fail "history --state finished refused" "$(cat "$LBL_TMP/hist.out")"
"$ctl" history --server "$PG_URI" --since 2026-02-30 >"$LBL_TMP/hist.out" 2>&1
[ $? = 2 ] && pass "history --since 2026-02-30 refused" || fail "history bad date refused" "$(cat "$LBL_TMP/hist.out")"

# ---- README's lab-wide queries, as written there ----
/usr/bin/python3 - "$LBL_TOP/README.md" "$LBL_TMP/q" <<'PY' || fail "README queries extracted" "none found"
import re, sys
text = open(sys.argv[1]).read()
sec = text.split("### One history: lbl-sync and PostgreSQL", 1)[1].split("\n## ", 1)[0]
blocks = re.findall(r"```sql\n(.*?)```", sec, re.S)
queries = [q.strip() for b in blocks for q in b.split(";") if q.strip() and not all(
    l.strip().startswith("--") or not l.strip() for l in q.strip().splitlines())]
for i, q in enumerate(queries):
    open("%s%d.sql" % (sys.argv[2], i + 1), "w").write(q + ";\n")
sys.exit(0 if len(queries) >= 3 else 1)
PY
for f in "$LBL_TMP"/q*.sql; do
	pg_as cat "$f" >/dev/null 2>&1 || chmod 0644 "$f"
	$PSQL -X -A -t -F '|' -v ON_ERROR_STOP=1 -f "$f" >"$f.out" 2>&1 || fail "README query $(basename "$f")" "$(cat "$f.out")"
done
# outcomes per recipe across rigs: ag-tca-5 on rig-1 (2 completed) and rig-2 (1 completed, 1 not)
grep -qx 'ag-tca-5|rig-1|2|2|0' "$LBL_TMP/q1.sql.out" && grep -qx 'ag-tca-5|rig-2|2|1|1' "$LBL_TMP/q1.sql.out" &&
    pass "README: outcomes per recipe across rigs" || fail "README: outcomes per recipe" "$(cat "$LBL_TMP/q1.sql.out")"
lot_local=$(( $(sqlite3 "$LBL_TMP/r1/lbl.db" "select count(*) from solutions where lot='AG-2611-01'") + \
    $(sqlite3 "$LBL_TMP/r2/lbl.db" "select count(*) from solutions where lot='AG-2611-01'") ))
[ "$(wc -l <"$LBL_TMP/q2.sql.out")" = "$lot_local" ] && [ "$lot_local" = 3 ] &&
    pass "README: every batch of lot AG-2611-01 (3, two rigs)" || fail "README: every batch of a lot" "$lot_local local: $(cat "$LBL_TMP/q2.sql.out")"
[ "$(cut -d'|' -f1,2 "$LBL_TMP/q3.sql.out" | tr '\n' ' ')" = "rig-1|2 rig-2|1 " ] &&
    pass "README: thickness against rig for one recipe" || fail "README: thickness against rig" "$(cat "$LBL_TMP/q3.sql.out")"

# ---- read-only access as another user in group lbl, through WAL ----
if test_users; then
	d="$LBL_TMP/r1"
	# as the package has it, but stricter: the directory and every file (the
	# -shm too) readable, not writable, by the group
	chgrp lbl "$d" "$d/lbl.db" "$d/lbl.db-wal" "$d/lbl.db-shm" && chmod 0750 "$d" &&
	    chmod 0640 "$d/lbl.db" "$d/lbl.db-wal" "$d/lbl.db-shm"
	mkdir -p "$LBL_TMP/ro-state" && chown "$OPERATOR_UID" "$LBL_TMP/ro-state"
	cp "$d/rig-id" "$LBL_TMP/ro-rig-id" && chmod 0644 "$LBL_TMP/ro-rig-id"
	sum=$(sha256sum "$d/lbl.db" | cut -d' ' -f1)
	# a batch runs meanwhile, so the WAL and -shm are live
	on_rig 1 "$ctl" run "$SYNC_RECIPE" --substrate tex-ro --operator ana >/dev/null 2>&1
	wait_for 30 sh -c "[ \"\$(sqlite3 '$d/lbl.db' 'select last_step_seq from batches where id=3')\" -ge 2 ]"
	if as_operator "$sync" --db "$d/lbl.db" --to "$PG_URI" --state-dir "$LBL_TMP/ro-state" \
	    --rig-id "$LBL_TMP/ro-rig-id" --name rig-1 --once >"$LBL_TMP/ro.out" 2>&1; then
		pass "lbl-sync reads the live WAL database as a group-lbl user, -shm read-only"
	else
		fail "read-only WAL access as a group-lbl user" "$(tail -3 "$LBL_TMP/ro.out")"
	fi
	[ "$(stat -c %a "$d/lbl.db-shm")" = 640 ] && pass "-shm still 0640" || fail "-shm mode" "$(stat -c %a "$d/lbl.db-shm")"
	[ -z "$(find "$d" -newer "$LBL_TMP/ro.out" -user "$OPERATOR_UID")" ] &&
	    pass "the reader made no file beside the database" || fail "reader wrote" "$(find "$d" -user "$OPERATOR_UID")"
	wait_for 120 sh -c "[ \"\$(sqlite3 '$d/lbl.db' 'select state from batches where id=3')\" = completed ]"
	chmod 0755 "$d"
fi
[ -z "${sum:-}" ] || true

# ---- SIGTERM: a clean exit ----
for n in 1 2; do
	pid=$(eval echo \$SYNC_PID_$n)
	kill -TERM "$pid"
	i=0; while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	wait "$pid"; rc=$?
	[ $rc = 0 ] && grep -q "stopped" "$LBL_TMP/r$n/sync.err" && pass "rig $n: lbl-sync stops on SIGTERM (status 0)" ||
	    fail "rig $n: lbl-sync stops on SIGTERM" "status $rc: $(tail -2 "$LBL_TMP/r$n/sync.err")"
done
# lbld stopped cleanly, the last to close the database, takes its -wal and
# -shm away; a reader that may not make them again waits for lbld, saying so
if [ -n "${OPERATOR_UID:-}" ]; then
	d="$LBL_TMP/r1"
	chmod 0750 "$d"
	kill -TERM "$LBLD_PID_1"; wait "$LBLD_PID_1" 2>/dev/null
	if [ ! -e "$d/lbl.db-wal" ]; then
		as_operator "$sync" --db "$d/lbl.db" --to "$PG_URI" --state-dir "$LBL_TMP/ro-state" \
		    --rig-id "$LBL_TMP/ro-rig-id" --name rig-1 --once >"$LBL_TMP/ro.out" 2>&1
		rc=$?
		[ $rc = 1 ] && grep -q "lbld is not running (no $d/lbl.db-wal, which a reader without write access cannot make)" "$LBL_TMP/ro.out" &&
		    pass "lbld stopped: the read-only reader says it waits for lbld" ||
		    fail "lbld stopped: the reader says why it waits" "status $rc: $(cat "$LBL_TMP/ro.out")"
	else
		fail "lbld stopped last removes its -wal" "$(ls "$d")"
	fi
	chmod 0755 "$d"
fi
# what the running one copied of batch 3, once more from its cursor
sync_up 1 --once
wait "$SYNC_PID_1"
central_equal 1 >"$LBL_TMP/equal.out" 2>&1 && pass "rig 1 after restart: central == local ($(cat "$LBL_TMP/equal.out"))" ||
    fail "rig 1 after restart: central == local" "$(cat "$LBL_TMP/equal.out")"
for n in 1 2; do sanitizer_clean "$LBL_TMP/r$n/sync.err" "rig $n lbl-sync"; done
[ -z "${LBL_FAILED:-}" ]
