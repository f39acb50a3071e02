# Fault campaign cases: the safety net under lbld (sourced by campaign.sh,
# which defines the helpers). lbld killed with -9 mid-spray puts nothing in
# safe state itself; what catches the rig then is
#   (a) lbl-safe, run as systemd's ExecStopPost= runs it after every stop:
#       every pump off and every valve closed, exit 0;
#   (b) a device's own communication-loss timeout (comm_timeout in the rig
#       file), armed by lbld for the batch: the pump stops by itself within
#       about that timeout of the kill, before anything else runs.
# Both on a copy of the example spray rig, every Modbus answer 10 ms late.

spray_recipe="$LBL_TOP/recipes/examples/ag-tca-5-spray.yaml"
spray_pumps="pump-ag pump-tca pump-rinse"
spray_valves="valve-ag valve-tca valve-rinse"

# start_spray_rig NAME SCALE [SED]: start_rig on the spray rig, its copy
# first edited by the sed expression SED if given.
start_spray_rig() {
	dir="$LBL_TMP/$1" scale=$2
	mkdir -p "$dir"
	make_rig spray-rig.yaml "$dir/rig.yaml"
	if [ -n "${3:-}" ]; then
		sed -i "$3" "$dir/rig.yaml" || return 1
	fi
	export LBL_SOCKET="$dir/lbld.sock"
	SIMCTL="$dir/simrig.ctl"
	db="$dir/lbl.db"
	: >"$LBL_TMP/lbld.err"
	start_simrig "$dir/rig.yaml" --time-scale "$scale" --control "$SIMCTL" --latency 10 || return 1
	start_lbld "$dir/rig.yaml" "$db" --time-scale "$scale" || return 1
	answer_prompts >/dev/null 2>&1 &
	PROMPTS_PID=$!
	LBL_PIDS="$LBL_PIDS $PROMPTS_PID"
}
# sim_field DEV KEY: one key=value of the simulator's state of DEV
sim_field() { simctl get "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# spray_on: the spray pumps and valves that are on, and the N2 GPIO valve
spray_on() {
	on=
	for p in $spray_pumps; do [ "$(sim_field "$p" running)" = 1 ] && on="$on $p"; done
	for v in $spray_valves; do [ "$(sim_field "$v" active)" = 1 ] && on="$on $v"; done
	[ "$(cat "$LBL_TMP/gpio/pinctrl-bcm2711/GPIO17.out" 2>/dev/null)" = 1 ] && on="$on n2"
	echo $on
}
spraying() { [ "$(sim_field "${1:-pump-ag}" running)" = 1 ]; }
# run_safe NAME: lbl-safe as systemd runs it after lbld stopped; checks its
# exit status and that every spray pump and valve is off afterwards
run_safe() {
	t0=$(date +%s%N)
	"$LBL_BUILD/lbl-safe" --rig "$dir/rig.yaml" --gpio-sim "$LBL_TMP/gpio" --db "$db" 2>"$dir/safe.err"
	rc=$? ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ $rc = 0 ] && pass "$1: lbl-safe exits 0, every device confirmed ($ms ms)" ||
	    fail "$1: lbl-safe exits 0" "exit $rc: $(cat "$dir/safe.err")"
	left=$(spray_on)
	[ -z "$left" ] && pass "$1: every pump off, every valve closed, N2 off" ||
	    fail "$1: every pump off, every valve closed" "still on: $left"
	if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$dir/safe.err"; then
		fail "$1: lbl-safe sanitizer clean" "$(grep -E -m3 'ERROR|runtime error' "$dir/safe.err")"
	fi
}

# ---- (a) kill -9 mid-spray, then lbl-safe as systemd runs it ----
begin_case
name="kill -9 mid-spray, then lbl-safe"
start_spray_rig safenet-kill 2 || exit 1
if "$ctl" run "$spray_recipe" --operator campaign >/dev/null 2>&1 && wait_for 60 spraying pump-ag; then
	kill -9 "$LBLD_PID"; wait "$LBLD_PID" 2>/dev/null
	kill "$PROMPTS_PID" 2>/dev/null
	left=$(spray_on)
	[ -n "$left" ] && pass "$name: lbld killed with$(printf ' %s' $left) on" ||
	    fail "$name: lbld killed mid-spray" "nothing was on at the kill"
	run_safe "$name"
	start_lbld "$dir/rig.yaml" "$db" --time-scale 2 || fail "$name: restart" "lbld did not start"
	[ "$(state_of)" = interrupted ] && intact && record_whole &&
	    pass "$name: the restarted lbld finds the batch interrupted, the record whole" ||
	    fail "$name: restart finds the batch interrupted" "state $(state_of)"
else
	fail "$name" "the spray never started (state $(state_of))"
fi
stop_rig
end_case

# ---- (b) a pump's own communication-loss timeout, lbld killed mid-spray ----
begin_case
name="comm_timeout: a pump stops by itself after kill -9"
start_spray_rig safenet-wd 2 \
    's/\(pump-ag: {.*\)max_flow: 60 mL\/min/\1max_flow: 60 mL\/min, comm_timeout: 500ms/' || exit 1
if "$ctl" run "$spray_recipe" --operator campaign >/dev/null 2>&1 && wait_for 60 spraying pump-ag; then
	armed=$(sim_field pump-ag watchdog)
	[ "$armed" = 500 ] && [ "$(sim_field pump-ag tripped)" = 0 ] &&
	    pass "$name: lbld armed pump-ag's 500 ms timeout for the batch and feeds it" ||
	    fail "$name: lbld armed pump-ag's timeout" "watchdog=$armed tripped=$(sim_field pump-ag tripped)"
	kill -9 "$LBLD_PID"
	t0=$(date +%s%N)
	wait "$LBLD_PID" 2>/dev/null
	kill "$PROMPTS_PID" 2>/dev/null
	n=0
	while spraying pump-ag && [ $n -lt 150 ]; do sleep 0.02; n=$((n + 1)); done
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	if spraying pump-ag; then
		fail "$name: pump-ag stops by itself" "still running $ms ms after the kill (watchdog=$(sim_field pump-ag watchdog))"
	else
		[ "$ms" -le 900 ] && [ "$(sim_field pump-ag tripped)" = 1 ] &&
		    pass "$name: pump-ag stopped by itself $ms ms after the kill (timeout 500 ms)" ||
		    fail "$name: pump-ag stops by itself within about its timeout" \
		    "$ms ms, tripped=$(sim_field pump-ag tripped)"
	fi
	# what has no timeout of its own waits for lbl-safe
	run_safe "$name"
else
	fail "$name" "the spray never started (state $(state_of))"
fi
stop_rig
end_case
