# lbl-sync's tests: rigs (lbl-simrig, lbld, lbl-sync each) beside a private
# PostgreSQL (pg.sh). POSIX sh, sourced after lib.sh and pg.sh.
#
#   rig_up N            lbl-simrig and lbld for rig N in $LBL_TMP/rN (dip rig)
#   sync_up N [ARGS]    lbl-sync for rig N (its state in $LBL_TMP/rN/sync); SYNC_PID_N
#   sync_down N [SIG]   stops it (TERM by default) and waits for it
#   on_rig N CMD...     runs CMD with LBL_SOCKET set to rig N's lbld
#   central_equal N [--batches-present]
#                       sync_compare.py of rig N's database and its copy
#   wait_equal N SECS   retries central_equal until it holds (0) or SECS pass (1)
#   prompts_answered    in the background: answers every rig's prompts

SYNC_SCALE=${SYNC_SCALE:-200}
SYNC_RECIPE="$LBL_TOP/recipes/examples/ag-tca-5-dip.yaml"

rig_up() {
	d="$LBL_TMP/r$1"
	mkdir -p "$d/sync"
	[ -f "$d/rig.yaml" ] || make_rig dip-rig.yaml "$d/rig.yaml"
	saved_tmp=$LBL_TMP saved_sock=$LBL_SOCKET
	LBL_TMP=$d LBL_SOCKET="$d/lbld.sock"
	if [ -z "$(eval echo \${SIMRIG_PID_$1:-})" ]; then
		start_simrig "$d/rig.yaml" --time-scale "$SYNC_SCALE" || { LBL_TMP=$saved_tmp; return 1; }
		eval "SIMRIG_PID_$1=$SIMRIG_PID"
	fi
	start_lbld "$d/rig.yaml" "$d/lbl.db" --time-scale "$SYNC_SCALE"
	rc=$?
	eval "LBLD_PID_$1=$LBLD_PID"
	LBL_TMP=$saved_tmp LBL_SOCKET=$saved_sock
	return $rc
}

sync_up() {
	n=$1; shift
	d="$LBL_TMP/r$n"
	mkdir -p "$d/sync"
	"$LBL_BUILD/lbl-sync" --db "$d/lbl.db" --to "$PG_URI" --state-dir "$d/sync" \
	    --rig-id "$d/rig-id" --name "rig-$n" "$@" 2>>"$d/sync.err" &
	eval "SYNC_PID_$n=$!"
	LBL_PIDS="$LBL_PIDS $!"
}

sync_down() {
	pid=$(eval echo \$SYNC_PID_$1)
	kill "-${2:-TERM}" "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

on_rig() {
	n=$1; shift
	LBL_SOCKET="$LBL_TMP/r$n/lbld.sock" "$@"
}

central_equal() {
	# shellcheck disable=SC2086
	/usr/bin/python3 "$LBL_TOP/tests/integration/sync_compare.py" "$LBL_TMP/r$1/lbl.db" \
	    "$(head -n 1 "$LBL_TMP/r$1/rig-id")" $PSQL ${2:-}
}

wait_equal() {
	i=0
	while [ $i -lt $(($2 * 2)) ]; do
		central_equal "$1" >"$LBL_TMP/equal.out" 2>&1 && return 0
		sleep 0.5
		i=$((i + 1))
	done
	return 1
}

prompts_answered() {
	while :; do
		for s in "$LBL_TMP"/r*/lbld.sock; do
			[ -S "$s" ] || continue
			if LBL_SOCKET=$s "$LBL_BUILD/lblctl" status 2>/dev/null | grep -q '^state: prompt'; then
				LBL_SOCKET=$s "$LBL_BUILD/lblctl" continue >/dev/null 2>&1
			fi
		done
		sleep 0.2
	done
}
