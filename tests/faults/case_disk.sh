# Fault campaign case: the disk stops syncing (an SD card dying under a
# run, returning EIO). Every step boundary of a batch is committed to the
# database's log without waiting for the disk and synced by a thread
# beside the loop (db/db_sync.c); when that sync fails, the record may not
# be on the disk, and the batch must fail safely saying so, not run on as
# if it were. The shim fails only read-only descriptors' fdatasync, which
# is the syncer's: SQLite's own syncs go on working, so the failure is
# recorded. Sourced by campaign.sh.

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
