# Fault campaign cases: readers of the batch record against the safety path
# (issue 14; sourced by campaign.sh, after case_stops.sh, whose helpers it
# uses). Reads run in lbld's reader thread, never in its event loop, so:
#   - their output is byte for byte what lbld printed before (checksums
#     taken from the build before the reader thread, on a fixed record;
#     the JSON ones since they are made by the one JSON writer, a row a
#     line, with show's solutions, note, rig, thickness and events added:
#     each old document is part of its new one, every value the same but
#     numbers, once %.4g, now exact);
#   - a client that hangs up mid-export leaves lbld well (no leak at exit);
#   - on a record of 10,000 batches, 20 clients exporting everything,
#     comparing two 3,900-line recipes and listing history do not delay an
#     e-stop beyond READERS_ESTOP_MS (every pump off, the batch failed),
#     nor the systemd watchdog's pings (each gap under WATCHDOG_USEC);
#   - export --all streams: lbld's memory grows by far less than the reply.
readers_py=/usr/bin/python3
readers_helper="$LBL_TOP/tests/faults/readers.py"
READERS_ESTOP_MS=${READERS_ESTOP_MS:-500}
# The record every checksum below was taken on: 300 batches ending two days
# before this instant (2026-11-29T...).
readers_end_s=1796000000

# ---- the output of every read, byte for byte; a client that hangs up ----
begin_case
name="reads: output unchanged, a client hanging up mid-export"
mkdir -p "$LBL_TMP/readers-fixed"
if "$LBL_BUILD/tests/lbl-histgen" "$LBL_TMP/readers-fixed/lbl.db" 300 $readers_end_s >/dev/null &&
    start_rig readers-fixed 100; then
	# sha256 of stdout, exit status, request; from lbld before the reader thread
	# (the four JSON ones from the one JSON writer's, h-record). The exports
	# and shows were taken again when issue 15 added what the devices said
	# (steps' volume_planned_ml and volume_measured_ml, empty here; batches'
	# baselines, none here; show's "baselines:" heading), after checking that
	# each is the earlier output with those additions and nothing else.
	# Taken again for issue 18 (h-rec): the CSV export's every table as
	# sections (its steps section, less the appended attempts column, is
	# the earlier CSV byte for byte), show's thickness figures, series'
	# header lines; each checked to be the earlier output once those
	# lines are put back as they were. The text tables (history, show,
	# compare) show times in local time since issue 18 (h-cli): read here
	# with --utc, so that no machine's time zone changes them, and taken
	# again after checking that each is the earlier output with its stamps
	# written "2026-12-02 21:22:16 UTC" instead of "2026-12-02T21:22:16.857Z".
	while read -r want rc_want req; do
		# shellcheck disable=SC2086
		"$ctl" $req >"$dir/out" 2>"$dir/err"
		rc=$?
		got=$(sha256sum <"$dir/out" | cut -d' ' -f1)
		[ "$got" = "$want" ] && [ "$rc" = "$rc_want" ] && pass "$name: $req: the same bytes" ||
		    fail "$name: $req: the same bytes" "exit $rc (want $rc_want), $(wc -c <"$dir/out") bytes, sha256 $got: $(head -c 200 "$dir/err")"
	done <<'EOF'
a054502c623b4add78978ff65bd11da8bb5aa877b1baf595d455fd562034f705 0 export --all --format json
d288054d28db2724d266b61f1ba4d4946dc15c74bcf6bfae96648bca6df7b46d 0 export --all --format csv
1af539595eab7e7f202f45c6fc3ee2f2613fb25bca5ad394a0ff184905189df8 0 export 150 --format json
9c32c8e104d7117600690e6ddeda9425f4242a3c51a15e221a0a5205610c81f5 0 export 150 --format csv
690aaf73a5f7edf8dadd73dbae08e120c125c83c5b66d546e15c7969be65c7f4 0 history --utc
f0889161074c151c59422720b6c6c3813f9523af6852a84e09b0377664bf45dd 0 history --json
8fd51fdb2d5e2cc942af641bba088d9191603ce1397ffded4b41c4ecad6decc1 0 history --state failed --limit 5 --utc
ea75ec10caa14cda5fb2b262f4b39bf6f3fe70369fb8214b1f26e241662ccc6e 0 show 150 --utc
874d406d6d80383e758cc795a93af987bc4833cf55abb298fff29d1e50da65b0 0 show 150 --json
e7f7e82a77de65fe30b3d46820936367e90a836b762543b13a130deb9ca9bf84 0 show 150 --recipe
985b114fe82ddb574e7d7602128a9d6a1e153272d77576e0d4f4f6b8659b5321 0 compare 10 20 --utc
fe5f7837c4aa1f571e2aadf982ae51eda13b081bfd16bf7ed836218aa671f416 0 compare 3 250 --utc
36f1f78f305e87233918839d52ed7f849a4bca5f9b04b8196fe358e35b2fb8d0 0 series 150
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 2 show 99999
e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 2 export 0 --format csv
EOF
	# five clients hang up after 100 KiB of a 9.6 MB export; lbld answers on
	cuts=0
	for k in 1 2 3 4 5; do
		$readers_py "$readers_helper" cut "$LBL_SOCKET" 102400 >/dev/null && cuts=$((cuts + 1))
	done
	[ $cuts = 5 ] && "$ctl" status >/dev/null && "$ctl" export 150 --format csv >/dev/null &&
	    pass "$name: 5 clients hung up mid-export, lbld answers on" ||
	    fail "$name: clients hanging up mid-export" "$cuts of 5 cut, status: $("$ctl" status 2>&1 | head -1)"
	settled "$name"
	stop_rig
	sanitizer_clean "$LBL_TMP/lbld.err" "$name: lbld (leaks at exit)"
