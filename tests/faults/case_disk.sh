# Fault campaign case: the disk stops syncing (an SD card dying under a
# run, returning EIO). Every step boundary of a batch is committed to the
# database's log without waiting for the disk and synced by a thread
# beside the loop (db/db_sync.c); when that sync fails, the record may not
# be on the disk, and the batch must fail safely saying so, not run on as
# if it were. The shim fails only read-only descriptors' fdatasync, which
# is the syncer's: SQLite's own syncs go on working, so the failure is
# recorded. Sourced by campaign.sh (uses its helpers, case_bus.sh's
# estop_stops and case_commission.sh's fill_running).

begin_case
name="the log's sync fails (EIO) mid-batch"
if cc -shared -fPIC -o "$LBL_TMP/sync_fail.so" "$LBL_TOP/tests/integration/slow_sync.c" -ldl
then
	LBLD_ENV="LD_PRELOAD=$LBL_TMP/sync_fail.so LBL_SLOW_SYNC_MS=0 LBL_SYNC_FAIL_READONLY=1 ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	start_rig syncfail 100 || exit 1
	LBLD_ENV=
	"$ctl" run "$recipe" --operator campaign >/dev/null 2>&1 || fail "$name" "run refused"
	# the first such boundary: the first step's start (the prompt), or the
	# dip after it should the prompt be answered within the sync's check
	failed_soon 60 && pass "$name: batch failed" || fail "$name: batch failed" "state $(state_of)"
	cause=$(q "select failure_cause from batches where id=1")
	echo "$cause" | grep -q "syncing its write-ahead log .*lbl.db-wal failed: Input/output error" &&
	    pass "$name: the cause names the log and the disk's error" ||
	    fail "$name: the cause names the log and the disk's error" "'$cause'"
	grep -q "syncing its write-ahead log .* failed: Input/output error" "$LBL_TMP/lbld.err" &&
	    pass "$name: lbld's log says it" ||
	    fail "$name: lbld's log says it" "$(grep -i sync "$LBL_TMP/lbld.err" | tail -3)"
	case "$(q "select group_concat(seq) from steps where batch_id=1 and outcome='failed'")" in
	1|2) true ;; *) false ;; esac &&
	    pass "$name: the step whose start's sync failed is the one failed (the first: the prompt or the dip after it)" ||
	    fail "$name: the step whose start's sync failed is the one failed" "$(q "select seq, kind, outcome from steps where batch_id=1" | tr '\n' ' ')"
	wait_for 30 parked && pass "$name: substrate withdrawn and parked" ||
	    fail "$name: substrate withdrawn and parked" "$(park_why)"
	settled "$name"
	stop_rig
else
	fail "$name" "the shim does not build"
fi
end_case

# The disk hangs mid-batch: every sync 12 s (an SD card stalled in its own
# housekeeping, a hung network disk). No write of lbld's waits for the
# disk, so neither does the event loop: lbld answers status at once while
# the disk hangs and the steps go on, with the record in the log; the
# record's watch counts the stall, and after 10 s without a sync
# (RECORD_HOLD_MS) the batch fails safely saying its last writes may not
# be on the disk, its failure on record at once (it waited a whole
# sync more when a batch's events and end waited for the disk). When the
# loop waited for a boundary's sync, it sat in fsync as long as the disk
# did: no status, no step, no reaction to anything but what the hardware
# layer's own threads do.
#
# start_hang_rig NAME SCALE: start_rig with lbld's every sync taking 12 s
# while the file $hang exists (slow_sync.c preloaded); 1 when the shim
# does not build.
start_hang_rig() {
	hang="$LBL_TMP/disk-hangs-$1"
	rm -f "$hang"
	cc -shared -fPIC -o "$LBL_TMP/sync_hang.so" "$LBL_TOP/tests/integration/slow_sync.c" -ldl ||
	    return 1
	LBLD_ENV="LD_PRELOAD=$LBL_TMP/sync_hang.so LBL_SLOW_SYNC_MS=12000 LBL_SLOW_SYNC_WHEN=$hang ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	start_rig "$1" "$2" || exit 1
	LBLD_ENV=
}
begin_case
name="the disk hangs mid-batch"
if start_hang_rig synchang 100
then
	"$ctl" run "$recipe" --operator campaign >/dev/null 2>&1 || fail "$name" "run refused"
	wait_for 60 sh -c "[ \"\$(sqlite3 '$db' \"select count(*) from steps where batch_id=1 and outcome='done'\")\" -ge 2 ]" ||
	    fail "$name" "the batch did not get going"
	done0=$(q "select count(*) from steps where batch_id=1 and outcome='done'")
	touch "$hang"
	hung_at=$(date +%s)
	sleep 1
	timeout 2 "$ctl" status >/dev/null 2>&1 &&
	    pass "$name: lbld answers status while the disk hangs" ||
	    fail "$name: lbld answers status while the disk hangs" "no answer within 2 s"
	sleep 4
	timeout 2 "$ctl" status >"$LBL_TMP/hang-status" 2>&1 &&
	    grep -q "running\|waiting" "$LBL_TMP/hang-status" &&
	    pass "$name: ... 5 s into the hang, the batch still running" ||
	    fail "$name: ... 5 s into the hang, the batch still running" "$(head -3 "$LBL_TMP/hang-status")"
	failed_soon 60 && pass "$name: batch failed" || fail "$name: batch failed" "state $(state_of)"
	took=$(($(date +%s) - hung_at))
	[ "$took" -lt 20 ] &&
	    pass "$name: the failure on record without waiting for the disk ($took s after the hang; the watch's bound is 10 s, a sync 12 s)" ||
	    fail "$name: the failure on record without waiting for the disk" "$took s after the hang"
	rm -f "$hang"
	cause=$(q "select failure_cause from batches where id=1")
	echo "$cause" | grep -q "the disk has not synced the database's log for [0-9]* s" &&
	    pass "$name: the cause says the disk has not synced" ||
	    fail "$name: the cause says the disk has not synced" "'$cause'"
	[ "$(q "select count(*) from steps where batch_id=1 and outcome='done'")" -gt "$done0" ] &&
	    pass "$name: steps went on while the disk hung (until the watch's bound)" ||
	    fail "$name: steps went on while the disk hung" "$done0 done before, as many after"
	settled "$name"
	stop_rig
