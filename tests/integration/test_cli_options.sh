#!/bin/sh
# The command lines of lblctl, lbld, lbl-simrig and lbl-safe, as a user
# types them. With no lbld running: every command of 'lblctl --help' has
# its own --help (and -h, and 'lblctl help COMMAND') on stdout, exit 0; an
# unknown option, a missing value and a bad value (state, date, limit,
# batch id, format, lot) are each refused with exit 2 naming them, before
# any connection (lblctl would otherwise say it cannot reach lbld); a
# negative number is a word, not an option. lbld, lbl-simrig and lbl-safe:
# --help on stdout naming every option, --version, an unknown option named
# with exit 2. Then a record with batches at known times (lbl-histgen, the
# times set with sqlite3) read through lbld in a time zone with an offset
# (CET): --opt=value, --socket after the command, --until taking in the
# whole day (local and UTC), a minute, a second; times shown in local time
# or UTC, JSON in UTC; lbld itself refusing the same mistakes from a client
# that skips lblctl's checks; a table with "Zoë" and "Ni–PET" aligned;
# "1 dip". Last, lblctl(1) and the bash completion name every command.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
out="$LBL_TMP/out"
err="$LBL_TMP/err"
db="$LBL_TMP/lbl.db"
py=/usr/bin/python3

# refused NAME REGEX COMMAND...: exit 2, stderr matches REGEX, no attempt to reach lbld
refused() {
	name=$1 re=$2; shift 2
	"$@" >"$out" 2>"$err"; rc=$?
	if [ $rc = 2 ] && grep -Eq -- "$re" "$err" && ! grep -q "cannot reach lbld" "$err"; then
		pass "$name"
	else
		fail "$name" "exit $rc: $(head -3 "$err" | tr '\n' '|')"
	fi
}

# ---- with no lbld: help, and mistakes caught before connecting ----
nosock="$LBL_TMP/nobody.sock"
LBL_SOCKET=$nosock
export LBL_SOCKET
for how in --help -h help; do
	"$ctl" $how >"$out" 2>"$err"
	[ $? = 0 ] && grep -q '^usage: lblctl' "$out" && [ ! -s "$err" ] &&
	    pass "lblctl $how: usage on stdout, exit 0" || fail "lblctl $how" "$(cat "$err")"
done
"$ctl" --help | sed -n 's/^  lblctl \([a-z-]*\).*/\1/p' | sort -u >"$LBL_TMP/commands"
n=$(wc -l <"$LBL_TMP/commands")
[ "$n" -ge 30 ] && pass "lblctl --help lists $n commands" || fail "lblctl --help lists the commands" "$n"
bad=""
for c in $(cat "$LBL_TMP/commands"); do
	for how in --help -h; do
		"$ctl" "$c" $how >"$out" 2>"$err"; rc=$?
		if [ $rc != 0 ] || ! grep -q "^usage: lblctl $c" "$out" || [ -s "$err" ] ||
		    ! grep -q -- '--socket PATH' "$out"; then
			bad="$bad $c $how (exit $rc: $(head -1 "$err"))"
		fi
	done
	# the help also after other words, and as 'lblctl help COMMAND'
	"$ctl" "$c" 1 2 --help >"$out" 2>&1 && grep -q "^usage: lblctl $c" "$out" ||
	    bad="$bad $c ARGS --help"
	"$ctl" help "$c" >"$out" 2>&1 && grep -q "^usage: lblctl $c" "$out" || bad="$bad help $c"
done
[ -z "$bad" ] && pass "every command's --help and -h: its usage on stdout, exit 0, offline" ||
    fail "every command's --help" "$bad"
"$ctl" history --help >"$out"
for o in recipe substrate state since until limit utc json between; do
	grep -q -- "--$o" "$out" || bad="$bad --$o"
done
[ -z "$bad" ] && pass "history --help names each of its options" || fail "history --help options" "$bad"

