#!/bin/sh
# lbl-mqtt against a private mosquitto, a real lbld and lbl-simrig: its
# configuration's mistakes named FILE:LINE:COL; a batch followed on the
# broker (the retained lbl/RIG/status through the bilayers, every event
# of lbld's record on lbl/RIG/event with QoS 1, Home Assistant's discovery
# configs valid JSON with the keys it reads); the broker restarted
# mid-batch (the retained status back within seconds, no event lost);
# messages published to lbl/RIG/... by someone else change nothing on the
# rig; lbld stopped and started again (the status says unreachable, then
# recovers); lbl-mqtt killed -9 (its last will marks it offline) and
# stopped cleanly (offline too).
set -u
. "$LBL_TOP/tests/integration/lib.sh"
. "$LBL_TOP/tests/integration/mqtt_lib.sh"
mqtt="$LBL_BUILD/lbl-mqtt"
[ -x "$mqtt" ] || { fail "lbl-mqtt" "$mqtt is missing"; exit 1; }

# ---- the configuration's mistakes, FILE:LINE:COL, exit 2 ----
printf 'broker: "host:99999"\nrig: "dip/1"\ncolour: blue\nkeepalive: 2s\ntls: {cert: /x}\n' \
    >"$LBL_TMP/bad.yaml"
"$mqtt" --config "$LBL_TMP/bad.yaml" --check >"$LBL_TMP/bad.out" 2>&1; rc=$?
[ $rc = 2 ] && grep -q "bad.yaml:1:9: error: broker: the port" "$LBL_TMP/bad.out" &&
    grep -q "bad.yaml:2:6: error: rig: 'dip/1' cannot name a topic level" "$LBL_TMP/bad.out" &&
    grep -q "bad.yaml:3:1: error: .*colour" "$LBL_TMP/bad.out" &&
    grep -q "bad.yaml:4:12: error: keepalive:" "$LBL_TMP/bad.out" &&
    grep -q "bad.yaml:5:6: error: .*ca" "$LBL_TMP/bad.out" &&
    pass "config errors: FILE:LINE:COL, exit 2" ||
    fail "config errors: FILE:LINE:COL, exit 2" "rc $rc: $(cat "$LBL_TMP/bad.out")"
for name in 'a+b' 'a#' 'two words' "$(printf 'tab\there')"; do
	printf 'broker: "127.0.0.1:1883"\nrig: "%s"\n' "$name" >"$LBL_TMP/rig-name.yaml"
	"$mqtt" --config "$LBL_TMP/rig-name.yaml" --check >"$LBL_TMP/rig-name.out" 2>&1 &&
	    fail "rig name '$name' refused" "accepted" || {
		grep -q "rig-name.yaml:2:6: error: rig:" "$LBL_TMP/rig-name.out" &&
		    pass "rig name '$name' refused" ||
		    fail "rig name '$name' refused" "$(cat "$LBL_TMP/rig-name.out")"; }
done
# a password in a file every user may read is refused
printf 'broker: "127.0.0.1:1883"\nrig: r1\nusername: u\npassword: secret\n' >"$LBL_TMP/open.yaml"
chmod 0644 "$LBL_TMP/open.yaml"
"$mqtt" --config "$LBL_TMP/open.yaml" --check >"$LBL_TMP/open.out" 2>&1 &&
    fail "world-readable password refused" "accepted" || {
	grep -q "open.yaml:4:11: error: .*every user may read it" "$LBL_TMP/open.out" &&
	    pass "world-readable password refused" ||
	    fail "world-readable password refused" "$(cat "$LBL_TMP/open.out")"; }
chmod 0640 "$LBL_TMP/open.yaml"
"$mqtt" --config "$LBL_TMP/open.yaml" --check >"$LBL_TMP/open.out" 2>&1 &&
    grep -q "ok: broker 127.0.0.1:1883 with a username, rig r1" "$LBL_TMP/open.out" &&
    pass "config: --check accepts a private one" ||
    fail "config: --check accepts a private one" "$(cat "$LBL_TMP/open.out")"

# ---- a rig, its lbld, a broker and lbl-mqtt ----
make_rig dip-rig.yaml "$LBL_TMP/rig.yaml"
db="$LBL_TMP/lbl.db"
start_simrig "$LBL_TMP/rig.yaml" --time-scale 50 || exit 1
start_lbld "$LBL_TMP/rig.yaml" "$db" --time-scale 50 || exit 1
start_broker broker || exit 1
cat >"$LBL_TMP/mqtt.yaml" <<EOY
broker: "127.0.0.1:$BROKER_PORT"
rig: dip-1
discovery: true
keepalive: 5s
EOY
chmod 0600 "$LBL_TMP/mqtt.yaml"
start_mqtt mqtt "$LBL_TMP/mqtt.yaml" || exit 1
topic=lbl/dip-1

