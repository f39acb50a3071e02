#!/bin/sh
# Manual control through lbld (lblctl move, jog, goto, stop, set, prime,
# fill, drain, reset) on the dip example rig and lbl-simrig, at real time: each
# command moves or runs what the simulator shows; targets beyond the
# rig's travel, flows beyond its max_flow and a sideways move with the
# substrate immersed are refused; 'set ... --for 2s' switches the pump off
# by itself; prime stops by the pump's volume counter (by time without
# one, at a backstop when it does not count); a client killed while
# 'prime' runs leaves the pump off, one killed during a move stops it; an
# e-stop, an abort and lbld's stop switch a manual output off; manual
# commands are refused while a batch runs and to a non-operator; a paused
# batch resumes from the safe height after manual moves (resume --operator
# NAME, lbl-web's, as well); every action is
# an event with the operator's login name (history --between).
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
db="$LBL_TMP/lbl.db"
make_rig dip-rig.yaml "$LBL_TMP/rig.yaml"
# fill-1 with a volume counter (the generic pump's), drain-1 without (the BT100S's)
sed -i 's/unit: 3, profile: bt100s-16/unit: 3, profile: generic-pump/' "$LBL_TMP/rig.yaml"
SIMCTL="$LBL_TMP/simrig.ctl"
start_simrig "$LBL_TMP/rig.yaml" --time-scale 1 --control "$SIMCTL" || exit 1
start_lbld "$LBL_TMP/rig.yaml" "$db" --time-scale 1 || exit 1

# field DEVICE NAME: one value of the simulator's state of a device
field() { simctl get "$1" | sed -n "s/.* $2=\([-0-9.]*\).*/\1/p; s/^ok $2=\([-0-9.]*\).*/\1/p" | head -1; }
state() { "$ctl" status | sed -n 's/^state: //p'; }
# is DEVICE NAME VALUE: whether the simulator's field has that value (for wait_for)
is() { [ "$(field "$1" "$2")" = "$3" ]; }

# ---- motion ----
out=$("$ctl" move lift 40mm 2>&1)
[ $? = 0 ] && [ "$(field lift position)" = 40.000 ] && pass "move lift 40mm: the lift is at 40 mm" ||
    fail "move lift 40mm" "$out; $(simctl get lift)"
out=$("$ctl" move transfer 300mm 2>&1)
rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "move refused: the substrate is immersed: lift 'lift' at 40.00 mm, below the safe height safe_z 20.00 mm" &&
    [ "$(field transfer position)" = 0.000 ] &&
    pass "a sideways move with the substrate immersed is refused, naming the lift and safe_z" ||
    fail "sideways move while immersed" "rc $rc: $out; $(simctl get transfer)"
out=$("$ctl" jog lift 500mm 2>&1)
rc=$?
[ $rc = 1 ] && echo "$out" | grep -q "jog refused: from 40.00 mm by +500.00 mm: 540.00 mm is beyond axis 'lift''s travel: travel_max is 150.00 mm in rig" &&
    [ "$(field lift position)" = 40.000 ] &&
    pass "a jog beyond the travel is refused, naming travel_max and its value" ||
    fail "jog beyond travel" "rc $rc: $out"
out=$("$ctl" jog lift -5mm 2>&1)
[ $? = 0 ] && [ "$(field lift position)" = 35.000 ] && pass "jog lift -5mm: 40 -> 35 mm" ||
    fail "jog lift -5mm" "$out; $(simctl get lift)"
out=$("$ctl" move lift 200mm 2>&1)
[ $? = 2 ] && echo "$out" | grep -q "travel_max is 150.00 mm" && pass "move beyond the travel refused (status 2)" ||
    fail "move beyond the travel" "$out"
out=$("$ctl" move lift 30mm --speed 500mm/s 2>&1)
[ $? = 2 ] && echo "$out" | grep -q "beyond axis 'lift''s max_speed, 50.00 mm/s" && pass "a speed beyond max_speed refused" ||
    fail "speed beyond max_speed" "$out"
