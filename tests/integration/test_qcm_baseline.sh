#!/bin/sh
# QCM thickness from a defined baseline (the bare crystal's frequency):
# without the rig file's f0, a sauerbrey measure needs a baseline measure
# step in 'pre' (check refuses the recipe at the measure's line); with it,
# every bilayer's thickness grows from that baseline, which is on record
# and survives kill -9 and resume-batch (the old executor took the first
# reading of each run as the bare crystal: 0.0 nm after bilayer 1, and
# 9.8, 0.0, 9.8 nm across a resume). With the rig file's f0, that is the
# baseline, recorded as such.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
scale=200
make_rig dip-rig.yaml "$LBL_TMP/rig-f0.yaml"
sed 's/, f0: 5 MHz}/}/' "$LBL_TMP/rig-f0.yaml" >"$LBL_TMP/rig.yaml"
grep -q 'qcm: {role: sensor, kind: qcm, bus: gateway, unit: 6, profile: generic-sensor}' \
    "$LBL_TMP/rig.yaml" || fail "rig without f0" "sed found nothing to change"
db="$LBL_TMP/lbl.db"
recipe() { # recipe FILE BASELINE(0|1) BILAYERS
	{
	cat <<YAML
name: qcm-series
version: "1"
process: dip
substrate: QCM crystal
resume: allowed
target: {bilayers: $3}
growth: {model: linear, per_bilayer: 7.8 nm}
solutions:
  ag: {station: ag}
  tca: {station: tca}
YAML
	[ "$2" = 1 ] && printf 'pre:\n  - measure: {sensor: qcm, method: sauerbrey, baseline: true}\n'
	cat <<YAML
cycle:
  - dip: {solution: ag, dwell: 20s, depth: 20 mm}
  - dip: {solution: tca, dwell: 20s, depth: 20 mm}
  - measure: {sensor: qcm, method: sauerbrey, film_density: 1.5 g/cm3}
YAML
	} >"$1"
}
recipe "$LBL_TMP/nobase.yaml" 0 3
recipe "$LBL_TMP/base.yaml" 1 4
out=$("$ctl" check "$LBL_TMP/nobase.yaml" --rig "$LBL_TMP/rig.yaml" 2>&1)
case "$out" in
*"nobase.yaml:14:"*"error: sauerbrey thickness needs the bare crystal's frequency: give sensor 'qcm' an 'f0' in the rig file"*)
	pass "check: no f0 and no baseline step is refused at the measure" ;;
*) fail "check: no f0 and no baseline step is refused at the measure" "$out" ;;
esac
"$ctl" check "$LBL_TMP/nobase.yaml" --rig "$LBL_TMP/rig-f0.yaml" >/dev/null 2>&1 &&
    pass "check: the rig file's f0 is a baseline" || fail "check: the rig file's f0 is a baseline" "refused"
sed 's/^pre:$/post:/' "$LBL_TMP/base.yaml" >"$LBL_TMP/late.yaml"
out=$("$ctl" check "$LBL_TMP/late.yaml" --rig "$LBL_TMP/rig.yaml" 2>&1)
case "$out" in
*"error: a baseline measure belongs directly in 'pre'"*) pass "check: a baseline after the film is refused" ;;
*) fail "check: a baseline after the film is refused" "$out" ;;
esac

start_simrig "$LBL_TMP/rig.yaml" --time-scale $scale || exit 1
start_lbld "$LBL_TMP/rig.yaml" "$db" --time-scale $scale || exit 1
"$ctl" run "$LBL_TMP/base.yaml" --operator ci >/dev/null || fail "run" "refused"
wait_for 60 sh -c "[ \"\$(sqlite3 '$db' 'select count(*) from bilayers where batch_id=1')\" -ge 2 ]" ||
    fail "two bilayers" "$(sqlite3 "$db" 'select * from bilayers')"
kill -9 "$LBLD_PID"
wait "$LBLD_PID" 2>/dev/null
before=$(sqlite3 "$db" "select count(*) from bilayers where batch_id=1")
pass "killed -9 after $before bilayers"
start_lbld "$LBL_TMP/rig.yaml" "$db" --time-scale $scale || exit 1
"$ctl" resume-batch 1 --wait >"$LBL_TMP/out" 2>&1 && pass "resume-batch completes" ||
    fail "resume-batch completes" "$(tail -3 "$LBL_TMP/out")"
series=$(sqlite3 "$db" "select group_concat(round(thickness_measured_nm, 1), ' ') from (select thickness_measured_nm from bilayers where batch_id=1 order by n)")
echo "info: measured series $series nm (simrig grows 7.8 nm a bilayer)"
/usr/bin/python3 - "$series" <<'PY' && pass "the series grows bilayer by bilayer across the resume ($series nm)" || fail "the series grows across the resume" "$series"
import sys
v = [float(x) for x in sys.argv[1].split()]
assert len(v) == 4, v
assert all(b > a for a, b in zip(v, v[1:])), v
# each about 7.8 nm a bilayer from the bare crystal; a resumed dip may add one immersion
assert all(abs(x - 7.8 * (i + 1)) <= 4.0 for i, x in enumerate(v)), v
PY
row=$(sqlite3 "$db" "select sensor, round(baseline_hz, 1), source from baselines where batch_id=1")
[ "$row" = "qcm|5000000.0|measured in step 1" ] && pass "the baseline is on record: $row" ||
    fail "the baseline is on record" "$row"
"$ctl" show 1 >"$LBL_TMP/show" 2>&1
grep -q "baseline qcm 5000000.0 Hz, measured in step 1" "$LBL_TMP/show" &&
    pass "show prints the baseline" || fail "show prints the baseline" "$(grep -i baseline "$LBL_TMP/show")"
kill "$LBLD_PID"; wait "$LBLD_PID" 2>/dev/null

# with the rig file's f0 (and no baseline step): that is the baseline
start_lbld "$LBL_TMP/rig-f0.yaml" "$LBL_TMP/f0.db" --time-scale $scale || exit 1
"$ctl" run "$LBL_TMP/nobase.yaml" --operator ci --wait >"$LBL_TMP/out" 2>&1 ||
    fail "run with the rig's f0" "$(tail -3 "$LBL_TMP/out")"
row=$(sqlite3 "$LBL_TMP/f0.db" "select sensor, round(baseline_hz, 1), source from baselines where batch_id=1")
[ "$row" = "qcm|5000000.0|the rig file's f0" ] && pass "the rig file's f0 on record as the baseline" ||
    fail "the rig file's f0 on record as the baseline" "$row"
first=$(sqlite3 "$LBL_TMP/f0.db" "select round(thickness_measured_nm, 1) from bilayers where batch_id=1 and n=1")
# lbl-simrig's crystal carries the film of the batch before too: anything but 0
/usr/bin/python3 -c "import sys; assert float(sys.argv[1]) > 7.8 / 2" "$first" &&
    pass "the first reading is film, not the bare crystal ($first nm)" ||
    fail "the first reading is film, not the bare crystal" "$first"
sanitizer_clean "$LBL_TMP/lbld.err" lbld
[ -z "${LBL_FAILED:-}" ]
