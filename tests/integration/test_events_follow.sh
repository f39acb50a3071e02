#!/bin/sh
# status --follow --json --events, the follow lbl-web and lbl-mqtt use: it
# begins with the status and does not end while the rig is idle; it tells
# each event once it is on record, and exactly the events the record keeps
# (the same batch, stamp, kind, device and message, in the same order);
# --events without --follow --json is refused and starts nothing.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
make_rig dip-rig.yaml "$LBL_TMP/rig.yaml"
start_simrig "$LBL_TMP/rig.yaml" --time-scale 200 || exit 1
start_lbld "$LBL_TMP/rig.yaml" "$LBL_TMP/lbl.db" --time-scale 200 || exit 1

"$ctl" status --events >"$LBL_TMP/bad.out" 2>&1
rc=$?
if [ "$rc" = 2 ] && grep -q -- "--events goes with --follow --json" "$LBL_TMP/bad.out"; then
	pass "status --events without --follow --json is refused (exit 2, saying why)"
else
	fail "status --events alone refused" "exit $rc: $(cat "$LBL_TMP/bad.out")"
fi

"$ctl" status --follow --json --events >"$LBL_TMP/ev.out" 2>"$LBL_TMP/ev.err" &
follow=$!
LBL_PIDS="$LBL_PIDS $follow"
wait_for 10 sh -c "[ -s '$LBL_TMP/ev.out' ]"
sleep 1
if kill -0 "$follow" 2>/dev/null &&
    head -1 "$LBL_TMP/ev.out" | grep -q '^{"state":"idle"'; then
	pass "the follow begins with the idle status and stays open while idle"
else
	fail "the follow stays open while idle" "$(cat "$LBL_TMP/ev.out" "$LBL_TMP/ev.err")"
fi

# A batch with a prompt, a pause and a resume by name, then an abort: each
# an event of the record.
"$ctl" run "$LBL_TOP/recipes/examples/ag-tca-5-dip.yaml" --operator ci >/dev/null ||
    fail "run" "refused"
wait_for 10 sh -c "\"$ctl\" status | grep -q '^state: prompt'"
"$ctl" continue >/dev/null
wait_for 10 sh -c "\"$ctl\" status | grep -q '^state: running'"
"$ctl" pause --now >/dev/null
wait_for 10 sh -c "\"$ctl\" status | grep -q '^state: paused'"
"$ctl" resume >/dev/null
wait_for 10 sh -c "\"$ctl\" status | grep -q '^state: running'"
"$ctl" abort >/dev/null
wait_for 20 sh -c "\"$ctl\" status | grep -q '^state: idle'"
sleep 1
# manual control while idle: its events, and the status showing what it holds
"$ctl" move lift 40mm >/dev/null 2>&1 || fail "a manual move" "refused"
sleep 0.5
kill -0 "$follow" 2>/dev/null && pass "the follow goes on after the batch ended" ||
    fail "the follow goes on after the batch" "it ended: $(tail -2 "$LBL_TMP/ev.out")"

sqlite3 -json "$LBL_TMP/lbl.db" \
    "SELECT batch_id, at, kind, device, message FROM events ORDER BY id" >"$LBL_TMP/db.json"
if /usr/bin/python3 - "$LBL_TMP/ev.out" "$LBL_TMP/db.json" 2>"$LBL_TMP/py.err" <<'EOF'
import json, re, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip() and l[0] == "{"]
told = [l["event"] for l in lines if "event" in l]
states = [l["state"] for l in lines if "state" in l]
rows = json.load(open(sys.argv[2]))
kept = [{"batch": r["batch_id"], "at": r["at"], "kind": r["kind"], "device": r["device"],
         "message": r["message"]} for r in rows]
assert len(told) >= 4, "only %d events told" % len(told)
assert told == kept, "told %r\nkept %r" % (told, kept)
kinds = [e["kind"] for e in told]
for k in ("continue", "pause", "resume", "abort"):
    assert k in kinds, "no %s event in %r" % (k, kinds)
assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["at"]) for e in told)
for s in ("prompt", "running", "paused", "idle"):
    assert s in states, "no %s status in %r" % (s, states)
assert any(l.get("manual") for l in lines if "state" in l), "no status shows the manual move"
assert lines[-1].get("state") == "idle" and not lines[-1].get("manual"), lines[-1]
EOF
then
	pass "the events told are exactly the record's, in order, with their stamps"
else
	fail "events told = events on record" "$(tail -3 "$LBL_TMP/py.err")"
fi

stop_pid() { kill "$1" 2>/dev/null; i=0; while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done; }
stop_pid "$LBLD_PID"
i=0; while kill -0 "$follow" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 "$follow" 2>/dev/null && fail "the follow ends when lbld stops" "still running" ||
    pass "the follow ends when lbld stops"
[ -z "${LBL_FAILED:-}" ]