out=$("$ctl" goto ag 2>&1)
[ $? = 0 ] && [ "$(field lift position)" = 20.000 ] && [ "$(field transfer position)" = 100.000 ] &&
    pass "goto ag: lift to the safe height, then over the station" || fail "goto ag" "$out; $(simctl get lift); $(simctl get transfer)"
out=$("$ctl" goto ag --immerse 2>&1)
[ $? = 0 ] && [ "$(field lift position)" = 120.000 ] && pass "goto ag --immerse: down to surface_z + max_depth" ||
    fail "goto --immerse" "$out; $(simctl get lift)"
out=$("$ctl" goto tca 2>&1)
[ $? = 0 ] && [ "$(field lift position)" = 20.000 ] && [ "$(field transfer position)" = 200.000 ] &&
    pass "goto from an immersion: up first, then across" || fail "goto from an immersion" "$out"
"$ctl" move lift 150mm >"$LBL_TMP/move.out" 2>&1 &
mp=$!
wait_for 5 is lift moving 1
"$ctl" stop >/dev/null 2>&1
wait $mp
rc=$?
sleep 0.3
p=$(field lift position)
[ $rc = 1 ] && grep -q "stopped: stopped with 'lblctl stop'" "$LBL_TMP/move.out" &&
    awk -v p="$p" 'BEGIN { exit !(p < 150) }' && [ "$(simctl get lift | sed -n 's/.* moving=\([01]\).*/\1/p')" = 0 ] &&
    pass "lblctl stop stops a move under way (lift stopped at $p mm)" ||
    fail "lblctl stop" "rc $rc: $(cat "$LBL_TMP/move.out"); $(simctl get lift)"
"$ctl" move lift 20mm >/dev/null 2>&1
# stop during a park: the park ends, not parked, and says so
"$ctl" move lift 150mm >/dev/null 2>&1
"$ctl" park >/dev/null 2>&1
wait_for 5 is lift moving 1
out=$("$ctl" stop 2>&1)
rc=$?
sleep 0.3
p=$(field lift position)
[ $rc = 0 ] && is lift moving 0 && awk -v p="$p" 'BEGIN { exit !(p > 20) }' &&
    wait_for 10 sh -c "'$ctl' status | grep -q 'the last park failed'" &&
    pass "lblctl stop stops a park under way (lift stopped at $p mm; status: the last park failed)" ||
    fail "stop during a park" "rc $rc: $out; $(simctl get lift); $("$ctl" status)"
"$ctl" move lift 20mm >/dev/null 2>&1
"$ctl" move lift 150mm >/dev/null 2>&1 &
mp=$!
wait_for 5 is lift moving 1
kill $mp
wait $mp 2>/dev/null
wait_for 5 is lift moving 0 && p=$(field lift position) && awk -v p="$p" 'BEGIN { exit !(p < 150) }' &&
    pass "a move whose client is killed stops (lift stopped at $p mm)" || fail "killed move" "$(simctl get lift)"
"$ctl" move lift 20mm >/dev/null 2>&1

# ---- outputs ----
t0=$(date +%s.%N)
"$ctl" set fill-1 on --for 2s >"$LBL_TMP/set.out" 2>&1 &
sp=$!
wait_for 5 is fill-1 running 1 &&
    pass "set fill-1 on: the simulator's pump runs" || fail "set fill-1 on" "$(simctl get fill-1)"
"$ctl" status | grep -q "^manual: manual output 'fill-1' is on ('lblctl set fill-1 off')$" &&
    "$ctl" status --json | /usr/bin/python3 -c 'import json,sys; m=json.load(sys.stdin)["manual"]; sys.exit(0 if "fill-1" in m else 1)' &&
    pass "status (and --json) names the output on by hand" || fail "status names it" "$("$ctl" status)"
