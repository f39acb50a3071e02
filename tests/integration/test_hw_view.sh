#!/bin/sh
# lblctl hw (issue 17): with lbld running, lbld answers: every device as it
# sees it, the e-stop at the level lbld acts on (an engaged e-stop shows
# ENGAGED in the table, in --json and in lbld's safety line alike); with
# no lbld, lblctl probes directly, and a GPIO chip that cannot be opened
# fails its own line only: the other devices are still in the table.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
d="$LBL_TMP/hw"
mkdir -p "$d" "$LBL_TMP/gpio"
make_rig dip-rig.yaml "$d/rig.yaml"
SIMCTL="$d/simrig.ctl"
start_simrig "$d/rig.yaml" --control "$SIMCTL" || exit 1

# ---- no lbld: the direct probe, one chip missing ----
# the door's chip is a plain file where the simulated chip's directory
# would be: its line cannot be opened, as with a chip that is not there
sed 's/chip: pinctrl-bcm2711, line: GPIO22/chip: absent-chip, line: GPIO22/' "$d/rig.yaml" >"$d/rig-nochip.yaml"
: >"$LBL_TMP/gpio/absent-chip"
out=$(LBL_SOCKET="$d/none.sock" "$ctl" hw --rig "$d/rig-nochip.yaml" --gpio-sim "$LBL_TMP/gpio" 2>&1)
rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "^door  *input  *gpio absent-chip/GPIO22  *no  " &&
    pass "direct probe: the device on a missing chip is a line of its own, saying why" ||
    fail "direct probe: the missing chip's device" "rc $rc: $out"
[ "$(echo "$out" | grep -c ' yes ')" = 10 ] && echo "$out" | grep -q "^estop .* yes  *released" &&
    pass "direct probe: every other device is still in the table" ||
    fail "direct probe: every other device is in the table" "$out"
echo "$out" | grep -q "^probed directly (no lbld answers on $d/none.sock)" &&
    echo "$out" | grep -q "1 of 11 devices did not answer" &&
    pass "direct probe: says it probed directly and how many did not answer" ||
    fail "direct probe: says how" "$out"
out=$(LBL_SOCKET="$d/none.sock" "$ctl" hw --json --rig "$d/rig-nochip.yaml" --gpio-sim "$LBL_TMP/gpio" 2>/dev/null)
echo "$out" | /usr/bin/python3 -c '
import json, sys
h = json.load(sys.stdin)
dev = {x["name"]: x for x in h["devices"]}
ok = h["source"] == "probe" and len(dev) == 11 and not dev["door"]["reachable"] and \
    "absent-chip" in dev["door"]["error"] and dev["lift"]["reachable"] and \
    dev["lift"]["position_mm"] == 0 and dev["estop"]["engaged"] is False
sys.exit(0 if ok else 1)' 2>/dev/null &&
    pass "direct probe --json: every device, the missing one with its error" ||
    fail "direct probe --json" "$out"

# ---- lbld runs: lbld answers ----
start_lbld "$d/rig.yaml" "$d/lbl.db" || exit 1
out=$("$ctl" hw 2>&1)
rc=$?
[ $rc = 0 ] && [ "$(echo "$out" | grep -c ' yes ')" = 11 ] &&
    echo "$out" | grep -q "^as lbld sees rig dip-rig-1; safety: e-stop and interlocks released$" &&
    pass "lblctl hw with lbld: lbld answers for every device" ||
    fail "lblctl hw with lbld" "rc $rc: $out"
printf '0\n' >"$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in"	# active low: 0 is pressed
wait_for 5 sh -c "'$ctl' status | grep -q '^safety: .*estop'"
st=$("$ctl" status | sed -n 's/^safety: //p')
out=$("$ctl" hw 2>&1)
echo "$out" | grep -q "^estop .* yes  *ENGAGED" && echo "$out" | grep -qF "; safety: $st" &&
    pass "lblctl hw shows the e-stop engaged as lbld does ($st)" ||
    fail "lblctl hw shows lbld's e-stop" "status says '$st'; hw: $out"
out=$("$ctl" hw --json 2>/dev/null)
echo "$out" | /usr/bin/python3 -c '
import json, sys
h = json.load(sys.stdin)
dev = {x["name"]: x for x in h["devices"]}
sys.exit(0 if h["source"] == "lbld" and dev["estop"]["engaged"] is True and h["safety"] else 1)' 2>/dev/null &&
    pass "lblctl hw --json through lbld: the e-stop engaged, lbld's safety line" ||
    fail "lblctl hw --json through lbld" "$out"
printf '1\n' >"$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in"
wait_for 5 sh -c "'$ctl' hw | grep -q '^estop .* released'" &&
    pass "released again: lblctl hw follows lbld" || fail "released again" "$("$ctl" hw 2>&1)"

# a device silenced in the simulator: its line says so, the rest are there
simctl fault qcm silent >/dev/null
out=$("$ctl" hw 2>&1)
rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "^qcm .* no  *device 'qcm'" &&
    [ "$(echo "$out" | grep -c ' yes ')" = 10 ] &&
    pass "a silent device through lbld: named, every other device in the table" ||
    fail "a silent device through lbld" "rc $rc: $out"
simctl clear qcm >/dev/null
if test_users; then
	chmod 0755 "$d" "$LBL_TMP"
	out=$(as_viewer "$ctl" hw 2>&1)
	[ $? = 0 ] && echo "$out" | grep -q "^as lbld sees rig" &&
	    pass "any local user may view lblctl hw" || fail "a viewer may view lblctl hw" "$out"
fi
sanitizer_clean "$LBL_TMP/lbld.err" lbld
exit "${LBL_FAILED:-0}"