status_is() {
	retained "$topic/status" 1 | grep -q "$1"
}
wait_for 10 status_is '"state":"idle"' &&
    pass "status: retained, idle" || fail "status: retained, idle" "$(retained "$topic/status")"
s=$(retained "$topic/status")
[ "$(echo "$s" | json_field rig)" = dip-1 ] && [ "$(echo "$s" | json_field lbld)" = reachable ] &&
    pass "status: names the rig, lbld reachable" || fail "status: names the rig, lbld reachable" "$s"
[ "$(retained "$topic/online")" = online ] && pass "online: retained birth" ||
    fail "online: retained birth" "$(retained "$topic/online")"

# Home Assistant's discovery: a config per sensor, each valid JSON with the keys it reads
mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -v -t 'homeassistant/sensor/lbl_dip-1/+/config' \
    -C 6 -W 5 >"$LBL_TMP/discovery" 2>&1
/usr/bin/python3 - "$LBL_TMP/discovery" <<'PY'
import json, sys
def ok(name, cond, why=""):
    print(("PASS %s" % name) if cond else ("FAIL %s: %s" % (name, why)), flush=True)
lines = [l.rstrip("\n") for l in open(sys.argv[1]) if l.strip()]
configs = {}
for l in lines:
    topic, _, payload = l.partition(" ")
    try:
        configs[topic.split("/")[3]] = json.loads(payload)
    except (ValueError, IndexError) as e:
        ok("discovery: valid JSON", False, "%s: %s" % (topic, e))
want = {"state", "recipe", "bilayer", "step", "finish", "thickness"}
ok("discovery: a config per sensor", set(configs) == want, sorted(configs))
keys = {"name", "unique_id", "state_topic", "value_template", "availability_topic",
        "payload_available", "payload_not_available", "device"}
bad = [k for k, c in configs.items() if not keys <= set(c)]
ok("discovery: the keys Home Assistant reads", not bad, bad)
ok("discovery: state topic and availability", all(c.get("state_topic") == "lbl/dip-1/status" and
   c.get("availability_topic") == "lbl/dip-1/online" for c in configs.values()), configs)
ids = [c.get("unique_id") for c in configs.values()]
ok("discovery: unique ids", len(set(ids)) == len(ids) and all(ids), ids)
dev = [c.get("device", {}) for c in configs.values()]
ok("discovery: one device for the rig", all(d.get("identifiers") == ["lbl_dip-1"] for d in dev) and
   all(d.get("name") == "lbl dip-1" for d in dev), dev)
ok("discovery: thickness in nm, finish a timestamp",
   configs.get("thickness", {}).get("unit_of_measurement") == "nm" and
   configs.get("finish", {}).get("device_class") == "timestamp", configs.get("thickness"))
PY

# ---- a batch, followed on the broker ----
# capture: retained flag, QoS, topic, payload, one message a line
capture() {
	mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -F '%r %q %t %p' -t "$topic/#" \
	    >"$LBL_TMP/$1" 2>"$LBL_TMP/$1.err" &
	CAPTURE_PID=$!
	LBL_PIDS="$LBL_PIDS $CAPTURE_PID"
	wait_for 5 grep -q "$topic/status" "$LBL_TMP/$1"
}
capture cap1 || fail "capture" "mosquitto_sub heard nothing: $(cat "$LBL_TMP/cap1.err")"
CAP1=$CAPTURE_PID
# six bilayers behind a prompt, measured each: about 30 s at time scale 50
cat >"$LBL_TMP/six.yaml" <<'EOR'
name: mqtt-six
version: "1"
process: dip
substrate: {name: test coupon, area: 18 cm2, dragout: 0.1 mL}
target: {bilayers: 6}
growth: {model: linear, per_bilayer: 20 nm}
resume: allowed
drip: 1s
solutions:
  taa: {station: taa, volume: 200 mL}
  cnt: {station: cnt, volume: 200 mL}
  water: {station: rinse-2, rinse: true, volume: 250 mL}
pre:
  - prompt: Clamp the coupon in the holder
cycle:
  - dip: {solution: taa, dwell: 60s, speed_in: 20 mm/s, speed_out: 20 mm/s}
  - rinse: {solution: water, dwell: 20s}
  - dip: {solution: cnt, dwell: 60s, speed_in: 20 mm/s, speed_out: 20 mm/s}
  - rinse: {solution: water, dwell: 20s}
every:
  - bilayers: 1
    do:
      - measure: {sensor: gauge, method: gauge, settle: 5s}