wait $sp
rc=$?
t1=$(date +%s.%N)
[ $rc = 0 ] && [ "$(field fill-1 running)" = 0 ] && awk -v a="$t0" -v b="$t1" 'BEGIN { d = b - a; exit !(d >= 1.8 && d < 10) }' &&
    grep -q "fill-1 off after 2.0 s: its time was up" "$LBL_TMP/set.out" &&
    pass "set fill-1 on --for 2s: off by itself after 2 s (the simulator: running=0)" ||
    fail "set --for 2s" "rc $rc: $(cat "$LBL_TMP/set.out"); $(simctl get fill-1)"
out=$("$ctl" set fill-1 500mL/min 2>&1)
[ $? = 2 ] && echo "$out" | grep -q "500.00 mL/min is beyond pump 'fill-1''s max_flow, 100.00 mL/min in rig" &&
    pass "a flow beyond max_flow refused, naming it" || fail "flow beyond max_flow" "$out"
out=$("$ctl" set stir-ag 2000rpm 2>&1)
[ $? = 2 ] && echo "$out" | grep -q "max_rpm, 1000 rpm" && pass "an rpm beyond max_rpm refused" || fail "rpm beyond max_rpm" "$out"
v0=$(field fill-1 volume)
out=$("$ctl" prime fill-1 2mL --flow 60mL/min 2>&1)
rc=$?
v1=$(field fill-1 volume)
[ $rc = 0 ] && echo "$out" | grep -q "its volume counter counted 2\.[0-9][0-9] mL of 2.00 mL; dispensed 2\.[0-9][0-9] mL (the pump's volume counter)" &&
    [ "$(field fill-1 running)" = 0 ] && awk -v a="$v0" -v b="$v1" 'BEGIN { d = b - a; exit !(d >= 2 && d < 2.6) }' &&
    pass "prime fill-1 2mL: stopped by its volume counter, reporting what it counted (simulator: $v0 -> $v1 mL)" ||
    fail "prime by the counter" "rc $rc: $out; $v0 -> $v1"
out=$("$ctl" prime drain-1 2mL --flow 60mL/min 2>&1)
[ $? = 0 ] && echo "$out" | grep -Eq "dispensed about 2\.[0-2][0-9] mL \(60.00 mL/min for the time it ran; the pump has no volume counter\)" &&
    [ "$(field drain-1 running)" = 0 ] &&
    pass "prime of a pump without a counter: stops by time at the flow, and says so" || fail "prime by time" "$out"
simctl fault fill-1 stuck >/dev/null
t0=$(date +%s.%N)
out=$("$ctl" prime fill-1 1mL --flow 60mL/min 2>&1)
rc=$?
t1=$(date +%s.%N)
simctl clear fill-1 >/dev/null
[ $rc = 1 ] && echo "$out" | grep -q "had not counted the volume by the backstop" &&
    awk -v a="$t0" -v b="$t1" 'BEGIN { d = b - a; exit !(d >= 1.4 && d < 10) }' &&
    pass "a pump whose counter does not count stops at the backstop (the time at the flow and half), failed" ||
    fail "prime with a stuck pump" "rc $rc: $out"
"$ctl" prime fill-1 50mL --flow 10mL/min >/dev/null 2>&1 &
pp=$!
wait_for 5 is fill-1 running 1
kill -9 $pp
wait $pp 2>/dev/null
wait_for 5 is fill-1 running 0 &&
    pass "a client killed while prime runs leaves the pump off" || fail "killed prime" "$(simctl get fill-1)"
"$ctl" fill rinse-1 >"$LBL_TMP/fill.out" 2>&1 &
fp=$!
wait_for 5 is fill-1 running 1 &&
    grep -q "fill rinse-1: 'fill-1' runs 300.00 mL at 100.00 mL/min" "$LBL_TMP/fill.out" &&
    pass "fill rinse-1 runs the station's fill pump for its volume" || fail "fill" "$(cat "$LBL_TMP/fill.out")"
