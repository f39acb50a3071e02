#!/bin/sh
# Every --json output parses with a strict JSON parser (Python's json, which
# refuses raw control characters and invalid text) and says exactly what
# the record holds, for names with quotes, backslashes, control
# characters and non-ASCII letters: status --json, and status --follow
# --json line by line.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
make_rig dip-rig.yaml "$LBL_TMP/rig.yaml"
start_simrig "$LBL_TMP/rig.yaml" --time-scale 200 || exit 1
start_lbld "$LBL_TMP/rig.yaml" "$LBL_TMP/lbl.db" --time-scale 200 || exit 1
# the recipe's name and first prompt carry every awkward character YAML allows
sed -e 's/^name: .*/name: "we\\"ird\\\\na\\tme\\x01 \\u2014 Zo\\u00eb"/' \
    -e '0,/- prompt: .*/s//- prompt: "Mount \\"it\\"\\\\ \\x1f now"/' \
    "$LBL_TOP/recipes/examples/ag-tca-5-dip.yaml" >"$LBL_TMP/weird.yaml"
"$ctl" check "$LBL_TMP/weird.yaml" --rig "$LBL_TMP/rig.yaml" >/dev/null 2>"$LBL_TMP/err" ||
    fail "the awkward recipe is valid" "$(cat "$LBL_TMP/err")"
"$ctl" run "$LBL_TMP/weird.yaml" --operator ci >/dev/null || fail "run" "refused"
wait_for 10 sh -c "\"$ctl\" status | grep -q '^state: prompt'"
"$ctl" status --follow --json >"$LBL_TMP/follow.out" 2>&1 &
follow=$!
LBL_PIDS="$LBL_PIDS $follow"
"$ctl" status --json >"$LBL_TMP/status.json"
check() { # NAME PYTHON-ASSERTIONS on d, the parsed JSON of FILE
	if /usr/bin/python3 -c '
import json, sys
d = json.loads(open(sys.argv[1], "rb").read().decode("utf-8", "strict"))
'"$3" "$2" 2>"$LBL_TMP/py.err"; then pass "$1"; else fail "$1" "$(tail -2 "$LBL_TMP/py.err")"; fi
}
check "status --json parses strictly" "$LBL_TMP/status.json" '
assert d["state"] == "prompt", d["state"]
assert d["recipe"] == "we\"ird\\na\tme\x01 \u2014 Zo\u00eb", repr(d["recipe"])
assert d["message"] == "Mount \"it\"\\ \x1f now", repr(d["message"])
assert d["thickness_measured_nm"] is None'
"$ctl" continue >/dev/null
wait_for 10 sh -c "[ \$(wc -l <'$LBL_TMP/follow.out') -ge 4 ]"
"$ctl" abort >/dev/null
wait "$follow" 2>/dev/null
if /usr/bin/python3 -c '
import json, sys
lines = [l for l in open(sys.argv[1], "rb").read().decode("utf-8").splitlines() if l]
assert len(lines) >= 3, len(lines)
for l in lines:
    d = json.loads(l)
    assert "state" in d and "recipe" in d, l
assert any(json.loads(l)["recipe"] == "we\"ird\\na\tme\x01 \u2014 Zo\u00eb" for l in lines)
' "$LBL_TMP/follow.out" 2>"$LBL_TMP/py.err"; then
	pass "status --follow --json: one JSON object per line, each parses"
else
	fail "status --follow --json: one JSON object per line" "$(tail -2 "$LBL_TMP/py.err"; head -3 "$LBL_TMP/follow.out")"
fi
[ -z "${LBL_FAILED:-}" ]