EOR
answer_prompts >"$LBL_TMP/prompts" 2>&1 &
PROMPTS_PID=$!
LBL_PIDS="$LBL_PIDS $PROMPTS_PID"
"$LBL_BUILD/lblctl" run "$LBL_TMP/six.yaml" --operator ci >/dev/null || { fail "run" "refused"; exit 1; }
wait_for 30 status_is '"bilayer":2,' && pass "status: follows the batch to bilayer 2" ||
    fail "status: follows the batch to bilayer 2" "$(retained "$topic/status")"
s=$(retained "$topic/status")
[ "$(echo "$s" | json_field state)" = running ] && [ "$(echo "$s" | json_field batch)" = 1 ] &&
    [ "$(echo "$s" | json_field recipe)" = mqtt-six ] && [ "$(echo "$s" | json_field bilayers)" = 6 ] &&
    echo "$s" | json_field finish | grep -Eq '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' &&
    pass "status: state, batch, recipe, bilayers, finish time" ||
    fail "status: state, batch, recipe, bilayers, finish time" "$s"

# ---- the broker restarted mid-batch: no retained status at first, then back ----
# events while the broker is away (a pause and a resume, by lblctl) wait in
# lbl-mqtt's queue and are published when it is back
stop_pid "$BROKER_PID"
"$LBL_BUILD/lblctl" pause >/dev/null 2>&1 || fail "pause while the broker is away" "refused"
wait_for 10 sh -c "'$LBL_BUILD/lblctl' status | grep -q '^state: paused'"
"$LBL_BUILD/lblctl" resume >/dev/null 2>&1 || fail "resume while the broker is away" "refused"
# past lbl-mqtt's first retry (1 s), so its next (2 s later) finds the new
# capture subscribed
sleep 1
start_broker broker "$BROKER_PORT" || { fail "broker restarts" "$(tail -5 "$LBL_TMP/broker.log")"; exit 1; }
t0=$(date +%s%N)
capture cap2
if wait_for 15 status_is '"state":"running"'; then
	ms=$((($(date +%s%N) - t0) / 1000000))
	pass "broker restarted: the retained status back in ${ms} ms"
else
	fail "broker restarted: the retained status back" "$(tail -5 "$LBL_TMP/mqtt.err")"
fi
[ "$(retained "$topic/online")" = online ] && pass "broker restarted: online again" ||
    fail "broker restarted: online again" "$(retained "$topic/online")"

# ---- someone else publishes to the rig's topics: nothing changes on the rig ----
before=$(sqlite3 "$db" "select max(id) from events")
for t in "$topic/command" "$topic/status" "$topic/event" "$topic/abort" "$topic/set/pause"; do
	mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -t "$t" -m abort
	mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -t "$t" -m '{"state":"idle","command":"estop"}'
done
mosquitto_pub -h 127.0.0.1 -p "$BROKER_PORT" -q 1 -t homeassistant/status -m online
wait_for 5 grep -q "Home Assistant announced itself" "$LBL_TMP/mqtt.err" &&
    pass "Home Assistant's birth: discovery sent again" ||
    fail "Home Assistant's birth: discovery sent again" "$(tail -3 "$LBL_TMP/mqtt.err")"
sleep 1
"$LBL_BUILD/lblctl" status | grep -Eq '^state: (running|prompt)' &&
    [ "$(sqlite3 "$db" "select count(*) from events where id > $before and kind in ('abort','estop','pause','operator')")" = 0 ] &&
    pass "read-only: messages to lbl/dip-1/... change nothing on the rig" ||
    fail "read-only: messages to lbl/dip-1/... change nothing on the rig" \
        "$("$LBL_BUILD/lblctl" status | head -2); $(sqlite3 "$db" "select kind, message from events where id > $before")"

# ---- the batch ends; what was published against lbld's record ----
wait_for 90 sh -c "[ \"\$(sqlite3 '$db' 'select state from batches where id=1')\" = completed ]" ||
    fail "batch completes" "$(sqlite3 "$db" 'select state from batches where id=1')"
wait_for 10 status_is '"state":"idle"' && pass "status: idle after the batch" ||
    fail "status: idle after the batch" "$(retained "$topic/status")"
sleep 1
sqlite3 -separator '	' "$db" "select kind, message from events where batch_id = 1 order by id" \
    >"$LBL_TMP/db-events"
# an lbld without the event stream is followed for its status alone (said in the log)
events=1
grep -q "has no event stream" "$LBL_TMP/mqtt.err" && events=0
/usr/bin/python3 - "$LBL_TMP/cap1" "$LBL_TMP/cap2" "$LBL_TMP/db-events" "$events" <<'PY'
import json, sys
def ok(name, cond, why=""):
    print(("PASS %s" % name) if cond else ("FAIL %s: %s" % (name, why)), flush=True)
# the first capture hears all (mosquitto_sub reconnects when the broker is
# back), the second from the restart on
def read(f):
    out = []
    for l in open(f, errors="replace"):
        parts = l.rstrip("\n").split(" ", 3)
        if len(parts) == 4:
            out.append(parts)
    return out
