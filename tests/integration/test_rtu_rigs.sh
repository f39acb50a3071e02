#!/bin/sh
# The example rigs on Modbus RTU (hw/examples/dip-rig-rtu.yaml,
# spray-rig-rtu.yaml): every Modbus device on one RS-485 line, emulated by
# lbl-simrig on a pty pair (socat) with the line's wire time at its baud
# rate, at 19,200 and at 115,200 baud. On each, a real batch runs through
# lbld to completion and its record is checked (completed, every planned
# step done once, the bilayers); then a second batch is stopped by the
# e-stop mid-batch while an output runs, and every output's stop or off
# command must reach its device, those that ran first (on one line each
# stop waits for the one before: the others only confirm what is off).
# The time to a safe rig is printed in transaction times of the bus (T:
# one register write, 8-byte request and 8-byte answer plus the silence
# after each), and bounded generously so load cannot fail it.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
scale=${LBL_TEST_SCALE:-400}

# tx_ms BAUD: one register write on the line, 8N1 (10 bits a character)
tx_ms() { awk -v b="$1" 'BEGIN { s = b > 19200 ? 1.75 : 3.5 * 10000 / b; printf "%.3f", 16 * 10000 / b + 2 * s }'; }

# past_step3: the second batch is past its third step (mid-batch, the prompt answered)
past_step3() { [ "$(sqlite3 "$db" 'select last_step_seq from batches where id=2')" -ge 3 ]; }