out=$("$ctl" prime fill-1 1mL 2>&1)
[ $? = 1 ] && echo "$out" | grep -q "'fill-1' is on by hand already (fill)" && pass "a pump on by hand is not started twice" ||
    fail "a pump on by hand twice" "$out"
"$ctl" set fill-1 off >/dev/null 2>&1
wait $fp
[ $? = 0 ] && [ "$(field fill-1 running)" = 0 ] && grep -q "switched off with 'lblctl set off'" "$LBL_TMP/fill.out" &&
    pass "set fill-1 off ends the fill, and its client hears it" || fail "set off ends the fill" "$(cat "$LBL_TMP/fill.out")"
out=$("$ctl" drain tca 2>&1)
[ $? = 2 ] && echo "$out" | grep -q "station 'tca' has no drain pump" && pass "drain of a station without a drain pump refused" ||
    fail "drain without a pump" "$out"

# reset: a stirrer's alarm cleared by its profile's 'reset'; a pump whose profile has none refused
simctl fault stir-ag alarm >/dev/null
out=$("$ctl" reset stir-ag 2>&1)
rc=$?
[ $rc = 0 ] && echo "$out" | grep -q "stir-ag: alarm cleared" && simctl get stir-ag | grep -q 'fault=none' &&
    pass "reset stir-ag clears its alarm (the simulator: fault=none)" || fail "reset stir-ag" "rc $rc: $out; $(simctl get stir-ag)"
out=$("$ctl" reset drain-1 2>&1)
[ $? = 2 ] && echo "$out" | grep -q "device 'drain-1' has no operation that clears its alarm (its profile bt100s-16 has no 'reset')" &&
    pass "reset of a pump whose profile has no reset refused, naming the profile" || fail "reset without the op" "$out"

# an e-stop switches a manual output off, and refuses motion until released
"$ctl" set drain-1 on >"$LBL_TMP/estop.out" 2>&1 &
ep=$!
wait_for 5 is drain-1 running 1
printf '0\n' >"$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in"	# active low: 0 is pressed
wait $ep
rc=$?
[ $rc = 1 ] && [ "$(field drain-1 running)" = 0 ] && grep -q "e-stop 'estop' engaged" "$LBL_TMP/estop.out" &&
    pass "an e-stop switches a manual pump off and its client hears why" ||
    fail "e-stop and a manual pump" "rc $rc: $(cat "$LBL_TMP/estop.out"); $(simctl get drain-1)"
out=$("$ctl" move lift 30mm 2>&1)
[ $? = 1 ] && echo "$out" | grep -q "move refused: e-stop 'estop' is engaged" && pass "motion refused with the e-stop engaged" ||
    fail "motion with the e-stop engaged" "$out"
printf '1\n' >"$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in"
wait_for 5 sh -c "'$ctl' move lift 20mm" || fail "motion after the e-stop's release" "$("$ctl" move lift 20mm 2>&1)"

# ---- who may, and when ----
if test_users; then
	out=$(as_viewer "$ctl" move lift 30mm 2>&1)
	[ $? = 1 ] && echo "$out" | grep -q "move: permission denied" && pass "manual commands refused to a non-operator" ||
	    fail "manual commands as a viewer" "$out"
	out=$(as_operator "$ctl" move lift 25mm 2>&1)
	[ $? = 0 ] && [ "$(sqlite3 "$db" "select count(*) from events where kind = 'operator' and device = 'lift' and message like 'manual: $OPERATOR (uid $OPERATOR_UID): move lift to 25.00 mm'")" = 1 ] &&
	    pass "a manual action is an event with the operator's login name" ||
	    fail "event with the login name" "$out; $(sqlite3 "$db" "select message from events where kind = 'operator'" | tail -3)"
	"$ctl" move lift 20mm >/dev/null 2>&1