refused "unknown option named" "^lblctl history: unknown option '--bogus'$" "$ctl" history --bogus
refused "unknown option of run named" "^lblctl run: unknown option '--colour'$" "$ctl" run x.yaml --colour=red
refused "unknown short option named" "^lblctl status: unknown option '-x'$" "$ctl" status -x
refused "missing value named" "^lblctl history: option '--limit' needs a value$" "$ctl" history --limit
refused "a flag given a value" "^lblctl status: option '--json' takes no value$" "$ctl" status --json=yes
refused "unknown command named" "^lblctl: unknown command 'histroy'$" "$ctl" histroy
refused "a word too many" "^lblctl status: unexpected 'now'$" "$ctl" status now
refused "a missing argument" "an argument is missing" "$ctl" show
refused "history --state runing: named, valid states listed" \
    "^lblctl history: --state: no batch state 'runing' \(the states: running, paused, completed, aborted, failed, interrupted\)$" \
    "$ctl" history --state runing
# the states lblctl knows are the ones the database's schema allows
"$ctl" history --state runing 2>&1 | sed -n 's/.*(the states: \(.*\))$/\1/p' | tr -d ' ' | tr ',' '\n' | sort >"$LBL_TMP/states.ctl"
"$LBL_BUILD/tests/lbl-histgen" "$LBL_TMP/schema.db" 1 >/dev/null &&
    sqlite3 "$LBL_TMP/schema.db" "select sql from sqlite_master where name = 'batches'" |
    $py -c 'import re,sys; print("\n".join(sorted(re.findall(r"\x27(\w+)\x27", re.search(r"state IN \(([^)]*)\)", sys.stdin.read()).group(1)))))' >"$LBL_TMP/states.db"
[ -s "$LBL_TMP/states.db" ] && cmp -s "$LBL_TMP/states.ctl" "$LBL_TMP/states.db" &&
    pass "the states lblctl lists are the schema's ($(tr '\n' ' ' <"$LBL_TMP/states.db"))" ||
    fail "states as the schema's" "lblctl [$(tr '\n' ' ' <"$LBL_TMP/states.ctl")] schema [$(tr '\n' ' ' <"$LBL_TMP/states.db")]"
refused "history --since tomorrow: named, forms listed" \
    "^lblctl history: --since: expected a date \(today, yesterday, YYYY-MM-DD or YYYY-MM-DDTHH:MM\[:SS\].*not 'tomorrow'$" \
    "$ctl" history --since tomorrow
refused "history --until 2026-02-30: no such day" "'2026-02-30' is no day of the calendar" \
    "$ctl" history --until=2026-02-30
refused "history --since 2026-12-01T24:00: no such time" "'2026-12-01T24:00' is no time of day" \
    "$ctl" history --since 2026-12-01T24:00
refused "history --limit x" "^lblctl history: --limit: expected a whole number from 1 .*not 'x'$" \
    "$ctl" history --limit x
refused "history --limit -3" "not '-3'" "$ctl" history --limit -3
refused "history --limit=0" "not '0'" "$ctl" history --limit=0
refused "show abc" "not 'abc'" "$ctl" show abc
refused "compare 1 x" "not 'x'" "$ctl" compare 1 x
refused "compare --tolerance soon" "--tolerance: expected seconds.*not 'soon'" "$ctl" compare 1 2 --tolerance soon
refused "export --format xml" "--format: expected csv or json, not 'xml'" "$ctl" export 1 --format xml
refused "run --lot without =" "--lot: expected SOLUTION=LOT, not 'A1'" "$ctl" run x.yaml --lot A1
refused "--timeout after the command, checked" "--timeout: expected seconds.*not 'soon'" "$ctl" status --timeout soon
# a negative number is a word: jog goes as far as connecting
"$ctl" jog lift -5mm --speed=2mm/s >"$out" 2>"$err"; rc=$?
[ $rc = 1 ] && grep -q "cannot reach lbld at $nosock" "$err" &&
    pass "jog lift -5mm: a negative distance is no option (parsed, then lbld sought)" ||
    fail "jog lift -5mm" "exit $rc: $(cat "$err")"

