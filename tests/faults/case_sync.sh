# Fault campaign case (sourced by campaign.sh): lbl-sync's faults never
# reach the rig. A batch runs with lbl-sync copying it to a private
# PostgreSQL (tests/integration/pg.sh); mid-batch PostgreSQL crashes
# (pg_ctl stop -m immediate: no shutdown, as a power cut of the server),
# lbl-sync is killed -9 while it is down and started again, and the server
# comes back minutes later in the rig's simulated time. The batch must run
# on and complete untouched, its record whole; once the server is back the
# central copy equals the local record row for row, nothing duplicated.

. "$LBL_TOP/tests/integration/pg.sh"
begin_case
name="lbl-sync: the lab's server crashes mid-batch"
if ! pg_start; then
	fail "$name" "PostgreSQL did not start"
	end_case 3
else
	"$LBL_BUILD/lbl-sync" --init --to "$PG_URI" >/dev/null || fail "$name" "lbl-sync --init failed"
	start_rig sync 200 || exit 1
	mkdir -p "$dir/sync"
	sync_start() {
		"$LBL_BUILD/lbl-sync" --db "$db" --to "$PG_URI" --state-dir "$dir/sync" \
		    --rig-id "$dir/rig-id" --name campaign 2>>"$dir/sync.err" &
		SYNC_PID=$!
		LBL_PIDS="$LBL_PIDS $SYNC_PID"
	}
	sync_start
	"$ctl" run "$recipe" --operator campaign --lot ag=AG-CAMPAIGN >/dev/null || fail "$name" "run refused"
	running_past 3
	wait_for 10 sh -c "[ \"\$($PSQL -X -A -t -c 'select count(*) from steps')\" -ge 2 ]" ||
	    fail "$name: copied as it runs" "$(pg_sql 'select count(*) from steps')"
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
	at=$(q 'select last_step_seq from batches where id=1')
	sleep 1
	kill -9 "$SYNC_PID"; wait "$SYNC_PID" 2>/dev/null
	sync_start
	running_past $((at + 4)) && pass "$name: the batch runs on (step $at to $(q 'select last_step_seq from batches where id=1') with the server down)" ||
	    fail "$name: the batch runs on" "stuck at step $(q 'select last_step_seq from batches where id=1')"
	sleep 2
	pg_resume || fail "$name" "PostgreSQL did not start again"
	wait_for 120 sh -c "[ \"\$(sqlite3 '$db' 'select state from batches where id=1')\" = completed ]" &&
	    pass "$name: the batch completes" || fail "$name: the batch completes" "state $(state_of)"
	ok=0
	for t in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30; do
		# shellcheck disable=SC2086
		/usr/bin/python3 "$LBL_TOP/tests/integration/sync_compare.py" "$db" "$(head -n 1 "$dir/rig-id")" \
		    $PSQL >"$dir/equal.out" 2>&1 && { ok=1; break; }
		sleep 1
	done
	[ $ok = 1 ] && pass "$name: central == local once the server is back ($(cat "$dir/equal.out"))" ||
	    fail "$name: central == local" "$(cat "$dir/equal.out")"
	settled "sync"
	kill "$SYNC_PID" 2>/dev/null; wait "$SYNC_PID" 2>/dev/null
	stop_rig
	pg_cleanup
	end_case 3
fi