first, second = read(sys.argv[1]), read(sys.argv[2])
msgs = first
status = []
for r, q, t, p in msgs:
    if t.endswith("/status"):
        try:
            status.append(json.loads(p))
        except ValueError:
            pass    # someone else's "abort", published above
mine = [s for s in status if s.get("rig") == "dip-1"]
ok("status: every one lbl-mqtt published is valid JSON with its rig", len(mine) >= 6, len(mine))
def bilayers(msgs):
    out = []
    for r, q, t, p in msgs:
        try:
            s = json.loads(p) if t.endswith("/status") else {}
        except ValueError:
            continue
        # bilayer 0: the steps before the first (the prompt, homing) and after the last
        if s.get("rig") == "dip-1" and s.get("state") == "running" and s.get("batch") == 1 \
           and s.get("bilayer", 0) > 0:
            out.append(s["bilayer"])
    return out
bil = bilayers(first)
ok("status: the bilayers 1 to 6 in order", set(range(1, 7)) <= set(bil) and bil == sorted(bil), bil)
bil = bilayers(second)
ok("status: after the broker's restart, on to bilayer 6", bil and bil[-1] == 6 and bil == sorted(bil),
   bil)
thick = [s.get("thickness_nm") for s in mine if s.get("batch") == 1]
ok("status: thickness grows", thick and max(thick) >= 100, thick[-5:])
ev = []
for r, q, t, p in msgs:
    if t.endswith("/event"):
        try:
            e = json.loads(p)
        except ValueError:
            continue
        if e.get("rig") == "dip-1":
            ev.append((q, e))
want = [tuple(l.rstrip("\n").split("\t", 1)) for l in open(sys.argv[3]) if l.strip()]
if sys.argv[4] == "0":
    print("info: this lbld has no event stream (status --follow --events): events not checked")
else:
    got = [(e.get("kind"), e.get("message")) for q, e in ev if e.get("batch") == 1]
    missing = [w for w in want if w not in got]
    ok("events: every event of the batch's record published", want and not missing,
       "%d of %d missing: %s" % (len(missing), len(want), missing[:3]))
    ok("events: the pause and resume made while the broker was away arrived",
       any(k == "pause" for k, m in got) and any(k == "resume" for k, m in got),
       [k for k, m in got])
    ok("events: QoS 1", ev and all(q == "1" for q, e in ev), [q for q, e in ev][:10])
    ok("events: at, kind, device, message", ev and all({"at", "kind", "message"} <= set(e)
       for q, e in ev), ev[:1])
PY

# ---- lbld stopped: the status says unreachable; started again: it recovers ----
stop_pid "$LBLD_PID"
wait_for 10 status_is '"state":"unreachable"' && pass "lbld stopped: status unreachable" ||
    fail "lbld stopped: status unreachable" "$(retained "$topic/status")"
retained "$topic/status" | json_field error | grep -q "lbld" &&
    pass "lbld stopped: the status says why" || fail "lbld stopped: the status says why" \
    "$(retained "$topic/status")"
start_lbld "$LBL_TMP/rig.yaml" "$db" --time-scale 50 || exit 1
wait_for 15 status_is '"lbld":"reachable"' && pass "lbld restarted: status recovers" ||
    fail "lbld restarted: status recovers" "$(retained "$topic/status")"

# ---- lbl-mqtt killed -9: the broker publishes its last will ----
kill -9 "$MQTT_PID"
wait_for 10 sh -c "[ \"\$(mosquitto_sub -h 127.0.0.1 -p $BROKER_PORT -t $topic/online -C 1 -W 1)\" = offline ]" &&
    pass "killed -9: the last will marks it offline" ||
    fail "killed -9: the last will marks it offline" "$(retained "$topic/online")"
start_mqtt mqtt2 "$LBL_TMP/mqtt.yaml" || exit 1
wait_for 10 sh -c "[ \"\$(mosquitto_sub -h 127.0.0.1 -p $BROKER_PORT -t $topic/online -C 1 -W 1)\" = online ]" &&
    pass "started again: online" || fail "started again: online" "$(retained "$topic/online")"
stop_pid "$MQTT_PID"
[ "$(retained "$topic/online")" = offline ] && pass "stopped cleanly: offline" ||
    fail "stopped cleanly: offline" "$(retained "$topic/online")"
grep -q "stopping" "$LBL_TMP/mqtt2.err" && pass "stopped cleanly: on SIGTERM" ||
    fail "stopped cleanly: on SIGTERM" "$(tail -3 "$LBL_TMP/mqtt2.err")"
sanitizer_clean "$LBL_TMP/mqtt.err" "lbl-mqtt"
sanitizer_clean "$LBL_TMP/mqtt2.err" "lbl-mqtt (second)"
