#!/bin/sh
# lblctl plan --json gives each step's "actions", what the rig will be told,
# in order (recipes/compile.c): it parses with a strict JSON parser for a
# recipe whose name carries quotes, a backslash, control characters and
# non-ASCII letters, every action has the agreed shape, the timing entries
# add up to the step's planned times, and a run on lbl-simrig tells each
# Modbus device exactly the commands the plan lists for it, in order
# (lbl-simrig --trace), a stirrer included.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
scale=400
for kind in dip spray; do
	make_rig $kind-rig.yaml "$LBL_TMP/$kind-rig.yaml"
done
make_rig roll-rig.yaml "$LBL_TMP/roll-rig.yaml"
# the ag dip stirred: a stirrer is told rpm
awk '!done && /depth: 30 mm/ { print; print "      agitation: 300 rpm"; done = 1; next } { print }' \
    "$LBL_TOP/recipes/examples/ag-tca-5-dip.yaml" |
    sed 's/^name: .*/name: "we\\"ird\\\\na\\tme\\x01 \\u2014 Zo\\u00eb"/' >"$LBL_TMP/dip.yaml"
cp "$LBL_TOP/recipes/examples/ag-tca-5-spray.yaml" "$LBL_TMP/spray.yaml"
cp "$LBL_TOP/recipes/examples/ag-tca-roll.yaml" "$LBL_TMP/roll.yaml"

for kind in dip spray roll; do
	if ! "$ctl" plan "$LBL_TMP/$kind.yaml" --rig "$LBL_TMP/$kind-rig.yaml" --json \
	    >"$LBL_TMP/$kind.json" 2>"$LBL_TMP/err"; then
		fail "$kind: plan --json" "$(cat "$LBL_TMP/err")"
		continue
	fi
	if /usr/bin/python3 - "$LBL_TMP/$kind.json" "$kind" >"$LBL_TMP/py.out" 2>&1 <<'PY'
import json, sys
def no_constant(c):
    raise ValueError("not JSON: " + c)
d = json.loads(open(sys.argv[1], "rb").read().decode("utf-8", "strict"),
               parse_constant=no_constant)
kind = sys.argv[2]
if kind == "dip":
    assert d["recipe"] == "we\"ird\\na\tme\x01 \u2014 Zo\u00eb", repr(d["recipe"])
ops = {"target", "speed", "go", "stop", "flow", "run", "direction", "on", "off", "rpm", "read"}
for s in d["steps"]:
    acts = s["actions"]
    for a in acts:
        if "device" in a:
            assert a["op"] in ops and set(a) <= {"device", "op", "value"}, a
            assert ("value" in a) == (a["op"] in ("target", "speed", "flow", "rpm",
                                                   "direction")), a
        else:
            assert a["op"] in ("dwell", "wait", "prompt") and set(a) == {"op", "ms"}, a
            assert isinstance(a["ms"], int) and a["ms"] >= 0, a
    timed = sum(a["ms"] for a in acts if a["op"] in ("dwell", "wait"))
    want = s["dwell_ms"] + (s["drip_ms"] if s["step"] in ("dip", "rinse", "spray") else 0)
    assert s["operator_wait"] or timed == want, (s["seq"], timed, want)
    # a move is speed, target, go: in that order
    for i, a in enumerate(acts):
        if a["op"] == "go":
            assert [x["op"] for x in acts[i - 2:i]] == ["speed", "target"], acts[i - 2:i + 1]
if kind == "dip":
    stir = [a for s in d["steps"] for a in s["actions"] if a.get("device") == "stir-ag"]
    assert stir and all(a["op"] in ("rpm", "run", "stop") for a in stir), stir
    assert {a["value"] for a in stir if a["op"] == "rpm"} == {300.0}, stir
    dips = [s for s in d["steps"] if s["quick_dips"] > 0]
    for s in dips:
        downs = [a for a in s["actions"] if a.get("device") == "lift" and a["op"] == "go"]
        assert len(downs) == 2 + 2 * s["quick_dips"], (s["seq"], len(downs))