# lbld, lbl-simrig, lbl-safe
for p in lbld:rig,db,socket,time-scale,gpio-sim,version,help \
    lbl-simrig:rig,time-scale,latency,fault,control,growth,trace,no-wire-time,verbose,version,help \
    lbl-safe:rig,gpio-sim,db,timeout,force,verbose,version,help; do
	prog=${p%%:*}
	"$LBL_BUILD/$prog" --help >"$out" 2>"$err"; rc=$?
	missing=""
	for o in $(echo "${p#*:}" | tr ',' ' '); do grep -q -- "--$o" "$out" || missing="$missing --$o"; done
	[ $rc = 0 ] && grep -q "^usage: $prog" "$out" && [ ! -s "$err" ] && [ -z "$missing" ] &&
	    pass "$prog --help: full usage on stdout, exit 0" || fail "$prog --help" "exit $rc, missing [$missing]: $(cat "$err")"
	"$LBL_BUILD/$prog" --version >"$out" 2>"$err"; rc=$?
	[ $rc = 0 ] && grep -Eq "^$prog [0-9a-f]" "$out" && pass "$prog --version: $(cat "$out")" ||
	    fail "$prog --version" "exit $rc: $(cat "$out" "$err")"
	"$LBL_BUILD/$prog" --bogus >"$out" 2>"$err"; rc=$?
	[ $rc = 2 ] && grep -q "'--bogus'" "$err" && pass "$prog --bogus: named, exit 2" ||
	    fail "$prog --bogus" "exit $rc: $(cat "$err")"
done

# ---- a record with batches at known times, read in CET (UTC+1 in winter) ----
"$LBL_BUILD/tests/lbl-histgen" "$db" 6 1796083200 >/dev/null || { fail "lbl-histgen" "no record"; exit 1; }
sqlite3 "$db" "
update batches set state = 'completed', failure_cause = NULL, substrate = 'glass', operator = 'alice';
update batches set started_at = '2026-11-29T10:00:00.000Z', ended_at = '2026-11-29T11:00:00.000Z' where id = 1;
update batches set started_at = '2026-11-30T12:00:00.000Z', ended_at = '2026-11-30T13:00:00.000Z',
    operator = 'Zoë', substrate = 'Ni–PET' where id = 2;
update batches set started_at = '2026-11-30T23:59:59.500Z', ended_at = '2026-12-01T00:30:00.000Z' where id = 3;
update batches set started_at = '2026-12-01T00:00:00.000Z', ended_at = '2026-12-01T00:40:00.000Z' where id = 4;
update batches set started_at = '2026-12-01T14:00:30.000Z', ended_at = '2026-12-01T15:00:00.000Z' where id = 5;
update batches set started_at = '2026-12-02T08:00:00.000Z', ended_at = '2026-12-02T09:00:00.000Z' where id = 6;
update solutions set dips = 1 where batch_id = 2 and name = (select min(name) from solutions where batch_id = 2);
" || { fail "batch times set" "sqlite3"; exit 1; }
TZ='CET-1CEST,M3.5.0,M10.5.0/3'
export TZ
sock="$LBL_TMP/lbld.sock"
make_rig dip-rig.yaml "$LBL_TMP/rig.yaml"
start_simrig "$LBL_TMP/rig.yaml" || exit 1
LBL_SOCKET=$sock
start_lbld "$LBL_TMP/rig.yaml" "$db" || exit 1
# from here lblctl finds lbld only through --socket
LBL_SOCKET=$nosock

# rows NAME EXPECTED ARGS...: the ids 'lblctl history ARGS' lists, sorted
rows() {
	name=$1 want=$2; shift 2
	if "$ctl" history "$@" >"$out" 2>"$err"; then
		got=$(sed 1d "$out" | awk '{print $1}' | sort -n | tr '\n' ' ' | sed 's/ $//')
		[ "$got" = "$want" ] && pass "history $name: [$want]" || fail "history $name" "ids [$got], want [$want]"
	else
		fail "history $name" "exit $?: $(cat "$err")"
	fi
}
rows "--socket after the command" "1 2 3 4 5 6" --socket "$sock"
rows "--socket=PATH" "1 2 3 4 5 6" --socket="$sock"
"$ctl" --socket="$sock" history >"$out" 2>"$err" && pass "--socket=PATH before the command" ||
    fail "--socket=PATH before the command" "$(cat "$err")"