# rtu_rig NAME EXAMPLE BAUD RECIPE OUTPUTS...: see above
rtu_rig() {
	name=$1 example=$2 baud=$3 recipe="$LBL_TOP/recipes/examples/$4"; shift 4
	outputs=$*
	d="$LBL_TMP/$name"
	mkdir -p "$d"
	socat pty,raw,echo=0,link="$d/sim" pty,raw,echo=0,link="$d/ctl" >/dev/null 2>"$d/socat.err" &
	socat_pid=$!
	LBL_PIDS="$LBL_PIDS $socat_pid"
	wait_for 5 test -e "$d/ctl" || { fail "$name: socat" "$(cat "$d/socat.err")"; return; }
	sed -e "s|device: /dev/ttyUSB0|device: $d/sim|" -e "s|baud: [0-9]*|baud: $baud|" \
	    "$LBL_TOP/hw/examples/$example" >"$d/rig-sim.yaml"
	sed "s|device: $d/sim|device: $d/ctl|" "$d/rig-sim.yaml" >"$d/rig.yaml"
	"$ctl" check-rig "$d/rig.yaml" >/dev/null || { fail "$name: rig valid" "$("$ctl" check-rig "$d/rig.yaml" 2>&1)"; return; }
	export LBL_SOCKET="$d/lbld.sock"
	SIMCTL="$d/simrig.ctl"
	start_simrig "$d/rig-sim.yaml" --time-scale "$scale" --control "$SIMCTL" --trace "$d/trace" ||
	    { fail "$name: simrig" "did not start"; return; }
	start_lbld "$d/rig.yaml" "$d/lbl.db" --time-scale "$scale" || { fail "$name: lbld" "did not start"; return; }
	answer_prompts >/dev/null 2>&1 &
	prompts_pid=$!
	LBL_PIDS="$LBL_PIDS $prompts_pid"
	db="$d/lbl.db"

	# ---- a whole batch, and its record ----
	planned=$("$ctl" plan "$recipe" --rig "$d/rig.yaml" --json |
	    /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["steps"]))')
	t0=$(date +%s%N)
	cpu0=$(awk '{print $14 + $15}' "/proc/$LBLD_PID/stat")
	if "$ctl" run "$recipe" --operator ci --wait >"$d/run.out" 2>&1; then
		pass "$name: $(basename "$recipe" .yaml) completes"
	else
		fail "$name: $(basename "$recipe" .yaml) completes" "$(tail -3 "$d/run.out"; tail -3 "$LBL_TMP/lbld.err")"
	fi
	cpu_ms=$(( ($(awk '{print $14 + $15}' "/proc/$LBLD_PID/stat") - cpu0) * 1000 / $(getconf CLK_TCK) ))
	wall_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	echo "info: $name: the batch took $wall_ms ms at time scale $scale, lbld $cpu_ms ms of CPU"
	# Steps this short keep supervision's polls held clear of the next
	# deadline most of the time: the loop must sleep meanwhile (its timer
	# once fired again and again while a poll waited: 18-75% of a CPU here).
	[ $((cpu_ms * 10)) -lt "$wall_ms" ] && pass "$name: lbld's loop sleeps between its work (CPU under a tenth of the batch)" ||
	    fail "$name: lbld's loop sleeps between its work" "$cpu_ms ms of CPU in a $wall_ms ms batch"
	q() { sqlite3 "$db" "$1"; }
	[ "$(q 'select state from batches where id=1')" = completed ] && pass "$name: recorded completed" ||
	    fail "$name: recorded completed" "$(q 'select state, failure_cause from batches where id=1')"
	done_steps=$(q "select count(distinct seq) from steps where batch_id=1 and outcome='done'")
	rows=$(q "select count(*) from steps where batch_id=1")
	[ "$done_steps" = "$planned" ] && [ "$rows" = "$planned" ] && pass "$name: every planned step recorded done once ($planned)" ||
	    fail "$name: every planned step recorded done once" "planned $planned, done $done_steps, rows $rows"
	[ "$(q 'select bilayers_done = bilayers_target from batches where id=1')" = 1 ] &&
	    pass "$name: bilayers recorded" || fail "$name: bilayers recorded" "$(q 'select bilayers_done, bilayers_target from batches where id=1')"

	# ---- the e-stop mid-batch ----
	"$ctl" run "$recipe" --operator ci >/dev/null 2>&1 || fail "$name: second batch" "refused"
	if ! wait_for 60 past_step3; then
		fail "$name: e-stop" "the second batch never got past step 3"
	else
		# press while an output runs (a stirrer in its dip, a spray pump), so
		# the figure is of stopping something; after 20 s, press anyway
		press=$(/usr/bin/python3 - "$d/trace" "$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in" $outputs <<'PY'
import sys, time
trace, pin, outputs = sys.argv[1], sys.argv[2], set(sys.argv[3:])
on, pos, end = set(), 0, time.monotonic() + 20
with open(trace) as f:
    f.seek(0, 2)
    while time.monotonic() < end and not on:
        for line in f:
            x = line.split()
            if len(x) >= 3 and x[1] in outputs:
                if x[2] in ("run", "on"):
                    on.add(x[1])
                elif x[2] in ("stop", "off"):
                    on.discard(x[1])
        if not on:
            time.sleep(0.002)
t = time.monotonic_ns()
with open(pin, "w") as f:
    f.write("0\n")	# active low: 0 is pressed
print(t)
PY
)
		wait_for 10 sh -c "[ \"\$(sqlite3 '$db' 'select state from batches where id=2')\" = failed ]" &&
		    pass "$name: e-stop fails the batch" || fail "$name: e-stop fails the batch" "$(q 'select state from batches where id=2')"
		q "select failure_cause from batches where id=2" | grep -q "e-stop 'estop' engaged" &&
		    pass "$name: e-stop recorded as the cause" || fail "$name: e-stop recorded as the cause" "$(q 'select failure_cause from batches where id=2')"
		sleep 0.5
		for f in "$LBL_TMP"/gpio/*/*.out; do
			[ "$(cat "$f")" = 0 ] || fail "$name: GPIO outputs off" "$f is $(cat "$f")"
		done
		notsafe=
		for o in $outputs; do
			simctl get "$o" | grep -Eq 'running=1|active=1|moving=1' && notsafe="$notsafe $o"
		done
		[ -z "$notsafe" ] && pass "$name: every output safe after the e-stop" || fail "$name: every output safe" "$notsafe"
		t=$(tx_ms "$baud")
		if /usr/bin/python3 - "$d/trace" "$press" "$t" "$name" $outputs <<'PY'
import sys
trace, press, t_ms, name, outputs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5:]
first, on = {}, set()
for line in open(trace):
    f = line.split()
    if len(f) >= 3 and int(f[0]) < press and f[1] in outputs:
        if f[2] in ("run", "on"):
            on.add(f[1])
        elif f[2] in ("stop", "off"):
            on.discard(f[1])
    if len(f) >= 3 and int(f[0]) >= press and f[1] in outputs and f[2] in ("stop", "off") and f[1] not in first:
        first[f[1]] = (int(f[0]) - press) / 1e6
missing = [o for o in outputs if o not in first]
if missing:
    print("no stop or off command after the e-stop for: " + ", ".join(missing))
    sys.exit(1)
order = ", ".join("%s %.1f" % (o, ms) for o, ms in sorted(first.items(), key=lambda x: x[1]))
print("info: %s: pumps and valves on at the e-stop: %s" % (name, ", ".join(sorted(on)) or "none"))
print("info: %s: e-stop to each output's stop at the device (ms): %s" % (name, order))
if not on:
    print("info: %s: nothing ran at the e-stop (caught no output on in 20 s)" % name)
    sys.exit(0)
safe = max(first[o] for o in on)
print("info: %s: e-stop to every output safe: %.1f ms = %.1f transaction times (T = %.2f ms; "
      "%d of %d outputs on)" % (name, safe, safe / t_ms, t_ms, len(on), len(outputs)))
# What load cannot change: the outputs that ran are stopped before any
# other stop goes on the line (the rest only confirm what is off).
late = [o for o in on if any(first[o] > first[x] for x in outputs if x not in on)]
if late:
    print("running outputs stopped after others: " + ", ".join(late))
    sys.exit(1)
# and a generous time bound: detection plus a transaction on the wire when
# the e-stop came, then one stop each; 3x that plus 100 ms for a loaded machine
sys.exit(0 if safe <= 3 * (len(on) + 2) * t_ms + 100 else 1)
PY
		then pass "$name: the outputs that ran are stopped first, within the bound"
		else fail "$name: the outputs that ran are stopped first, within the bound" "see info"; fi
		printf '1\n' >"$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in"
	fi
	kill "$prompts_pid" "$LBLD_PID" "$SIMRIG_PID" 2>/dev/null
	wait "$LBLD_PID" "$SIMRIG_PID" 2>/dev/null
	kill "$socat_pid" 2>/dev/null
	sanitizer_clean "$LBL_TMP/lbld.err" "$name: lbld"
	sanitizer_clean "$LBL_TMP/simrig.err" "$name: lbl-simrig"
}

rtu_rig dip-19200 dip-rig-rtu.yaml 19200 ag-tca-5-dip.yaml fill-1 drain-1 stir-ag stir-cnt lift transfer
rtu_rig dip-115200 dip-rig-rtu.yaml 115200 ag-tca-5-dip.yaml fill-1 drain-1 stir-ag stir-cnt lift transfer
rtu_rig spray-115200 spray-rig-rtu.yaml 115200 ag-tca-5-spray.yaml pump-ag pump-tca pump-rinse valve-ag valve-tca valve-rinse transfer
rtu_rig spray-19200 spray-rig-rtu.yaml 19200 ag-tca-5-spray.yaml pump-ag pump-tca pump-rinse valve-ag valve-tca valve-rinse transfer
[ -z "${LBL_FAILED:-}" ]
