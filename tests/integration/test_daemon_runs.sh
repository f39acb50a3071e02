#!/bin/sh
# End-to-end: every example recipe runs to completion on lbl-simrig over
# Modbus TCP, driven by a real lbld; the record in SQLite is complete (every
# planned step done exactly once, bilayers recorded) and intact.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
scale=${LBL_TEST_SCALE:-400}

run_example() { # recipe rig
	recipe=$1 rig=$2
	name=$(basename "$recipe" .yaml)
	dir="$LBL_TMP/$name"
	mkdir -p "$dir"
	make_rig "$rig" "$dir/rig.yaml"
	export LBL_SOCKET="$dir/lbld.sock"
	LBL_PIDS_BEFORE=$LBL_PIDS
	start_simrig "$dir/rig.yaml" --time-scale "$scale" || { fail "$name simrig" "did not start"; return; }
	start_lbld "$dir/rig.yaml" "$dir/lbl.db" --time-scale "$scale" || { fail "$name lbld" "did not start"; return; }
	answer_prompts >/dev/null 2>&1 &
	LBL_PIDS="$LBL_PIDS $!"
	planned=$("$ctl" plan "$LBL_TOP/recipes/examples/$recipe" --rig "$dir/rig.yaml" --json |
	    /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["steps"]))')
	if "$ctl" run "$LBL_TOP/recipes/examples/$recipe" --substrate "t-$name" --operator ci \
	    --wait >"$dir/run.out" 2>"$dir/run.err"; then
		pass "$name completes"
	else
		fail "$name completes" "$(cat "$dir/run.err" "$dir/run.out" | tail -5)"
	fi
	db="$dir/lbl.db"
	state=$(sqlite3 "$db" "select state from batches order by id desc limit 1")
	[ "$state" = completed ] && pass "$name recorded completed" || fail "$name recorded completed" "state $state"
	done_steps=$(sqlite3 "$db" "select count(distinct seq) from steps where outcome='done'")
	all_steps=$(sqlite3 "$db" "select count(*) from steps")
	[ "$done_steps" = "$planned" ] && [ "$all_steps" = "$planned" ] && pass "$name every step once ($planned)" ||
	    fail "$name every step once" "planned $planned, done $done_steps, rows $all_steps"
	bl=$(sqlite3 "$db" "select bilayers_done = bilayers_target from batches order by id desc limit 1")
	[ "$bl" = 1 ] && pass "$name bilayers recorded" || fail "$name bilayers recorded" "$(sqlite3 "$db" 'select bilayers_done, bilayers_target from batches')"
	ok=$(sqlite3 "$db" "pragma integrity_check")
	[ "$ok" = ok ] && pass "$name integrity_check" || fail "$name integrity_check" "$ok"
	jm=$(sqlite3 "$db" "pragma journal_mode")
	[ "$jm" = wal ] && pass "$name WAL" || fail "$name WAL" "$jm"
	# dwells are exact: each recorded dwell is the plan's, scaled, within 20 ms per immersion
	"$ctl" plan "$LBL_TOP/recipes/examples/$recipe" --rig "$dir/rig.yaml" --json >"$dir/plan.json"
	if /usr/bin/python3 - "$dir/plan.json" "$db" "$scale" <<'PY'
import json, sqlite3, sys
plan = {s["seq"]: s for s in json.load(open(sys.argv[1]))["steps"]}
scale = float(sys.argv[3])
worst = 0.0
for seq, dwell in sqlite3.connect(sys.argv[2]).execute("select seq, dwell_ms from steps"):
    p = plan[seq]
    if p["step"] in ("dip", "rinse", "spray", "wait", "bath") and p["dwell_ms"] > 0:
        n = max(1, p["quick_dips"])
        err = abs(dwell - p["dwell_ms"] / scale) / n
        worst = max(worst, err)
print("worst dwell error per immersion: %.1f ms" % worst)
sys.exit(0 if worst <= 20 else 1)
PY
	then pass "$name dwells exact"; else fail "$name dwells exact" "see above"; fi
	kill "$LBLD_PID" "$SIMRIG_PID" 2>/dev/null
	wait "$LBLD_PID" 2>/dev/null
}

run_example ag-tca-5-dip.yaml dip-rig.yaml
run_example taa-cnt-3-dip.yaml dip-rig.yaml
run_example ag-tca-5-spray.yaml spray-rig.yaml
run_example ag-tca-roll.yaml roll-rig.yaml
[ -z "${LBL_FAILED:-}" ]