print("%d steps, %d actions" % (len(d["steps"]), sum(len(s["actions"]) for s in d["steps"])))
PY
	then
		pass "$kind: plan --json actions parse strictly and add up ($(cat "$LBL_TMP/py.out"))"
	else
		fail "$kind: plan --json actions" "$(tail -3 "$LBL_TMP/py.out")"
	fi
done

# the run tells each Modbus device what the plan says, in order
SIMCTL="$LBL_TMP/simrig.ctl"
start_simrig "$LBL_TMP/dip-rig.yaml" --time-scale $scale --trace "$LBL_TMP/trace" \
    --control "$SIMCTL" || exit 1
start_lbld "$LBL_TMP/dip-rig.yaml" "$LBL_TMP/lbl.db" --time-scale $scale || exit 1
answer_prompts >/dev/null 2>&1 &
LBL_PIDS="$LBL_PIDS $!"
before=$(wc -l <"$LBL_TMP/trace")
# the stirrer, read at the device while the ag dips run: it turns at the recipe's rpm
( while :; do simctl get stir-ag; sleep 0.05; done ) >"$LBL_TMP/stir.log" 2>/dev/null &
poll=$!
LBL_PIDS="$LBL_PIDS $poll"
"$ctl" run "$LBL_TMP/dip.yaml" --operator ci --wait >"$LBL_TMP/run.out" 2>&1 ||
    fail "dip run completes" "$(tail -3 "$LBL_TMP/run.out")"
kill "$poll" 2>/dev/null
rpms=$(sed -n 's/.*running=1 rpm=\([0-9.]*\).*/\1/p' "$LBL_TMP/stir.log" | sort -u | tr '\n' ' ')
if [ "$rpms" = "300.0 " ]; then
	pass "the stirrer turned at 300 rpm, written to its rpm register"
else
	fail "the stirrer turned at 300 rpm" "running at: '$rpms'; $(sort -u "$LBL_TMP/stir.log" | head -3)"
fi
sed -n "$((before + 1)),\$p" "$LBL_TMP/trace" >"$LBL_TMP/run.trace"
if /usr/bin/python3 - "$LBL_TMP/dip.json" "$LBL_TMP/run.trace" >"$LBL_TMP/py.out" 2>&1 <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
commands = ("go", "home", "stop", "run", "on", "off")
want = {}
for s in plan["steps"]:
    for a in s["actions"]:
        if "device" in a and a["op"] in commands:
            want.setdefault(a["device"], []).append(a["op"])
got = {}
for line in open(sys.argv[2]):
    f = line.split()
    if len(f) >= 3 and f[2] in commands:
        got.setdefault(f[1], []).append(f[2])
gpio = {"n2"}		# valves on GPIO are not lbl-simrig's to trace
bad = []
for dev in sorted(set(want) | set(got)):
    if dev in gpio:
        continue
    if want.get(dev, []) != got.get(dev, []):
        w, g = want.get(dev, []), got.get(dev, [])
        i = next((i for i, (x, y) in enumerate(zip(w, g)) if x != y), min(len(w), len(g)))
        bad.append("%s: plan %d commands, trace %d; first difference at %d: %s vs %s"
                   % (dev, len(w), len(g), i, w[i:i + 3], g[i:i + 3]))
print("; ".join(bad) if bad else "%d devices, %d commands" %
      (len(got), sum(len(v) for v in got.values())))
sys.exit(1 if bad else 0)
PY
then
	pass "the run tells every Modbus device the plan's commands, in order ($(cat "$LBL_TMP/py.out"))"
else
	fail "the run tells every Modbus device the plan's commands" "$(tail -3 "$LBL_TMP/py.out")"
fi
[ -z "${LBL_FAILED:-}" ]