fi
end_case

# ---- the e-stop and the watchdog while 20 clients read 10,000 batches ----
begin_case
name="e-stop under 20 readers"
mkdir -p "$LBL_TMP/readers"
dir="$LBL_TMP/readers"
"$LBL_BUILD/tests/lbl-histgen" "$dir/lbl.db" 10000 >/dev/null || fail "$name" "lbl-histgen failed"
# two recipes of 3,900 lines that differ in a few, for compare (batches of recipes 1 and 2)
$readers_py - "$dir/lbl.db" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
lines = ["  - dip: {solution: s%d, dwell: %dmin}" % (i, i % 7 + 1) for i in range(3900)]
a = "\n".join(["name: big", "cycle:"] + lines) + "\n"
lines[1200] = "  - dip: {solution: s1200, dwell: 9min}"
lines.insert(2500, "  - wait: 1min")
b = "\n".join(["name: big", "cycle:"] + lines) + "\n"
con.execute("update recipes set yaml = ? where id = 1", (a,))
con.execute("update recipes set yaml = ? where id = 2", (b,))
con.commit()
PY
big_a=$(sqlite3 "$dir/lbl.db" "select min(id) from batches where recipe_id = 1")
big_b=$(sqlite3 "$dir/lbl.db" "select min(id) from batches where recipe_id = 2")
# a recipe whose silver dip stirs, so a pump runs when the e-stop comes
# (a new version: one name and version hold one text)
sed -e 's/^      first_cycle: {dwell: 10min}.*/&\n      agitation: 100 rpm/' \
    -e 's/^version: .*/version: "1-stir"/' "$recipe" >"$dir/stir.yaml"