LBL_SOCKET=$sock "$ctl" history >"$out" 2>"$err" && pass "LBL_SOCKET still honoured" ||
    fail "LBL_SOCKET" "$(cat "$err")"
rows "--until 2026-11-30 --utc: the whole UTC day (23:59:59.5 too)" "1 2 3" --until 2026-11-30 --utc --socket "$sock"
rows "--until=2026-11-30 (CET): the day ends at 23:00 UTC" "1 2" --until=2026-11-30 --socket "$sock"
rows "--since 2026-12-01 --until 2026-12-01 --utc" "4 5" --since 2026-12-01 --until 2026-12-01 --utc --socket "$sock"
rows "--since 2026-12-01 (CET): from 23:00 UTC the day before" "3 4 5 6" --since 2026-12-01 --socket "$sock"
rows "--since/--until one local minute (15:00 CET)" "5" --since 2026-12-01T15:00 --until 2026-12-01T15:00 --socket "$sock"
rows "--since/--until one UTC second" "5" --since "2026-12-01 14:00:30" --until 2026-12-01T14:00:30 --utc --socket "$sock"
rows "--until one second before" "1 2 3 4" --until 2026-12-01T14:00:29 --utc --socket "$sock"
rows "--state=completed --limit=2" "5 6" --state=completed --limit=2 --socket "$sock"
for d in today yesterday; do
	"$ctl" history --since $d --socket "$sock" >"$out" 2>"$err" && pass "history --since $d: accepted" ||
	    fail "history --since $d" "$(cat "$err")"
done

# times: local by default, UTC with --utc, JSON in UTC
"$ctl" history --socket "$sock" >"$LBL_TMP/local.txt" 2>"$err"
grep -Eq '^ +5 .* 2026-12-01 15:00:30 ' "$LBL_TMP/local.txt" && pass "history shows local time (15:00:30 CET)" ||
    fail "history local time" "$(grep -E '^ +5 ' "$LBL_TMP/local.txt")"
"$ctl" history --utc --socket "$sock" >"$LBL_TMP/utc.txt" 2>"$err"
grep -Eq '^ +5 .* 2026-12-01 14:00:30 ' "$LBL_TMP/utc.txt" && grep -q 'STARTED (UTC)' "$LBL_TMP/utc.txt" &&
    pass "history --utc shows UTC, said in the header" || fail "history --utc" "$(head -1 "$LBL_TMP/utc.txt"; grep -E '^ +5 ' "$LBL_TMP/utc.txt")"
"$ctl" history --json --socket "$sock" >"$out" 2>"$err"
$py -c 'import json,sys; r={b["id"]: b for b in json.load(open(sys.argv[1]))}; assert r[5]["started_at"]=="2026-12-01T14:00:30.000Z", r[5]' "$out" &&
    pass "history --json: times stay UTC ISO 8601" || fail "history --json UTC" "$(head -c 300 "$out")"
"$ctl" show 5 --socket "$sock" >"$out" 2>"$err"
grep -q '^started:   2026-12-01 15:00:30$' "$out" && pass "show: started in local time" ||
    fail "show local time" "$(grep started "$out")"
"$ctl" show 5 --utc --socket "$sock" >"$out" 2>"$err"
grep -q '^started:   2026-12-01 14:00:30 UTC$' "$out" && pass "show --utc: started in UTC" ||
    fail "show --utc" "$(grep started "$out")"
"$ctl" compare 4 5 --socket "$sock" >"$out" 2>"$err"
grep -q '^batch 4 (completed, 2026-12-01 01:00:00)  ->  batch 5 (completed, 2026-12-01 15:00:30)$' "$out" &&
    pass "compare: start times in local time" || fail "compare local time" "$(head -1 "$out") $(cat "$err")"
