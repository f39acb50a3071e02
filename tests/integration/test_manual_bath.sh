#!/bin/sh
# lblctl fill / drain STATION (issue 17) go through prime's dispense
# checks: the station's pump runs the station's volume at its max_flow and
# stops by its volume counter when it has one (fill-1, the generic pump's),
# at the backstop (the time at the flow and half again) failed when the
# counter does not count (a stall), and by time, saying so, without a
# counter (drain-1, the BT100S's). rinse-1 holds 3 mL here so each takes
# seconds at real time.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
d="$LBL_TMP/bath"
mkdir -p "$d"
make_rig dip-rig.yaml "$d/rig.yaml"
sed -i 's/unit: 3, profile: bt100s-16/unit: 3, profile: generic-pump/; s/volume: 300 mL, fill_pump: fill-1/volume: 3 mL, fill_pump: fill-1/' "$d/rig.yaml"
grep -q 'volume: 3 mL, fill_pump' "$d/rig.yaml" || fail "test rig" "rinse-1's volume not set"
SIMCTL="$d/simrig.ctl"
start_simrig "$d/rig.yaml" --time-scale 1 --control "$SIMCTL" || exit 1
start_lbld "$d/rig.yaml" "$d/lbl.db" --time-scale 1 || exit 1
field() { simctl get "$1" | sed -n "s/.* $2=\([-0-9.]*\).*/\1/p; s/^ok $2=\([-0-9.]*\).*/\1/p" | head -1; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }

v0=$(field fill-1 volume)
out=$("$ctl" fill rinse-1 2>&1)
rc=$?
v1=$(field fill-1 volume)
[ $rc = 0 ] && echo "$out" | grep -q "its volume counter counted [0-9.]* mL of 3.00 mL" &&
    echo "$out" | grep -q "dispensed [0-9.]* mL (the pump's volume counter)" &&
    [ "$(field fill-1 running)" = 0 ] && awk -v a="$v0" -v b="$v1" 'BEGIN { d = b - a; exit !(d >= 3 && d < 3.6) }' &&
    pass "fill rinse-1: stopped by fill-1's volume counter at the station's 3 mL ($v0 -> $v1 mL)" ||
    fail "fill by the counter" "rc $rc: $out; $v0 -> $v1"

simctl fault fill-1 stuck >/dev/null
t0=$(date +%s.%N)
out=$("$ctl" fill rinse-1 2>&1)
rc=$?
t=$(since "$t0")
simctl clear fill-1 >/dev/null
# 3 mL at 100 mL/min: 1.8 s, the backstop 2.7 s
[ $rc = 1 ] && echo "$out" | grep -q "had not counted the volume by the backstop.*a stall" &&
    [ "$(field fill-1 running)" = 0 ] && awk -v d="$t" 'BEGIN { exit !(d >= 2.6 && d < 12) }' &&
    pass "fill with a pump whose counter does not count: off at the backstop (${t} s), failed, saying why" ||
    fail "fill with a stuck pump" "rc $rc after $t s: $out; $(simctl get fill-1)"

t0=$(date +%s.%N)
out=$("$ctl" drain rinse-1 2>&1)
rc=$?
t=$(since "$t0")
# 3 mL at 200 mL/min: 0.9 s (its "about" follows the time it ran: a loaded
# machine stops it a few ms late, 3.01 mL)
[ $rc = 0 ] && echo "$out" | grep -q "drain rinse-1: 'drain-1' runs 3.00 mL at 200.00 mL/min" &&
    echo "$out" | grep -Eq "dispensed about (2\.9[89]|3\.0[0-5]) mL \(200.00 mL/min for the time it ran; the pump has no volume counter\)" &&
    [ "$(field drain-1 running)" = 0 ] && awk -v d="$t" 'BEGIN { exit !(d >= 0.85 && d < 10) }' &&
    pass "drain rinse-1 with a pump without a counter: stops by time, and says so" ||
    fail "drain by time" "rc $rc after $t s: $out"
[ "$(sqlite3 "$d/lbl.db" "select count(*) from events where message like 'manual: % fill rinse-1 with ''fill-1''%' or message like 'manual: % drain rinse-1 with ''drain-1''%'")" = 3 ] &&
    pass "each fill and drain is an event" ||
    fail "fill and drain events" "$(sqlite3 "$d/lbl.db" "select message from events where message like 'manual:%'")"
sanitizer_clean "$LBL_TMP/lbld.err" lbld
exit "${LBL_FAILED:-0}"