# systemd's side: the watchdog asks for a ping every second (lbld pings every
# 0.5 s). Under ASan, freed memory is quarantined (256 MB by default) and
# would count as growth of lbld's resident memory: 16 MB is plenty here.
$readers_py "$readers_helper" notify "$dir/notify.sock" "$dir/pings" 600 &
NOTIFY_PID=$!; LBL_PIDS="$LBL_PIDS $NOTIFY_PID"
wait_for 5 test -S "$dir/notify.sock"
LBLD_ENV="NOTIFY_SOCKET=$dir/notify.sock WATCHDOG_USEC=1000000 ASAN_OPTIONS=quarantine_size_mb=16"
estop_in="$LBL_TMP/gpio/pinctrl-bcm2711/GPIO27.in"
# readers_estop BATCH: presses the e-stop while the stirrer runs; "PUMPS_MS FAILED_MS"
readers_estop() {
	$readers_py "$readers_helper" estop "$estop_in" "$SIMCTL" "$db" "$1" stir-ag stir-cnt fill-1 drain-1
}
if start_rig readers 100; then
	LBLD_ENV=
	batch=$(($(q "select max(id) from batches") + 1))
	# idle: the same e-stop with no reader
	"$ctl" run "$dir/stir.yaml" --operator campaign >/dev/null 2>&1 || fail "$name" "run refused"
	idle=$(readers_estop $batch)
	echo "info: e-stop idle (10,000 batches on record): every pump off in $(echo "$idle" | cut -d' ' -f1) ms, batch failed in $(echo "$idle" | cut -d' ' -f2) ms"
	printf '1\n' >"$estop_in"
	park_released "$name (idle e-stop)" &&
	    wait_for 30 parked || fail "$name: park after the idle e-stop" "$(park_why)"
	wait_for 10 sh -c "\"$ctl\" status | grep -q '^substrate: parked'"
	# the load: 20 clients, and the batch running under it
	rm -f "$dir/stop" "$dir/stop.answered"
	$readers_py "$readers_helper" load 20 120 "$dir/stop" "$ctl" "$big_a" "$big_b" \
	    >"$dir/load.out" 2>"$dir/load.err" &
	LOAD_PID=$!; LBL_PIDS="$LBL_PIDS $LOAD_PID"
	load_from=$($readers_py -c 'import time; print("%.1f" % (time.monotonic() * 1000))')
	sleep 2
	batch=$((batch + 1))
	"$ctl" run "$dir/stir.yaml" --operator campaign >/dev/null 2>&1 || fail "$name" "run refused under load"
	busy=$(readers_estop $batch)
	pumps_ms=$(echo "$busy" | cut -d' ' -f1 | cut -d. -f1)
	failed_ms=$(echo "$busy" | cut -d' ' -f2 | cut -d. -f1)
	echo "info: e-stop under 20 readers: every pump off in $pumps_ms ms, batch failed in $failed_ms ms (idle: $idle)"
	[ "${pumps_ms:--1}" -ge 0 ] && [ "$pumps_ms" -lt "$READERS_ESTOP_MS" ] &&
	    pass "$name: every pump off within $READERS_ESTOP_MS ms ($pumps_ms ms)" ||
	    fail "$name: every pump off within $READERS_ESTOP_MS ms" "$busy"
	[ "${failed_ms:--1}" -ge 0 ] && [ "$failed_ms" -lt "$READERS_ESTOP_MS" ] &&
	    pass "$name: batch failed within $READERS_ESTOP_MS ms ($failed_ms ms)" ||
	    fail "$name: batch failed within $READERS_ESTOP_MS ms" "$busy"
	q "select failure_cause from batches where id=$batch" | grep -q "e-stop 'estop' engaged" &&
	    pass "$name: the e-stop named as the cause" ||
	    fail "$name: the e-stop named as the cause" "$(q "select failure_cause from batches where id=$batch")"
	sleep 3		# pings under load after the e-stop too
	# and until a read has been answered: one at a time, first come first
	# served, and an export of everything takes seconds (more under ASan
	# on a busy machine), so a fixed window would measure the machine
	wait_for 60 test -e "$dir/stop.answered"
	touch "$dir/stop"
	wait "$LOAD_PID"
	echo "info: readers under load: $(cat "$dir/load.out")"
	# one reader, first come first served: an export of everything holds
	# the queue for seconds, so not every kind need have finished; none
	# may have failed (the ones still waiting at the end were hung up)
	grep -Eq '^export:[0-9]+ ok 0 failed compare:[0-9]+ ok 0 failed history:[0-9]+ ok 0 failed$' "$dir/load.out" &&
	    [ "$(grep -Eo '[0-9]+ ok' "$dir/load.out" | awk '{n += $1} END {print n}')" -gt 0 ] &&
	    pass "$name: reads answered meanwhile, none failed" ||
	    fail "$name: reads answered meanwhile, none failed" "$(cat "$dir/load.out") $(head -3 "$dir/load.err")"
	gaps=$($readers_py "$readers_helper" gaps "$dir/pings" "$load_from")
	echo "info: watchdog pings under load (every 500 ms asked): $(echo "$gaps" | awk '{print $1 " gaps, p50 " $2 " ms, max " $3 " ms"}')"
	max_gap=$(echo "$gaps" | cut -d' ' -f3)
	[ "$(echo "$gaps" | cut -d' ' -f1)" -ge 5 ] && [ "$max_gap" -ge 0 ] && [ "$max_gap" -lt 1000 ] &&
	    pass "$name: watchdog pings kept their period (max gap $max_gap ms < WATCHDOG_USEC)" ||
	    fail "$name: watchdog pings kept their period" "$gaps"
	# export --all alone: the reply streams, lbld's memory stays bounded
	er=$($readers_py "$readers_helper" export_rss "$ctl" "$LBLD_PID")
	er_s=$(echo "$er" | cut -d' ' -f1) er_bytes=$(echo "$er" | cut -d' ' -f2)
	er_before=$(echo "$er" | cut -d' ' -f3) er_peak=$(echo "$er" | cut -d' ' -f4)
	echo "info: export --all --format json of 10,000 batches: $er_bytes bytes in $er_s s; lbld resident $er_before kB before, $er_peak kB at most during it"
	[ "${er_bytes:-0}" -gt 100000000 ] && [ $((er_peak - er_before)) -lt 65536 ] &&
	    pass "$name: export --all streams (lbld grew $((er_peak - er_before)) kB for $((er_bytes / 1048576)) MiB)" ||
	    fail "$name: export --all streams" "$er"
	printf '1\n' >"$estop_in"
	settled "$name"
	record_whole $batch && pass "$name: the failed batch's record whole" ||
	    fail "$name: the failed batch's record whole" "a step missing, repeated or left open"
	stop_rig
	sanitizer_clean "$LBL_TMP/lbld.err" "$name: lbld"
fi
LBLD_ENV=
kill "$NOTIFY_PID" 2>/dev/null
end_case 2
