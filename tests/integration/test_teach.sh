#!/bin/sh
# Teach and reload (lblctl teach, lblctl reload, SIGHUP) through lbld and
# lbl-simrig: the simulator's axes stand away from 0 (it runs the homing
# test rig, whose axes start unhomed at 37% of their travel), lbld runs the
# same rig without 'home' (the positions count as known), so teach reads
# them as lbld sees them. The rig file gets the new x and surface_z at
# their places with every comment kept, a .bak beside it, lbld reloads it,
# plan shows the new position, and the database keeps both rig texts.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
d="$LBL_TMP/teach"
mkdir -p "$d"
port=$(free_port)
sed -e "s/port: 1502/port: $port/" "$LBL_TOP/tests/data/rig-homing.yaml" >"$d/sim.yaml"
# lbld's rig: no homing, and comments of every kind the edit must keep
sed -e "s/port: 1502/port: $port/" -e 's/, home: [a-z-]*}/}/' \
    -e 's/^  a: {\(.*\)}$/  a: {\1}   # silver beaker, moved in May/' \
    -e 's/^stations:$/stations:   # x from lblctl teach/' \
    "$LBL_TOP/tests/data/rig-homing.yaml" >"$d/rig.yaml"
cp "$d/rig.yaml" "$d/rig.orig"
recipe="$d/r.yaml"
cat >"$recipe" <<'YAML'
name: teach-test
version: "1"
process: dip
substrate: {name: glass, area: 4 cm2}
target: {bilayers: 1}
growth: {model: linear, per_bilayer: 1 nm}
resume: allowed
solutions:
  pa: {station: a, volume: 200 mL}
  pb: {station: b, volume: 200 mL}
  w: {station: rinse, rinse: true, volume: 300 mL}
cycle:
  - dip: {solution: pa, dwell: 2s, depth: 20 mm}
  - rinse: {solution: w, dwell: 1s}
  - dip: {solution: pb, dwell: 2s, depth: 20 mm}
  - rinse: {solution: w, dwell: 1s}
YAML

export LBL_SOCKET="$d/lbld.sock"
SIMCTL="$d/simrig.ctl"
start_simrig "$d/sim.yaml" --control "$SIMCTL" || exit 1
start_lbld "$d/rig.yaml" "$d/lbl.db" || exit 1
axis() { simctl get "$1" | sed -n "s/.* $2=\([-0-9.]*\).*/\1/p"; }
x=$(axis transfer position)
z=$(axis lift position)
[ "$x" = 296.000 ] && [ "$z" = 55.500 ] && pass "simulator: the axes stand at 296 and 55.5 mm" ||
    fail "simulator: the axes stand away from 0" "transfer $x, lift $z"

out=$("$ctl" teach nope 2>&1)
rc=$?
[ $rc = 2 ] && echo "$out" | grep -q "teach: no station 'nope' in rig test-homing" &&
    cmp -s "$d/rig.yaml" "$d/rig.orig" && [ ! -e "$d/rig.yaml.bak" ] &&
    pass "teach of an unknown station refused, nothing written" ||
    fail "teach of an unknown station refused" "rc $rc: $out"

out=$("$ctl" teach a --surface 2>&1)
rc=$?
[ $rc = 0 ] && echo "$out" | grep -q "^station a: x 296 mm, surface_z 55.5 mm written to $d/rig.yaml" &&
    echo "$out" | grep -q "^reloaded rig test-homing" &&
    pass "teach a --surface: written and reloaded" || fail "teach a --surface" "rc $rc: $out"
grep -q '^  a: {kind: beaker, x: 296 mm, surface_z: 55.5 mm, max_depth: 60 mm, volume: 250 mL}   # silver beaker, moved in May$' "$d/rig.yaml" &&
    pass "the values changed at their places, the line's comment kept" ||
    fail "the values changed at their places" "$(grep '^  a:' "$d/rig.yaml")"
# every other line as it was: comments, order, layout
changed=$(diff "$d/rig.orig" "$d/rig.yaml" | grep -c '^[<>]')
[ "$changed" = 2 ] && [ "$(grep -c '#' "$d/rig.yaml")" = "$(grep -c '#' "$d/rig.orig")" ] &&
    pass "only that line changed; every comment kept" ||
    fail "only that line changed" "$(diff "$d/rig.orig" "$d/rig.yaml")"
