#!/bin/sh
# motion: {park: STATION} in the rig file: the substrate parks there (it was
# accepted and ignored, parking at the first station of kind park). A park
# naming no station, or a station of another kind, is refused at
# FILE:LINE:COL saying what was expected.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
rig="$LBL_TMP/rig.yaml"
make_rig dip-rig.yaml "$rig"
# a second park station, far from the first, named as the park
sed -i -e 's/^  safe_z: 20 mm$/  safe_z: 20 mm\n  park: park-b/' \
    -e 's/^  dryer: .*$/&\n  park-b:  {kind: park, x: 800 mm}/' "$rig"
grep -q "park: park-b" "$rig" && grep -q "park-b:  {kind: park" "$rig" ||
    fail "the test rig" "sed did not add the park"

out=$("$ctl" check-rig "$rig" 2>&1) && pass "a rig naming its park station is valid" ||
    fail "a rig naming its park station is valid" "$out"

sed 's/^  park: park-b$/  park: rinse-1/' "$rig" >"$LBL_TMP/kind.yaml"
out=$("$ctl" check-rig "$LBL_TMP/kind.yaml" 2>&1)
echo "$out" | grep -Eq "kind.yaml:[0-9]+:9: error: 'park': station 'rinse-1' is of kind rinse; expected a station of kind park" &&
    pass "park naming a rinse station refused at FILE:LINE:COL" ||
    fail "park naming a rinse station refused" "$out"
sed 's/^  park: park-b$/  park: nowhere/' "$rig" >"$LBL_TMP/none.yaml"
out=$("$ctl" check-rig "$LBL_TMP/none.yaml" 2>&1)
echo "$out" | grep -Eq "none.yaml:[0-9]+:9: error: 'park': no station 'nowhere' in stations" &&
    pass "park naming no station refused at FILE:LINE:COL" ||
    fail "park naming no station refused" "$out"

SIMCTL="$LBL_TMP/simrig.ctl"
start_simrig "$rig" --time-scale 50 --control "$SIMCTL" || exit 1
start_lbld "$rig" "$LBL_TMP/lbl.db" --time-scale 50 || exit 1
field() { simctl get "$1" | sed -n "s/.* $2=\([-0-9.]*\).*/\1/p; s/^ok $2=\([-0-9.]*\).*/\1/p" | head -1; }
"$ctl" move transfer 300mm >/dev/null 2>&1 || fail "move transfer" "refused"
out=$("$ctl" park 2>&1)
rc=$?
wait_for 30 sh -c "\"$ctl\" status | grep -q '^substrate: parked'"
x=$(field transfer position)
[ $rc = 0 ] && [ "$x" = 800.000 ] && pass "lblctl park goes to the named park station (x 800 mm)" ||
    fail "park goes to the named station" "rc $rc: $out; transfer at $x"
[ -z "${LBL_FAILED:-}" ]