else
	fail "$name" "the shim does not build"
fi
end_case

# The disk hangs while an operator works the rig by hand (no batch): a
# pump filling, then another manual command, whose operator event is
# committed while every sync takes 12 s, then the e-stop. lbld's database
# waits for the disk in no commit (db_no_wait): the event is in the log at
# once and the syncer makes it durable beside the loop, so the loop answers
# and stops every output at the e-stop as on a healthy disk. Before, only a
# running batch's writes went so: the event's commit sat in fsync in the
# event loop, lblctl had no answer within 5 s and the e-stop had not
# reached the pump 10 s after the press (lbl-safe only acts once lbld is
# gone, systemd's watchdog only after WatchdogSec).
begin_case
name="the disk hangs during manual control"
if start_hang_rig manualhang 1
then
	# the pump runs while this lblctl waits (off when it ends)
	"$ctl" set fill-1 on --for 60s >/dev/null 2>&1 &
	fill_pid=$!
	wait_for 10 fill_running 1 || fail "$name" "fill-1 did not start: $(simctl get fill-1)"
	ops=$(q "select count(*) from events where kind='operator'")
	touch "$hang"
	hung_at=$(date +%s)
	t0=$(date +%s%N)
	timeout 10 "$ctl" set n2 on --for 1s >"$LBL_TMP/hang-set" 2>&1 &
	set_pid=$!
	sleep 0.5
	timeout 3 "$ctl" status >/dev/null 2>&1 &&
	    pass "$name: lbld answers status while the disk hangs" ||
	    fail "$name: lbld answers status while the disk hangs" "no answer within 3 s"
	out=$(estop_stops fill-1)
	ms=${out%% *}
	echo "info: $name: fill-1 stopped ${out#* } ms after the e-stop, the disk hanging"
	[ "$ms" -le 1000 ] &&
	    pass "$name: the e-stop stops the pump at once ($ms ms; within 1 s)" ||
	    fail "$name: the e-stop stops the pump at once" "$out"
	wait "$set_pid"
	set_ms=$((($(date +%s%N) - t0) / 1000000))
	grep -q "set 'n2' off after .*e-stop 'estop' engaged" "$LBL_TMP/hang-set" && [ "$set_ms" -lt 5000 ] &&
	    pass "$name: the manual set answered and ended by the e-stop (after $set_ms ms; the e-stop 0.5 s in)" ||
	    fail "$name: the manual set answered and ended by the e-stop within 5 s" "after $set_ms ms: $(cat "$LBL_TMP/hang-set")"
	wait_for 20 grep -q "the disk has not synced the database's log for [0-9]* s" "$LBL_TMP/lbld.err" &&
	    pass "$name: lbld's log says the disk has not synced ($(($(date +%s) - hung_at)) s after the hang)" ||
	    fail "$name: lbld's log says the disk has not synced" "$(grep -i sync "$LBL_TMP/lbld.err" | tail -3)"
	rm -f "$hang"
	kill "$fill_pid" 2>/dev/null
	wait "$fill_pid" 2>/dev/null
	[ "$(q "select count(*) from events where kind='operator'")" -gt "$ops" ] &&
	    pass "$name: the operator's events of the hang are on record" ||
	    fail "$name: the operator's events of the hang are on record" "$ops before, as many after"
	why=$(wait_for 10 outputs_safe && echo ok || outputs_safe)
	[ "$why" = ok ] && pass "$name: outputs safe" || fail "$name: outputs safe" "$why"
	kill -0 "$LBLD_PID" 2>/dev/null && pass "$name: lbld alive" || fail "$name: lbld alive" "died"
	intact && pass "$name: integrity" || fail "$name: integrity" "$(q 'pragma integrity_check')"
	stop_rig
else
	fail "$name" "the shim does not build"
fi
end_case
