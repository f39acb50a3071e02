#!/bin/sh
# Volumes from the devices: a spray step's pump is read by its own volume
# counter before and after the step, and the record holds what it counted
# beside the plan's figure. A pump stopped from outside 3 s into a 10 s
# rinse spray (lbl-simrig's control socket, as its stop button would) fails
# the step with the pump and both figures named, where the old executor
# closed it done with 5.0 mL credited; the fault event names the pump.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
scale=10
make_rig spray-rig.yaml "$LBL_TMP/rig.yaml"
# The rinse pump is not polled within the run (supervision would catch its
# stop first, test_supervision.sh's case): this is the counter's own check.
sed -i 's/\(pump-rinse: {.*profile: generic-pump\)/\1, poll_period: 60s/' "$LBL_TMP/rig.yaml"
grep -q 'pump-rinse: .*poll_period: 60s' "$LBL_TMP/rig.yaml" || fail "the rig's rinse pump unpolled" "$(grep pump-rinse "$LBL_TMP/rig.yaml")"
SIMCTL="$LBL_TMP/sim.ctl"
start_simrig "$LBL_TMP/rig.yaml" --time-scale $scale --control "$SIMCTL" || exit 1
start_lbld "$LBL_TMP/rig.yaml" "$LBL_TMP/lbl.db" --time-scale $scale || exit 1
cat >"$LBL_TMP/spray.yaml" <<'YAML'
name: spray-volumes
version: "1"
process: spray
substrate: glass slide
resume: allowed
target: {bilayers: 1}
growth: {model: linear, per_bilayer: 5 nm}
solutions:
  ag: {nozzle: ag}
  tca: {nozzle: tca}
  rinse: {nozzle: rinse, rinse: true}
cycle:
  - spray: {solution: ag, time: 5s, flow: 20 mL/min, drain: 2s}
  - spray: {solution: rinse, time: 10s, flow: 30 mL/min, drain: 2s}
  - spray: {solution: tca, time: 5s, flow: 20 mL/min, drain: 2s}
  - spray: {solution: rinse, time: 10s, flow: 30 mL/min, drain: 2s}
YAML
db() { sqlite3 "$LBL_TMP/lbl.db" "$1"; }

# a whole run: each spray's pump counted about its planned volume (a little more:
# it runs from before its valve opens until after it closes)
"$ctl" run "$LBL_TMP/spray.yaml" --operator ci --wait >"$LBL_TMP/out" 2>&1 ||
    fail "a spray run completes" "$(tail -3 "$LBL_TMP/out")"
rows=$(db "select seq, volume_planned_ml, round(volume_measured_ml, 3) from steps where batch_id=1 and kind='spray' order by seq")
/usr/bin/python3 - "$rows" <<'PY' && pass "every spray step counted its volume ($(echo $rows))" || fail "every spray step counted its volume" "$rows"
import sys
rows = [r.split("|") for r in sys.argv[1].split()]
assert len(rows) == 4, rows
assert [float(r[1]) for r in rows] == [5 / 3, 5.0, 5 / 3, 5.0] or \
    all(abs(float(a) - b) < 1e-9 for a, b in zip([r[1] for r in rows], [5 / 3, 5.0, 5 / 3, 5.0])), rows
for seq, planned, counted in rows:
    assert float(planned) * 0.9 <= float(counted) <= float(planned) * 1.6, (seq, planned, counted)
PY
"$ctl" show 1 >"$LBL_TMP/show" 2>&1
grep -Eq "spray .*done +volume 5\.00 mL planned, [0-9.]+ mL counted" "$LBL_TMP/show" &&
    pass "show prints planned and counted volume" ||
    fail "show prints planned and counted volume" "$(grep spray "$LBL_TMP/show" | head -3)"
"$ctl" export 1 --format csv --table steps >"$LBL_TMP/e.csv" 2>&1
/usr/bin/python3 - "$LBL_TMP/e.csv" <<'PY' && pass "export csv has both volumes" || fail "export csv has both volumes" "$(head -3 "$LBL_TMP/e.csv")"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
sprays = [r for r in rows if r["kind"] == "spray"]
assert len(sprays) == 4 and all(float(r["volume_planned_ml"]) > 0 and float(r["volume_measured_ml"]) > 0 for r in sprays), sprays
assert all(r["volume_planned_ml"] == "" for r in rows if r["kind"] != "spray"), rows
PY
"$ctl" show 1 --json >"$LBL_TMP/s.json" 2>&1
/usr/bin/python3 - "$LBL_TMP/s.json" <<'PY' && pass "show --json has both volumes" || fail "show --json has both volumes" "$(head -c 300 "$LBL_TMP/s.json")"
import json, sys
d = json.load(open(sys.argv[1]))
s = [x for x in d["steps"] if x["kind"] == "spray"]
assert s[1]["volume_planned_ml"] == 5.0 and s[1]["volume_measured_ml"] >= 4.5, s[1]
PY

# the rinse pump stopped from outside 3 s into its 10 s spray
"$ctl" run "$LBL_TMP/spray.yaml" --operator ci >/dev/null 2>&1 || fail "run 2" "refused"
rinse_spraying() { "$ctl" status | grep -q '^step: .* spray rinse'; }
pump_running() { simctl get pump-rinse | grep -q 'running=1'; }
wait_for 30 rinse_spraying || fail "the rinse spray starts" "$("$ctl" status)"
wait_for 10 pump_running || fail "the rinse pump runs" "$(simctl get pump-rinse)"
sleep $(/usr/bin/python3 -c "print(3 / $scale)")
simctl stop pump-rinse | grep -q '^ok' || fail "stop pump-rinse" "simrig refused"
wait_for 30 sh -c "[ \"\$(sqlite3 '$LBL_TMP/lbl.db' 'select state from batches where id=2')\" = failed ]" ||
    fail "the batch fails" "$(db 'select state, failure_cause from batches where id=2')"
cause=$(db "select failure_cause from batches where id=2")
case "$cause" in
*"(spray at rinse): pump 'pump-rinse' dispensed "*" mL of 5.00 mL planned by its own counter"*"short by more than its tolerance of 10%"*)
	pass "the cause names the pump and both volumes: $cause" ;;
*) fail "the cause names the pump and both volumes" "$cause" ;;
esac
row=$(db "select outcome, volume_planned_ml, round(volume_measured_ml, 2) from steps where batch_id=2 and seq=(select max(seq) from steps where batch_id=2 and kind='spray')")
/usr/bin/python3 - "$row" <<'PY' && pass "the step failed with 5.0 planned and about 1.5 mL counted ($row)" || fail "the step's record" "$row"
import sys
outcome, planned, counted = sys.argv[1].split("|")
assert outcome == "failed" and float(planned) == 5.0, sys.argv[1]
assert 0.5 <= float(counted) <= 3.5, sys.argv[1]
PY
[ "$(db "select count(*) from events where batch_id=2 and kind='fault' and device='pump-rinse'")" = 1 ] &&
    pass "the fault event names pump-rinse" ||
    fail "the fault event names pump-rinse" "$(db "select kind, device, message from events where batch_id=2")"
sanitizer_clean "$LBL_TMP/lbld.err" lbld
[ -z "${LBL_FAILED:-}" ]
