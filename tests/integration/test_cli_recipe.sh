#!/bin/sh
# lblctl check / plan as a user runs them: exit codes, compiler-style
# errors, the plan's totals, and --json as one valid JSON document.
set -u
ctl="$LBL_BUILD/lblctl"
ex="$LBL_TOP/recipes/examples"
data="$LBL_TOP/tests/data"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
expect_rc() { # name want_rc cmd...
	name=$1 want=$2; shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"; rc=$?
	if [ "$rc" -eq "$want" ]; then pass "$name"; else fail "$name" "exit $rc, want $want: $(cat "$tmp/err")"; fi
}

for pair in ag-tca-5-dip:dip taa-cnt-3-dip:dip ag-tca-5-spray:spray ag-tca-roll:roll; do
	r=${pair%%:*} rig=${pair##*:}
	expect_rc "check $r" 0 "$ctl" check "$ex/$r.yaml" --rig "$data/rig-$rig.yaml"
	expect_rc "plan $r" 0 "$ctl" plan "$ex/$r.yaml" --rig "$data/rig-$rig.yaml"
	"$ctl" plan "$ex/$r.yaml" --rig "$data/rig-$rig.yaml" --json >"$tmp/plan.json"
	if /usr/bin/python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); assert p["bilayers"] >= 3 and len(p["steps"]) > 5 and p["total_ms"] == p["steps"][-1]["start_ms"] + p["steps"][-1]["duration_ms"]' "$tmp/plan.json"; then
		pass "plan --json $r"
	else
		fail "plan --json $r" "invalid JSON or inconsistent totals"
	fi
done

"$ctl" plan "$ex/ag-tca-5-dip.yaml" --rig "$data/rig-dip.yaml" >"$tmp/plan.txt"
for want in "final thickness estimate: 39.0 nm" "total duration: 1h18m" \
    "after bilayer 3: rinse-ag (rinse-1) by pumps" "bilayers: 5"; do
	if grep -qF "$want" "$tmp/plan.txt"; then pass "plan text: $want"; else fail "plan text" "no '$want'"; fi
done

# a bad recipe: exit 2 and FILE:LINE:COL: error: lines on stderr, nothing on stdout
bad="$LBL_TOP/tests/bad/01-bare-number-duration.yaml"
expect_rc "bad recipe exits 2" 2 "$ctl" check "$bad" --rig "$data/rig-dip.yaml"
if grep -qE "^$bad:15:31: error: 'dwell': a bare number needs a unit" "$tmp/err" && [ ! -s "$tmp/out" ]; then
	pass "bad recipe error format"
else
	fail "bad recipe error format" "$(cat "$tmp/err")"
fi
# every error at once
printf 'name: t\nversion: 1\nprocess: dip\nsubstrat: g\n' >"$tmp/multi.yaml"
"$ctl" check "$tmp/multi.yaml" 2>"$tmp/err"
n=$(grep -c ': error: ' "$tmp/err")
if [ "$n" -ge 5 ]; then pass "all errors reported ($n)"; else fail "all errors reported" "$(cat "$tmp/err")"; fi
expect_rc "missing file exits 2" 2 "$ctl" check "$tmp/none.yaml"
expect_rc "usage error exits 2" 2 "$ctl" check
expect_rc "bad rig exits 2" 2 "$ctl" check "$ex/ag-tca-5-dip.yaml" --rig "$bad"
expect_rc "recipe against wrong rig exits 2" 2 "$ctl" check "$ex/ag-tca-5-spray.yaml" --rig "$data/rig-dip.yaml"
if grep -q "spray needs a rig with nozzles" "$tmp/err"; then pass "wrong rig explained"; else fail "wrong rig explained" "$(cat "$tmp/err")"; fi
# A FIFO given as a recipe or rig file is refused at once, never read (it
# would wait forever for a writer): check, check-rig and lbld --rig.
mkfifo "$tmp/fifo.yaml"
for what in "check $tmp/fifo.yaml" "check-rig $tmp/fifo.yaml" "check $ex/ag-tca-5-dip.yaml --rig $tmp/fifo.yaml"; do
	# shellcheck disable=SC2086
	timeout 5 "$ctl" $what >/dev/null 2>"$tmp/err"
	rc=$?
	[ $rc = 2 ] && grep -q "fifo.yaml.*not a regular file (a FIFO)" "$tmp/err" &&
	    pass "a FIFO is refused at once: lblctl $(echo "$what" | cut -d' ' -f1)" ||
	    fail "a FIFO is refused at once: lblctl $what" "exit $rc: $(cat "$tmp/err")"
done
timeout 5 "$LBL_BUILD/lbld" --rig "$tmp/fifo.yaml" --db "$tmp/fifo.db" --socket "$tmp/fifo.sock" \
    >/dev/null 2>"$tmp/err"
rc=$?
[ $rc = 1 ] && grep -q "not a regular file (a FIFO)" "$tmp/err" && [ ! -e "$tmp/fifo.db" ] &&
    pass "a FIFO is refused at once: lbld --rig" || fail "a FIFO is refused at once: lbld --rig" "exit $rc: $(cat "$tmp/err")"
