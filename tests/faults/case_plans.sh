# Fault campaign case: a recipe too big to plan (sourced by campaign.sh,
# which defines the helpers). lbld checks and plans every recipe added or
# run, also while a batch runs. One that would expand to 2,000,601 steps
# (tests/bad/46, twenty times PLAN_MAX_STEPS) must be refused at its
# FILE:LINE:COL before anything is expanded: lbld's resident memory and its
# peak stay as they were (before the limit it took 300 MB and held the
# event loop 1.2 s), and an e-stop pressed while lbld answers a burst of
# them still stops everything at once.

big_recipe="$LBL_TOP/tests/bad/46-plan-too-big.yaml"
big_at="46-plan-too-big.yaml:19:14: error: this recipe expands to 2,000,601 steps; a plan may have at most 100,000"
# kb FIELD: lbld's VmRSS or VmHWM (peak) in kB; -1000000 when unknown, which fails
kb() {
	v=$(sed -n "s/^$1:[[:space:]]*\([0-9][0-9]*\) kB$/\1/p" "/proc/$LBLD_PID/status" 2>/dev/null)
	echo "${v:--1000000}"
}
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

begin_case
name="a 2,000,601-step recipe"
start_rig plans 100 || exit 1
# a recipe lbld can plan first, so what follows finds its code and pages in use
"$ctl" recipe add "$recipe" >/dev/null 2>&1 || fail "$name" "the example recipe was refused"
rss0=$(kb VmRSS) hwm0=$(kb VmHWM)
t0=$(date +%s%N)
"$ctl" recipe add "$big_recipe" >/dev/null 2>"$dir/add.err"
rc=$? ms=$(ms_since "$t0")
[ $rc = 2 ] && grep -qF "$big_at" "$dir/add.err" &&
    pass "$name: recipe add refused with FILE:LINE:COL, the count and the limit ($ms ms)" ||
    fail "$name: recipe add refused" "exit $rc: $(head -3 "$dir/add.err")"
"$ctl" run "$big_recipe" --operator campaign >/dev/null 2>"$dir/run.err"
rc=$?
[ $rc = 2 ] && grep -qF "$big_at" "$dir/run.err" && [ "$(q 'select count(*) from batches')" = 0 ] &&
    pass "$name: run refused the same way, no batch" ||
    fail "$name: run refused" "exit $rc, $(q 'select count(*) from batches') batches: $(head -3 "$dir/run.err")"
[ "$(q "select count(*) from recipes where name='t'")" = 0 ] && pass "$name: nothing stored" ||
    fail "$name: nothing stored" "the recipe is in the database"
rss1=$(kb VmRSS) hwm1=$(kb VmHWM)
echo "info: lbld VmRSS $rss0 -> $rss1 kB, peak VmHWM $hwm0 -> $hwm1 kB, refusal answered in $ms ms"
[ "$rss0" -gt 0 ] && [ "$rss1" -gt 0 ] && [ "$hwm0" -gt 0 ] && [ "$hwm1" -gt 0 ] &&
    [ $((rss1 - rss0)) -lt 1024 ] && [ $((hwm1 - hwm0)) -lt 1024 ] &&
    pass "$name: lbld's memory and its peak grew by less than 1 MB" ||
    fail "$name: lbld's memory" "VmRSS $rss0 -> $rss1 kB, VmHWM $hwm0 -> $hwm1 kB"
[ "$ms" -lt 1000 ] && pass "$name: answered within 1 s" || fail "$name: answered within 1 s" "$ms ms"

# mid-batch: a burst of them, and the e-stop pressed while lbld answers it
"$ctl" run "$recipe" --operator campaign >/dev/null 2>&1 || fail "$name" "the batch was refused"
running_past 2
hwm2=$(kb VmHWM)
pids=
for n in 1 2 3 4 5 6 7 8; do
	"$ctl" recipe add "$big_recipe" >/dev/null 2>"$dir/burst$n.err" &
	pids="$pids $!"
done
t0=$(date +%s%N)
printf '0\n' >"$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in"	# active low: 0 is pressed
failed_soon 5
ms=$(ms_since "$t0")
refused=0
for p in $pids; do wait "$p"; [ $? = 2 ] && refused=$((refused + 1)); done
for n in 1 2 3 4 5 6 7 8; do grep -qF "$big_at" "$dir/burst$n.err" || refused=$((refused - 1)); done
[ "$refused" = 8 ] && pass "$name: 8 refused mid-batch, each with FILE:LINE:COL" ||
    fail "$name: refused mid-batch" "$refused of 8"
echo "info: e-stop amid the refusals to a failed batch recorded in $ms ms"
[ "$(state_of)" = failed ] && q "select failure_cause from batches where id=1" | grep -q "e-stop 'estop' engaged" &&
    [ "$ms" -lt 1000 ] && pass "$name: the e-stop stops the batch at once amid the refusals" ||
    fail "$name: e-stop amid the refusals" "state $(state_of) after $ms ms: $(q 'select failure_cause from batches where id=1')"
why=$(outputs_safe) && pass "$name: every pump off, every GPIO output off" || fail "$name: outputs safe" "$why"
# a running batch grows too, by itself (about 0.5 MB a second under ASan): a looser bound
hwm3=$(kb VmHWM)
[ "$hwm2" -gt 0 ] && [ "$hwm3" -gt 0 ] && [ $((hwm3 - hwm2)) -lt 4096 ] &&
    pass "$name: no peak from the burst and the e-stop (VmHWM $hwm2 -> $hwm3 kB)" ||
    fail "$name: peak during the burst" "VmHWM $hwm2 -> $hwm3 kB"
grep -q "out of memory" "$LBL_TMP/lbld.err" && fail "$name: no allocation failed" "$(grep -m2 'out of memory' "$LBL_TMP/lbld.err")"
printf '1\n' >"$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in"
sleep 0.2
settled "$name"
stop_rig
end_case 3
