#!/bin/sh
# Steps keep their absolute deadlines: a short spray recipe runs in real time
# (time scale 1) on lbl-simrig over Modbus TCP, driven by a real lbld. Every
# spray step commands pumps and valves around its dwell (about a dozen Modbus
# transactions) that the plan does not count; the step's last wait, its drain,
# ends at the step's planned end and absorbs them. So the start error read
# from the steps table (actual_start_ms - planned_start_ms) stays flat over
# the run instead of growing step after step, and no step starts early.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
# bounds, in ms: how much the start error may grow from the first quarter of
# the run to the last, and the worst single start error (ASan on a busy machine)
growth_max=${LBL_TIMING_GROWTH_MS:-2}
worst_max=${LBL_TIMING_WORST_MS:-60}

make_rig spray-rig.yaml "$LBL_TMP/rig.yaml"
# 9 bilayers of 3.5 s (four sprays of 0.4 s with 0.4 s drains, a 0.3 s dry),
# plus the 2.7 s travel to the booth: about 34 s in real time
cat >"$LBL_TMP/timing.yaml" <<'EOF'
name: step-timing
version: "1"
process: spray
substrate: {name: timing coupon, area: 25 cm2}
target: {bilayers: 9}
growth: {model: linear, per_bilayer: 7.8 nm}
resume: forbidden
solutions:
  ag: {nozzle: ag, volume: 250 mL}
  tca: {nozzle: tca, volume: 250 mL}
  rinse: {nozzle: rinse, rinse: true, volume: 500 mL}
cycle:
  - spray: {solution: ag, time: 0.4s, flow: 20 mL/min, drain: 0.4s}
  - spray: {solution: rinse, time: 0.4s, flow: 30 mL/min, drain: 0.4s}
  - spray: {solution: tca, time: 0.4s, flow: 20 mL/min, drain: 0.4s}
  - spray: {solution: rinse, time: 0.4s, flow: 30 mL/min, drain: 0.4s}
  - dry: {valve: n2, time: 0.3s}
EOF
start_simrig "$LBL_TMP/rig.yaml" || exit 1
start_lbld "$LBL_TMP/rig.yaml" "$LBL_TMP/lbl.db" || exit 1
db="$LBL_TMP/lbl.db"
planned=$("$ctl" plan "$LBL_TMP/timing.yaml" --rig "$LBL_TMP/rig.yaml" --json |
    /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["steps"]))')

if timeout 55 "$ctl" run "$LBL_TMP/timing.yaml" --operator ci --wait >"$LBL_TMP/run.out" 2>&1; then
	pass "timing recipe completes"
else
	fail "timing recipe completes" "$(tail -5 "$LBL_TMP/run.out")"
fi
state=$(sqlite3 "$db" "select state from batches where id = 1")
[ "$state" = completed ] && pass "batch recorded completed" || fail "batch recorded completed" "state '$state'"

# The first bilayer is left out (its first step carries the travel from park),
# and so is the move back to park. The 40 cycle steps left are cut into
# quarters of two whole cycles each, so every quarter holds the same steps.
if /usr/bin/python3 - "$db" "$planned" "$growth_max" "$worst_max" <<'PY'
import sqlite3, sys
db, planned = sys.argv[1], int(sys.argv[2])
growth_max, worst_max = float(sys.argv[3]), float(sys.argv[4])
rows = sqlite3.connect(db).execute(
    "select seq, bilayer, planned_start_ms, actual_start_ms, outcome, phase from steps"
    " where batch_id = 1 order by seq").fetchall()
ok = True
def check(name, cond, why):
    global ok
    print(("PASS %s" % name) if cond else ("FAIL %s: %s" % (name, why)))
    ok = ok and cond
check("every step done (%d)" % planned, len(rows) == planned and
      all(r[4] == "done" for r in rows),
      "%d rows, outcomes %s" % (len(rows), sorted(set(r[4] for r in rows))))
steps = [r for r in rows if r[5] == "cycle" and r[1] >= 2]
if len(steps) != 40:
    check("40 cycle steps after the first bilayer", False, "%d" % len(steps))
    sys.exit(1)
dev = [r[3] - r[2] for r in steps]		# ms late (or early, if negative)
q = len(dev) // 4
quarters = [dev[i * q:(i + 1) * q] for i in range(4)]
means = [sum(x) / q for x in quarters]
# Drift lifts every later step; a busy machine only adds late outliers here
# and there. So the drift is read from each quarter's earliest start (the
# floor under the scheduling noise); the means are shown for information.
floors = [min(x) for x in quarters]
growth = floors[3] - floors[0]
n = len(dev)
slope = (sum((i - (n - 1) / 2) * (d - sum(dev) / n) for i, d in enumerate(dev)) /
         sum((i - (n - 1) / 2) ** 2 for i in range(n)))
print("info: start error per step (ms): %s" % " ".join(str(d) for d in dev))
print("info: per quarter: floor %s ms, mean %s ms; growth %+d ms (of the means %+.2f ms); "
      "trend %+.3f ms/step; max %d ms"
      % (" ".join(str(f) for f in floors), " ".join("%.2f" % m for m in means), growth,
         means[3] - means[0], slope, max(dev)))
check("no step starts before its planned time", min(dev) >= 0, "min %d ms" % min(dev))
check("start error does not grow over the run (last - first quarter < %g ms)" % growth_max,
      growth < growth_max, "its floor grew by %d ms (per quarter %s ms; means %s ms; %+.3f ms "
      "per step)" % (growth, " ".join(str(f) for f in floors),
                     " ".join("%.2f" % m for m in means), slope))
check("every start within %g ms of plan" % worst_max, max(abs(d) for d in dev) < worst_max,
      "max %d ms" % max(abs(d) for d in dev))
sys.exit(0 if ok else 1)
PY
then :; else LBL_FAILED=1; fi
sanitizer_clean "$LBL_TMP/lbld.err" lbld
[ -z "${LBL_FAILED:-}" ]
