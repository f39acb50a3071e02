#!/bin/sh
# make bench's step timing (tests/bench/bench_steps.py) in its short mode:
# 12 steps on each rig for each transport, lbld, the careful Python loop and
# the plain one side by side, on TCP and on RTU at 115,200 baud (19,200
# baud is left to make bench: lbld's trace there did not always match its
# plan in the short mode, an open question of issue 16). It must print the
# three-way table with sane numbers: every contestant ran the same steps, the
# figures are finite and ordered (p50 <= p99 <= max, |drift| <= max), an RTU
# line's utilisation is a fraction, and no figure on TCP claims one. No
# absolute timing is asserted, with one bound that holds under any load: the
# careful loop sends each step's commands at its deadline, so at 115,200 baud
# no step of it can reach the device sooner than its first frame's wire time
# (an error measured from the batch's origin, not from a first step, keeps
# that).
set -u
. "$LBL_TOP/tests/integration/lib.sh"
BENCH_FLOOR_S=2 BENCH_TRANSPORTS="tcp rtu19200 rtu115200" BENCH_STEPS=24 BENCH_CSV="$LBL_TMP/steps.csv" /usr/bin/python3 \
    "$LBL_TOP/tests/bench/bench_steps.py" >"$LBL_TMP/out" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
	fail "bench_steps.py ran" "exit $rc: $(tail -5 "$LBL_TMP/out")"
	exit 1
fi
pass "bench_steps.py ran on TCP and RTU at 19,200 and 115,200 baud, every trace as planned"
echo "info: $(grep -E '^(tcp|rtu)' "$LBL_TMP/out" | tr -s ' ' | tr '\n' ';')"

# the table's rows: TRANSPORT NAME... STEPS P50 P99 MAX DRIFT BUSY
rows=$(awk '/^(tcp|rtu19200|rtu115200) / && $0 !~ /goal:/' "$LBL_TMP/out")
n=$(printf '%s\n' "$rows" | grep -c .)
[ "$n" = 9 ] && pass "the table has the three contestants on each of the three transports" ||
    fail "the table has 9 rows" "$n: $(cat "$LBL_TMP/out")"
for who in "lbld " "careful Python" "plain time.sleep"; do
	for t in tcp rtu19200 rtu115200; do
		printf '%s\n' "$rows" | grep -q "^$t  *$who" ||
		    fail "a row for $who on $t" "$(cat "$LBL_TMP/out")"
	done
done
bad=$(printf '%s\n' "$rows" | sed 's/lbld/lbld_/; s/careful Python/careful/; s/plain time.sleep/plain/' |
    awk '{
	t = $1; steps = $3; p50 = $4; p99 = $5; max = $6; drift = $7; d = drift < 0 ? -drift : drift
	if ($0 ~ /nan|inf/) { print $0 ": not a number"; next }
	if (steps < 12) print $0 ": fewer steps than asked"
	if (!(p50 >= 0 && p50 <= p99 && p99 <= max)) print $0 ": p50 <= p99 <= max does not hold"
	if (d > max + 0.001) print $0 ": |drift| above max"
	if (t == "tcp" && $0 !~ /n\/a/) print $0 ": a bus utilisation on TCP"
	if (t != "tcp") { b = $8; sub(/%/, "", b); b += 0; if (!(b > 0 && b <= 100)) print $0 ": utilisation " b }
	if (s[t] != "" && s[t] != steps) print $0 ": another count of steps than " s[t]
	s[t] = steps
    }')
[ -z "$bad" ] && pass "every row's figures are sane and each transport's contestants ran the same steps" ||
    fail "every row's figures are sane" "$bad"
grep -q 'goal: lbld p99 < 0.5 ms' "$LBL_TMP/out" && grep -q 'goal: lbld p99 within one transaction' "$LBL_TMP/out" &&
    pass "the goals are shown for TCP and RTU" || fail "the goals are shown" "$(tail -8 "$LBL_TMP/out")"

# the machine's own floor, which no contestant can beat: a sleeper's wake
# lateness (p50 <= p99 <= max) and how often a spinner lost the CPU
floor=$(grep "^this machine, before the runs" "$LBL_TMP/out")
printf '%s\n' "$floor" | awk '{
	if (!match($0, /late by p50 [0-9.]+, p99 [0-9.]+, max [0-9.]+ ms \([0-9]+ sleeps\); a spinning thread lost the CPU for more than 0.5 ms [0-9.]+ times a second/)) exit 1
	split(substr($0, RSTART, RLENGTH), f, /[ ,(]+/)
	exit !(f[4] + 0 <= f[6] + 0 && f[6] + 0 <= f[8] + 0 && f[10] + 0 > 50)
    }' && pass "the machine's floor is shown: a sleeper's wake (p50 <= p99 <= max) and a spinner's lost CPU" ||
    fail "the machine's floor is shown" "'$floor'"

# the careful loop at 115,200 baud: nothing arrives sooner than a request's
# wire time after its deadline (8 characters of 10 bits and the 1.75 ms
# silence the line keeps above 19,200 baud)
low=$(awk -F, '$1 == "rtu115200" && $2 == "careful" { if (m == "" || $6 < m) m = $6 } END { print m }' \
    "$LBL_TMP/steps.csv")
awk -v m="$low" 'BEGIN { exit !(m != "" && m >= 0.97 * (8 * 10000 / 115200 + 1.75)) }' &&
    pass "errors are from the batch's origin: the careful loop's earliest step at 115,200 baud is one frame late ($low ms)" ||
    fail "errors are from the batch's origin" "the careful loop's earliest step at 115,200 baud: '$low' ms, under one frame's wire time"
[ -z "${LBL_FAILED:-}" ]