fi
n=$(sqlite3 "$db" "select count(*) from events where kind = 'operator' and batch_id is null and message like 'manual: root (uid 0): set fill-1 on%'")
[ "$n" -ge 1 ] && pass "manual actions between batches are events outside any batch ($n set fill-1 on)" ||
    fail "events between batches" "$n"
out=$("$ctl" history --between 2>&1)
[ $? = 0 ] && echo "$out" | grep -q "operator  lift: manual: root (uid 0): move lift to 40.00 mm" &&
    pass "history --between lists them" || fail "history --between" "$out"

recipe="$LBL_TMP/r.yaml"
cat >"$recipe" <<'YAML'
name: manual-test
version: "1"
process: dip
substrate: {name: glass, area: 4 cm2}
target: {bilayers: 2}
growth: {model: linear, per_bilayer: 1 nm}
resume: allowed
solutions:
  pa: {station: ag, volume: 200 mL}
  pb: {station: tca, volume: 200 mL}
  w: {station: rinse-2, rinse: true, volume: 300 mL}
cycle:
  - dip: {solution: pa, dwell: 30s, depth: 20 mm}
  - rinse: {solution: w, dwell: 1s}
  - dip: {solution: pb, dwell: 30s, depth: 20 mm}
  - rinse: {solution: w, dwell: 1s}
YAML
# immersed_at X: the transfer at X mm and the lift below the surface (60 mm)
immersed_at() { [ "$(field transfer position)" = "$1" ] && awk -v p="$(field lift position)" 'BEGIN { exit !(p > 60) }'; }
out=$("$ctl" run "$recipe" --operator ci 2>&1)
wait_for 30 immersed_at 100.000 || fail "the batch's first dip" "$out; $(state); $(simctl get lift)"
out=$("$ctl" move lift 30mm 2>&1)
[ $? = 1 ] && echo "$out" | grep -q "move refused: batch 1 is running" && pass "manual commands refused while a batch runs" ||
    fail "manual commands during a run" "$out"
out=$("$ctl" set fill-1 on 2>&1)
[ $? = 1 ] && echo "$out" | grep -q "set refused: batch 1 is running" && pass "set refused while a batch runs" ||
    fail "set during a run" "$out"
out=$("$ctl" stop 2>&1)
[ $? = 1 ] && echo "$out" | grep -q "stop refused: batch 1 is" && pass "lblctl stop refused while a batch runs (pause --now, abort)" ||
    fail "stop during a run" "$out"
"$ctl" pause --now >/dev/null 2>&1
wait_for 30 sh -c "\"$ctl\" status | grep -q '^state: paused'" && pass "paused (--now) for manual moves" ||
    fail "pause --now" "$(state)"
out=$("$ctl" goto tca --immerse 2>&1)
[ $? = 0 ] && [ "$(field lift position)" = 120.000 ] && [ "$(field transfer position)" = 200.000 ] &&
    pass "manual motion allowed while the batch is paused" || fail "manual motion while paused" "$out"
"$ctl" set stir-ag 300rpm >"$LBL_TMP/stir.out" 2>&1 &
sp=$!
wait_for 5 is stir-ag running 1
out=$("$ctl" resume 2>&1)
[ $? = 1 ] && echo "$out" | grep -q "resume refused: manual output 'stir-ag' is on ('lblctl set stir-ag off')" &&
    pass "resume refused while a manual output is on, naming it" || fail "resume with a manual output on" "$out"
"$ctl" set stir-ag off >/dev/null 2>&1
wait $sp
[ $? = 0 ] && [ "$(field stir-ag running)" = 0 ] && pass "set stir-ag off ends the other client's set" ||
    fail "set off from another client" "$(cat "$LBL_TMP/stir.out")"
out=$("$ctl" resume 2>&1)
rc=$?
[ $rc = 0 ] && echo "$out" | grep -q "the lift goes to the safe height (20.00 mm) first" &&
    pass "resume after manual moves: the lift goes to the safe height first" || fail "resume after manual moves" "rc $rc: $out"
