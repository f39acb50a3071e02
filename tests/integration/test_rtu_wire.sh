#!/bin/sh
# lbl-simrig gives an RTU bus the wire time of a real RS-485 line at its
# baud rate (a pty alone carries bytes at memory speed): a read of one
# holding register (8-byte request, 7-byte answer, 8N1) must take at least
# its ideal time, (8 + 7) x 10 bits / baud plus the 3.5-character silence
# (1.75 ms above 19,200 baud): 9.6 ms at 19,200, 3.05 ms at 115,200. Bounds
# hold on a loaded machine: minima against the ideal from below, the two
# rates' medians as a ratio, --no-wire-time well under the slower ideal.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
rtt=$LBL_TOP/tests/integration/rtu_rtt.py

# rtu_case NAME BAUD [SIMRIG OPTIONS]: "MEDIAN MIN" (ms) of 30 reads of unit 1 into $LBL_TMP/NAME/rtt
rtu_case() {
	d="$LBL_TMP/$1" baud=$2; shift 2
	mkdir -p "$d"
	socat pty,raw,echo=0,link="$d/sim" pty,raw,echo=0,link="$d/ctl" >/dev/null 2>"$d/socat.err" &
	socat_pid=$!
	LBL_PIDS="$LBL_PIDS $socat_pid"
	wait_for 5 test -e "$d/ctl" || { echo "socat: $(cat "$d/socat.err")" >"$d/rtt"; return 1; }
	sed "s|^  gateway: .*|  gateway: {type: rtu, device: $d/sim, baud: $baud, timeout: 300ms, retries: 2}|" \
	    "$LBL_TOP/hw/examples/dip-rig.yaml" >"$d/rig.yaml"
	start_simrig "$d/rig.yaml" "$@" >"$d/rtt" || return 1
	/usr/bin/python3 "$rtt" "$d/ctl" 1 30 >"$d/rtt" 2>&1
	rc=$?
	kill "$SIMRIG_PID" "$socat_pid"
	return $rc
}

ideal() { awk -v b="$1" 'BEGIN { s = b > 19200 ? 1.75 : 3.5 * 10000 / b; printf "%.3f", 15 * 10000 / b + s }'; }
rtu_case slow 19200 || fail "19,200 baud" "$(cat "$LBL_TMP/slow/rtt")"
rtu_case fast 115200 || fail "115,200 baud" "$(cat "$LBL_TMP/fast/rtt")"
rtu_case raw 19200 --no-wire-time || fail "--no-wire-time" "$(cat "$LBL_TMP/raw/rtt")"
[ -z "${LBL_FAILED:-}" ] || exit 1
slow=$(cat "$LBL_TMP/slow/rtt") fast=$(cat "$LBL_TMP/fast/rtt") raw=$(cat "$LBL_TMP/raw/rtt")
i_slow=$(ideal 19200) i_fast=$(ideal 115200)
echo "info: one register read, median/min ms: 19,200 baud $slow (ideal $i_slow); 115,200 baud $fast (ideal $i_fast); --no-wire-time $raw"
set -- $slow; s_med=$1 s_min=$2
set -- $fast; f_med=$1 f_min=$2
set -- $raw; r_med=$1
awk -v m="$s_min" -v i="$i_slow" 'BEGIN { exit !(m >= 0.97 * i) }' &&
    pass "19,200 baud: no read faster than the wire allows ($s_min >= $i_slow ms)" ||
    fail "19,200 baud: no read faster than the wire" "$s_min < $i_slow ms"
awk -v m="$f_min" -v i="$i_fast" 'BEGIN { exit !(m >= 0.97 * i) }' &&
    pass "115,200 baud: no read faster than the wire allows ($f_min >= $i_fast ms)" ||
    fail "115,200 baud: no read faster than the wire" "$f_min < $i_fast ms"
# ideal ratio 3.15; scheduling noise only adds to both, which pulls it toward 1
awk -v s="$s_med" -v f="$f_med" 'BEGIN { exit !(s / f >= 2) }' &&
    pass "the slower line takes longer, in proportion ($s_med / $f_med ms)" ||
    fail "the slower line takes longer, in proportion" "$s_med / $f_med ms"
awk -v r="$r_med" -v i="$i_slow" 'BEGIN { exit !(r < i / 2) }' &&
    pass "--no-wire-time answers at memory speed ($r_med ms)" ||
    fail "--no-wire-time answers at memory speed" "$r_med ms, the 19,200 ideal is $i_slow"
[ -z "${LBL_FAILED:-}" ]