cmp -s "$d/rig.yaml.bak" "$d/rig.orig" && pass "the previous file is rig.yaml.bak" ||
    fail "the previous file is rig.yaml.bak" "$(diff "$d/rig.orig" "$d/rig.yaml.bak" 2>&1)"
grep -q "reloaded: rig test-homing" "$LBL_TMP/lbld.err" &&
    pass "lbld reloaded the rig file" || fail "lbld reloaded the rig file" "$(tail -3 "$LBL_TMP/lbld.err")"
[ "$(sqlite3 "$d/lbl.db" 'select count(*) from rigs')" = 2 ] &&
    sqlite3 "$d/lbl.db" 'select yaml from rigs order by id limit 1' | grep -q 'x: 100 mm, surface_z: 60 mm' &&
    sqlite3 "$d/lbl.db" 'select yaml from rigs order by id desc limit 1' | grep -q 'x: 296 mm, surface_z: 55.5 mm' &&
    pass "the database keeps the rig text before and after the teach" ||
    fail "the database keeps both rig texts" "$(sqlite3 "$d/lbl.db" 'select id, name, length(yaml) from rigs')"

plan=$("$ctl" plan "$recipe" --rig "$d/rig.yaml" --json 2>&1)
echo "$plan" | /usr/bin/python3 -c '
import json, sys
step = json.load(sys.stdin)["steps"][0]
targets = [(a["device"], a["value"]) for a in step["actions"] if a.get("op") == "target"]
# to a at the taught x, down to the taught surface, then 20 mm deeper
sys.exit(0 if step["where"] == "a" and ("transfer", 296) in targets and
    ("lift", 55.5) in targets and ("lift", 75.5) in targets else 1)' 2>/dev/null &&
    pass "plan goes to the taught x and surface" ||
    fail "plan goes to the taught x and surface" "$(echo "$plan" | head -c 600)"

# a value the rig checker refuses: the lift beyond what max_depth allows
cp "$d/rig.yaml" "$d/rig.before"
sed -i 's/max_depth: 60 mm, volume: 250 mL}   # silver/max_depth: 95 mm, volume: 250 mL}   # silver/' "$d/rig.yaml"
out=$("$ctl" teach a --surface --no-reload 2>&1)
rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "rig.yaml:[0-9]*:[0-9]*: error: 'max_depth': surface_z + max_depth = 150.5 mm is beyond the lift's travel" &&
    echo "$out" | grep -q "not taught" &&
    pass "a taught value the rig checker refuses leaves the file as it was, naming file:line:col" ||
    fail "a refused teach" "rc $rc: $out"
cp "$d/rig.before" "$d/rig.yaml"

# SIGHUP reloads too (systemctl reload lbld)
n=$(grep -c "reloaded: rig" "$LBL_TMP/lbld.err")
kill -HUP "$LBLD_PID"
wait_for 5 sh -c "[ \$(grep -c 'reloaded: rig' '$LBL_TMP/lbld.err') -gt $n ]" &&
    pass "SIGHUP reloads the rig file" || fail "SIGHUP reloads the rig file" "$(tail -3 "$LBL_TMP/lbld.err")"

# a viewer may not teach nor reload
if test_users; then
	chmod 0755 "$d" "$LBL_TMP"
	out=$(as_viewer "$ctl" teach a 2>&1)
	[ $? = 1 ] && echo "$out" | grep -q "teach: permission denied" &&
	    pass "a viewer may not teach" || fail "a viewer may not teach" "$out"
	out=$(as_viewer "$ctl" reload 2>&1)
	[ $? = 1 ] && echo "$out" | grep -q "reload: permission denied" &&
	    pass "a viewer may not reload" || fail "a viewer may not reload" "$out"
	out=$(as_operator "$ctl" reload 2>&1)
	[ $? = 0 ] && pass "an operator may reload" || fail "an operator may reload" "$out"
fi

# a reload is refused while a batch runs
# (the lift stands at the taught surface: the substrate is parked first)
"$ctl" park >/dev/null 2>&1
wait_for 30 "$ctl" run "$recipe" --operator ci
run=$("$ctl" status 2>&1 | head -2)
out=$("$ctl" reload 2>&1)
rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "reload: a batch is running" &&
    pass "reload refused while a batch runs" ||
    fail "reload refused while a batch runs" "rc $rc: $out (the run: $run)"
"$ctl" abort >/dev/null 2>&1

sanitizer_clean "$LBL_TMP/lbld.err" lbld
exit "${LBL_FAILED:-0}"