wait_for 30 immersed_at 100.000 && [ "$(sqlite3 "$db" "select state from batches where id = 1")" = running ] &&
    pass "the batch runs on from the safe height: its step again, in ag" ||
    fail "the batch runs on" "$(state); $(sqlite3 "$db" "select state, failure_cause from batches where id = 1"); $(tail -3 "$LBL_TMP/lbld.err")"
# the same for a resume on someone's behalf (lbl-web's, resume --operator NAME)
"$ctl" pause --now >/dev/null 2>&1
wait_for 30 sh -c "\"$ctl\" status | grep -q '^state: paused'" || fail "pause --now again" "$(state)"
"$ctl" goto tca --immerse >/dev/null 2>&1 || fail "manual motion in the second pause" "$(state)"
out=$(/usr/bin/python3 - "$LBL_SOCKET" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(60); s.connect(sys.argv[1])
s.sendall(b"resume\t--operator\tweb-x via lbl-web\n")
data = b""
while not any(l.startswith((b"ok", b"fail ")) for l in data.split(b"\n")[:-1]):
    c = s.recv(4096)
    if not c:
        break
    data += c
print(data.decode())
PY
)
echo "$out" | grep -q "the lift goes to the safe height (20.00 mm) first" && echo "$out" | grep -q '^ok' &&
    pass "resume --operator after manual moves: the lift goes to the safe height first too" ||
    fail "resume --operator after manual moves" "$out"
n=$(sqlite3 "$db" "select count(*) from events where batch_id = 1 and kind = 'resume' and message like '%by web-x via lbl-web (uid 0)'")
[ "$n" = 1 ] && pass "that resume is recorded under the name it was made for" || fail "resume --operator recorded" "$n"
wait_for 30 immersed_at 100.000 && [ "$(sqlite3 "$db" "select state from batches where id = 1")" = running ] &&
    pass "the batch runs on from the safe height after resume --operator" ||
    fail "the batch runs on after resume --operator" "$(state); $(simctl get lift)"
"$ctl" pause --now >/dev/null 2>&1
wait_for 30 sh -c "\"$ctl\" status | grep -q '^state: paused'"
"$ctl" set drain-1 on >"$LBL_TMP/drain.out" 2>&1 &
dp=$!
wait_for 5 is drain-1 running 1
"$ctl" abort >/dev/null 2>&1
wait $dp
rc=$?
[ $rc = 1 ] && grep -q "the batch was aborted" "$LBL_TMP/drain.out" && wait_for 5 is drain-1 running 0 &&
    pass "an abort of the paused batch switches a manual output off, and its client hears it" ||
    fail "abort with a manual output on" "rc $rc: $(cat "$LBL_TMP/drain.out"); $(simctl get drain-1)"
wait_for 60 sh -c "\"$ctl\" status | grep -q '^state: idle'" || fail "abort" "$(state)"
n=$(sqlite3 "$db" "select count(*) from events where batch_id = 1 and kind = 'operator' and message like 'manual: root (uid 0): goto tca --immerse%'")
[ "$n" = 2 ] && pass "a manual action during a pause is an event of the paused batch (one in each pause)" ||
    fail "event of the paused batch" "$n"

# lbld's stop switches a manual output off, and its client hears why
"$ctl" set fill-1 on >"$LBL_TMP/stop.out" 2>&1 &
op=$!
wait_for 5 is fill-1 running 1
kill "$LBLD_PID"
wait "$LBLD_PID"
wait $op
rc=$?
[ $rc = 1 ] && grep -q "lbld is stopping" "$LBL_TMP/stop.out" && is fill-1 running 0 &&
    pass "lbld's stop switches a manual pump off, and its client hears why" ||
    fail "lbld's stop with a manual pump on" "rc $rc: $(cat "$LBL_TMP/stop.out"); $(simctl get fill-1)"

sanitizer_clean "$LBL_TMP/lbld.err" lbld