"$ctl" compare 4 5 --utc --tolerance=2 --socket "$sock" >"$out" 2>"$err"
grep -q '^batch 4 (completed, 2026-12-01 00:00:00 UTC)  ->  batch 5 (completed, 2026-12-01 14:00:30 UTC)$' "$out" &&
    pass "compare --utc: start times in UTC" || fail "compare --utc" "$(head -1 "$out") $(cat "$err")"

# Zoë and Ni–PET: the columns after them start where they do for alice and glass
$py - "$LBL_TMP/local.txt" <<'PY' && pass "history: a row with Zoë and Ni–PET aligned with the others" || fail "history alignment" "$(sed -n '1,7p' "$LBL_TMP/local.txt")"
import sys, unicodedata
def width(s):
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
cols = {}
for line in open(sys.argv[1], encoding="utf-8").read().splitlines()[1:]:
    rid = line.split()[0]
    cols[rid] = (width(line[:line.index("completed")]), width(line[:line.index(" 2026-")]), width(line))
assert "Zoë" in open(sys.argv[1], encoding="utf-8").read()
assert len(set(cols.values())) == 1, cols
PY
"$ctl" show 2 --socket "$sock" >"$out" 2>"$err"
grep -Eq '^  [a-z-]+ +lot .* +1 dip  ' "$out" && ! grep -q ' 1 dips' "$out" && pass "show: 1 dip, not 1 dips" ||
    fail "show plural" "$(grep -E 'dip' "$out" | head -3 | tr '\n' '|')"

# lbld refuses the same mistakes from a client that skips lblctl's checks
raw() {
	$py - "$sock" "$@" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(("\t".join(sys.argv[2:]) + "\n").encode())
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
    if any(l.startswith((b"fail ", b"ok")) for l in data.split(b"\n")):
        break
print(data.decode(errors="replace"))
PY
}
check_raw() {
	name=$1 re=$2; shift 2
	got=$(raw "$@" 2>&1)
	echo "$got" | grep -Eq -- "$re" && pass "lbld: $name" || fail "lbld: $name" "$(echo "$got" | tr '\n' '|')"
}
check_raw "history --state runing refused" "^fail 2 history: --state: no batch state 'runing'" history --state runing
check_raw "history --since soon refused" "^fail 2 history: --since: expected a date.*'soon'" history --since soon
check_raw "history --limit x refused" "^fail 2 history: --limit: expected a whole number.*'x'" history --limit x
check_raw "compare --tolerance soon refused (it was read as 0)" "^fail 2 compare: --tolerance: expected seconds.*'soon'" compare 4 5 --tolerance soon
check_raw "compare --bogus refused (it was ignored)" "^fail 2 compare: unknown option or word '--bogus'" compare 4 5 --bogus
check_raw "history --bogus refused" "^fail 2 history: unknown option '--bogus'" history --bogus
check_raw "history --until 2026-11-30 --utc (old clients' words) takes in the day" "^\+ +3 " history --until 2026-11-30 --utc

# the docs know every command
missing=""
for c in $(cat "$LBL_TMP/commands"); do
	# an entry's first line: .B "cmd ...", .BI "cmd ", \fBcmd\fR, or a second command on it
	grep -Eq "(^(\.B[IR]? +\"?|\\\\fB)|, )$c([ \"\\\\]|\$)" "$LBL_TOP/client/lblctl.1" ||
	    missing="$missing man:$c"
	grep -qw -- "$c" "$LBL_TOP/client/lblctl.bash-completion" || missing="$missing completion:$c"
done
[ -z "$missing" ] && pass "lblctl(1) and the completion name every command" || fail "docs name every command" "$missing"

kill -0 "$LBLD_PID" 2>/dev/null && pass "lbld still running" || fail "lbld still running" "$(tail -3 "$LBL_TMP/lbld.err")"
[ -z "${LBL_FAILED:-}" ]
