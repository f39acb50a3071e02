#!/bin/sh
# The batch record leaving lbl: export --format csv|json of a recorded batch
# read back with Python's csv and json modules and imported into sqlite3,
# every table (batch, steps, bilayers, solutions with lots, baselines,
# events) with the same values as the database; show prints thickness
# figures; series has a header row; and plot: no user text runs as gnuplot
# code (an output name and a substrate that try to run a command create
# nothing but the picture, or a clean error), its private directory is
# removed on every path, zero finished bilayers is an error with no file,
# one bilayer draws its point, gnuplot's messages carry no temporary path,
# a plot stopped by a signal leaves nothing behind.
# Batches on lbl-simrig (dip rig, time scale 400): 1 completed with a
# substrate, lot and note full of quotes, commas and backslashes; 2 aborted
# before its first bilayer; 3 completed, one bilayer.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
py=/usr/bin/python3
scale=400
rig="$LBL_TMP/rig.yaml"
db="$LBL_TMP/lbl.db"
example="$LBL_TOP/recipes/examples/ag-tca-5-dip.yaml"
recipe="$LBL_TMP/every.yaml"	# the example measuring after every bilayer
one="$LBL_TMP/one.yaml"		# and with one bilayer
out="$LBL_TMP/out"
err="$LBL_TMP/err"
pdir="$LBL_TMP/plots"		# where plots go
ptmp="$LBL_TMP/ptmp"		# lblctl's TMPDIR: must be empty after every plot
mkdir -p "$pdir" "$ptmp"
sq() { sqlite3 "$db" "$1"; }
check() {
	name=$1; shift
	if "$@" >"$LBL_TMP/check.out" 2>&1; then pass "$name"
	else fail "$name" "$(tail -5 "$LBL_TMP/check.out" | tr '\n' '|')"; fi
}
has() {
	grep -Eq -- "$3" "$2" && pass "$1" || fail "$1" "no line matching '$3' in: $(head -c 600 "$2" | tr '\n' '|')"
}
# no_leftovers NAME: nothing of lblctl's left in its TMPDIR, no PWNED anywhere
no_leftovers() {
	[ -z "$(ls -A "$ptmp")" ] && pass "$1: the private directory is removed" ||
	    fail "$1: the private directory is removed" "$(ls -A "$ptmp")"
	pwned=$(find "$LBL_TMP" / -maxdepth 1 -name 'PWNED*' 2>/dev/null)
	[ -z "$pwned" ] && pass "$1: no command ran" || fail "$1: no command ran" "$pwned"
}
plot() { TMPDIR="$ptmp" "$ctl" plot "$@"; }

# a substrate, lot and note that break naive quoting: gnuplot's, CSV's, JSON's
sub="it's \"q\" \\ a,b '; system 'touch $LBL_TMP/PWNED-sub'; '"
lot='A,1 "x"'
note='say "hi", \ then'

sed -e 's/^  - bilayers: 5$/  - bilayers: 1/' -e 's/^version: .*/version: "1-every"/' "$example" >"$recipe"
sed -e 's/^  bilayers: 5$/  bilayers: 1/' -e 's/^  thickness: 39 nm$/  thickness: 7.8 nm/' \
    -e 's/^  max_bilayers: 5$/  max_bilayers: 1/' -e 's/^version: .*/version: "1-one"/' "$recipe" >"$one"
make_rig dip-rig.yaml "$rig"
start_simrig "$rig" --time-scale $scale || exit 1
start_lbld "$rig" "$db" --time-scale $scale || exit 1
answer_prompts >/dev/null 2>&1 &
LBL_PIDS="$LBL_PIDS $!"

"$ctl" run "$recipe" --substrate "$sub" --operator "o'neil" --lot "ag=$lot" --note "$note" --wait >"$out" 2>"$err" &&
    pass "batch 1 completes" || fail "batch 1 completes" "$(tail -3 "$err" "$out")"
"$ctl" run "$recipe" --substrate plain --operator ci >"$out" 2>"$err" || fail "batch 2 starts" "$(cat "$err")"
wait_for 30 sh -c "[ \"\$(sqlite3 '$db' \"select count(*) from steps where batch_id=2 and outcome='done'\")\" -ge 2 ]" ||
    fail "batch 2 runs some steps" "$(sq 'select seq, outcome from steps where batch_id=2' | tr '\n' ' ')"
"$ctl" abort >/dev/null 2>&1
wait_for 30 sh -c "'$ctl' status | grep -q '^state: idle'" || fail "idle after abort" "$("$ctl" status 2>&1 | head -3)"
[ "$(sq 'select count(*) from bilayers where batch_id=2')" = 0 ] && pass "batch 2 has no finished bilayer" ||
    fail "batch 2 has no finished bilayer" "$(sq 'select n from bilayers where batch_id=2')"
"$ctl" run "$one" --substrate one --operator ci --wait >"$out" 2>"$err" &&
    pass "batch 3 (one bilayer) completes" || fail "batch 3 completes" "$(tail -3 "$err" "$out")"
[ "$(sq 'select count(*) from bilayers where batch_id=1 and thickness_measured_nm is not null')" = 5 ] &&
    pass "batch 1 has 5 measured bilayers" || fail "batch 1 measured bilayers" "$(sq 'select n, thickness_measured_nm from bilayers where batch_id=1' | tr '\n' ' ')"

# ---- export csv: sections, each table equal to the database ----
"$ctl" export 1 --format csv >"$LBL_TMP/e1.csv" 2>"$err" || fail "export 1 csv" "$(cat "$err")"
check "export 1 csv: every table, every value as in the database" $py - "$LBL_TMP/e1.csv" "$db" 1 <<'PY'
import csv, math, sqlite3, sys
path, dbp, bid = sys.argv[1], sys.argv[2], int(sys.argv[3])
# sections: a row ["# NAME"], the header row, rows, an empty row ([] from csv)
tables, name = {}, None
for row in csv.reader(open(path, newline="")):
    if len(row) == 1 and row[0].startswith("# "):
        name = row[0][2:]; tables[name] = []
    elif row == []:
        name = None
    else:
        assert name is not None, ("a row outside any table", row)
        tables[name].append(row)
assert list(tables) == ["batches", "steps", "bilayers", "solutions", "baselines", "events"], list(tables)
def dicts(t):
    head, rows = tables[t][0], tables[t][1:]
    assert all(len(r) == len(head) for r in rows), ("ragged", t)
    return [dict(zip(head, r)) for r in rows]
db = sqlite3.connect("file:" + dbp + "?mode=ro", uri=True)
db.row_factory = sqlite3.Row
def same(csvval, dbval, col):
    if dbval is None:
        assert csvval == "", (col, csvval, dbval)
    elif isinstance(dbval, float):
        assert float(csvval) == dbval, (col, csvval, dbval)   # exact: shortest round-trip form
    elif isinstance(dbval, int):
        assert int(csvval) == dbval, (col, csvval, dbval)
    else:
        assert csvval == dbval, (col, csvval, dbval)
def compare(t, sql, mapping):
    got = dicts(t)
    want = db.execute(sql, (bid,)).fetchall()
    assert len(got) == len(want) and len(want) > 0 or t == "baselines", (t, len(got), len(want))
    for g, w in zip(got, want):
        for csvcol, dbcol in mapping.items():
            same(g[csvcol], w[dbcol], t + "." + csvcol)
    return got
b = compare("batches", "select b.*, r.name rname, r.version rversion, r.sha256 rsha, g.name gname, "
    "g.sha256 gsha from batches b join recipes r on r.id = b.recipe_id join rigs g on g.id = b.rig_id "
    "where b.id = ?", {"batch_id": "id", "recipe": "rname", "recipe_version": "rversion",
    "recipe_sha256": "rsha", "rig": "gname", "rig_sha256": "gsha", "substrate": "substrate",
    "operator": "operator", "note": "note", "state": "state", "started_at": "started_at",
    "ended_at": "ended_at", "bilayers_target": "bilayers_target", "bilayers_done": "bilayers_done",
    "thickness_target_nm": "thickness_target_nm", "thickness_estimated_nm": "thickness_estimated_nm",
    "thickness_measured_nm": "thickness_measured_nm", "time_scale": "time_scale",
    "software_version": "software_version", "failure_cause": "failure_cause"})
assert b[0]["substrate"].startswith("it's \"q\" \\ a,b '"), b[0]["substrate"]
assert b[0]["note"] == 'say "hi", \\ then' and b[0]["operator"] == "o'neil", b[0]
compare("steps", "select * from steps where batch_id = ? order by seq", {"batch_id": "batch_id",
    "seq": "seq", "bilayer": "bilayer", "phase": "phase", "kind": "kind", "station": "station",
    "solution": "solution", "planned_start_ms": "planned_start_ms",
    "planned_duration_ms": "planned_duration_ms", "actual_start_utc": "actual_start_utc",
    "actual_start_ms": "actual_start_ms", "actual_duration_ms": "actual_duration_ms",
    "motion_ms": "motion_ms", "dwell_ms": "dwell_ms", "outcome": "outcome", "attempts": "attempts",
    "volume_planned_ml": "volume_planned_ml", "volume_measured_ml": "volume_measured_ml"})
bl = compare("bilayers", "select * from bilayers where batch_id = ? order by n", {"batch_id": "batch_id",
    "bilayer": "n", "ended_at": "ended_at", "thickness_estimated_nm": "thickness_estimated_nm",
    "thickness_measured_nm": "thickness_measured_nm"})
assert len(bl) == 5 and all(r["thickness_measured_nm"] for r in bl), bl
so = compare("solutions", "select * from solutions where batch_id = ? order by name", {"batch_id": "batch_id",
    "solution": "name", "lot": "lot", "dips": "dips", "volume_ml": "volume_ml", "area_cm2": "area_cm2"})
assert {r["solution"]: r["lot"] for r in so}["ag"] == 'A,1 "x"', so
compare("baselines", "select * from baselines where batch_id = ? order by sensor", {"batch_id": "batch_id",
    "sensor": "sensor", "baseline_hz": "baseline_hz", "source": "source", "at": "at"})
compare("events", "select * from events where batch_id = ? order by id", {"batch_id": "batch_id",
    "event_id": "id", "at": "at", "kind": "kind", "device": "device", "message": "message"})
PY

# --table: one table alone, a header row and rows, as sqlite3 imports it
for t in batches steps bilayers solutions events; do
	"$ctl" export 1 --format csv --table $t >"$LBL_TMP/t-$t.csv" 2>"$err" || fail "export --table $t" "$(cat "$err")"
	sqlite3 "$LBL_TMP/import.db" ".import --csv $LBL_TMP/t-$t.csv $t" 2>"$err" &&
	    pass "export --table $t imports into sqlite3" || fail "export --table $t imports into sqlite3" "$(cat "$err")"
done
cmpq() { # NAME SQL (on the import, the record attached as o): PASS when it prints 0
	n=$(sqlite3 "$LBL_TMP/import.db" "attach '$db' as o; $2" 2>&1)
	[ "$n" = 0 ] && pass "$1" || fail "$1" "$n"
}
cmpq "sqlite3 import: bilayers equal the record's" "select (select count(*) from o.bilayers where batch_id = 1) -
    (select count(*) from bilayers x join o.bilayers y on y.batch_id = x.batch_id and y.n = x.bilayer
     where x.ended_at = y.ended_at and cast(x.thickness_estimated_nm as real) = y.thickness_estimated_nm
     and cast(x.thickness_measured_nm as real) = y.thickness_measured_nm)"
cmpq "sqlite3 import: steps equal the record's" "select (select count(*) from o.steps where batch_id = 1) -
    (select count(*) from steps x join o.steps y on y.batch_id = x.batch_id and y.seq = x.seq
     where x.outcome = y.outcome and cast(x.actual_start_ms as integer) = y.actual_start_ms
     and cast(x.actual_duration_ms as integer) = y.actual_duration_ms and x.kind = y.kind
     and x.actual_start_utc = y.actual_start_utc)"
cmpq "sqlite3 import: solutions and lots equal the record's" "select (select count(*) from o.solutions where batch_id = 1) -
    (select count(*) from solutions x join o.solutions y on y.batch_id = x.batch_id and y.name = x.solution
     where x.lot is y.lot or (x.lot = '' and y.lot is null))"
cmpq "sqlite3 import: events equal the record's" "select (select count(*) from o.events where batch_id = 1) -
    (select count(*) from events x join o.events y on y.id = x.event_id where x.message = y.message and x.at = y.at)"
cmpq "sqlite3 import: the batch row's substrate and note" "select count(*) from batches x join o.batches y on y.id = x.batch_id
    where x.substrate is not y.substrate or x.note is not y.note or cast(x.thickness_measured_nm as real) != y.thickness_measured_nm"
"$ctl" export 1 --format csv --table nosuch >"$out" 2>"$err"
[ $? = 2 ] && grep -q 'no such table; the tables are batches, steps' "$err" && [ ! -s "$out" ] &&
    pass "export --table nosuch refused, nothing printed" || fail "export --table nosuch" "$(cat "$err")"
"$ctl" export --all --format csv >"$LBL_TMP/all.csv" 2>"$err" || fail "export --all csv" "$(cat "$err")"
check "export --all csv: every batch in each table" $py - "$LBL_TMP/all.csv" "$db" <<'PY'
import csv, sqlite3, sys
db = sqlite3.connect(sys.argv[2])
tables, name = {}, None
for row in csv.reader(open(sys.argv[1], newline="")):
    if len(row) == 1 and row[0].startswith("# "):
        name = row[0][2:]; tables[name] = []
    elif row == []:
        name = None
    else:
        tables[name].append(row)
for t, sql in (("batches", "select count(*) from batches"), ("steps", "select count(*) from steps"),
               ("bilayers", "select count(*) from bilayers"), ("solutions", "select count(*) from solutions"),
               ("events", "select count(*) from events where batch_id is not null")):
    n = db.execute(sql).fetchone()[0]
    assert len(tables[t]) - 1 == n, (t, len(tables[t]) - 1, n)
assert sorted(int(r[0]) for r in tables["batches"][1:]) == [1, 2, 3]
PY

# ---- export json: the same record through the one JSON writer ----
"$ctl" export 1 --format json >"$LBL_TMP/e1.json" 2>"$err" || fail "export 1 json" "$(cat "$err")"
check "export 1 json: every table, every value as in the database" $py - "$LBL_TMP/e1.json" "$db" <<'PY'
import json, sqlite3, sys
d = json.load(open(sys.argv[1]))
db = sqlite3.connect(sys.argv[2]); db.row_factory = sqlite3.Row
assert len(d) == 1, len(d)
b = d[0]
row = db.execute("select * from batches where id = 1").fetchone()
for k in ("substrate", "operator", "note", "state", "started_at", "ended_at", "bilayers_target",
          "bilayers_done", "thickness_target_nm", "thickness_estimated_nm", "thickness_measured_nm",
          "time_scale", "software_version", "failure_cause"):
    assert b[k] == row[k], (k, b[k], row[k])
steps = db.execute("select * from steps where batch_id = 1 order by seq").fetchall()
assert len(b["steps"]) == len(steps)
for s, r in zip(b["steps"], steps):
    for k in ("seq", "bilayer", "phase", "kind", "station", "solution", "planned_start_ms",
              "planned_duration_ms", "actual_start_utc", "actual_start_ms", "actual_duration_ms",
              "motion_ms", "dwell_ms", "outcome", "attempts", "volume_planned_ml", "volume_measured_ml"):
        assert s[k] == r[k], (k, s[k], r[k])
bl = db.execute("select * from bilayers where batch_id = 1 order by n").fetchall()
assert [(x["n"], x["ended_at"], x["thickness_estimated_nm"], x["thickness_measured_nm"]) for x in b["bilayers"]] == \
    [(r["n"], r["ended_at"], r["thickness_estimated_nm"], r["thickness_measured_nm"]) for r in bl]
so = db.execute("select * from solutions where batch_id = 1 order by name").fetchall()
assert sorted((x["name"], x["lot"], x["dips"], x["volume_ml"], x["area_cm2"]) for x in b["solutions"]) == \
    [(r["name"], r["lot"], r["dips"], r["volume_ml"], r["area_cm2"]) for r in so]
ev = db.execute("select * from events where batch_id = 1 order by id").fetchall()
assert [(x["at"], x["kind"], x["device"], x["message"]) for x in b["events"]] == \
    [(r["at"], r["kind"], r["device"], r["message"]) for r in ev]
assert any(x["lot"] == 'A,1 "x"' for x in b["solutions"])
PY

# ---- show and series ----
"$ctl" show 1 >"$LBL_TMP/show1" 2>"$err" || fail "show 1" "$(cat "$err")"
want=$(sq "select printf('target %.1f nm, estimated %.1f nm, measured %.1f nm', thickness_target_nm, thickness_estimated_nm, thickness_measured_nm) from batches where id = 1")
has "show 1: thickness figures as recorded" "$LBL_TMP/show1" "^thickness: $want \(the last measurement\)\$"
"$ctl" show 2 >"$LBL_TMP/show2" 2>"$err" || fail "show 2" "$(cat "$err")"
want=$(sq "select printf('target %.1f nm, estimated %.1f nm', thickness_target_nm, thickness_estimated_nm) from batches where id = 2")
has "show 2: not measured said so" "$LBL_TMP/show2" "^thickness: $want, measured - \(not measured\)\$"
if grep -q 'see bilayers\|target set' "$LBL_TMP/show1"; then fail "show: no words for figures" "$(grep thickness "$LBL_TMP/show1")"
else pass "show: no words for figures"; fi
"$ctl" series 1 >"$LBL_TMP/series1" 2>"$err" || fail "series 1" "$(cat "$err")"
[ "$(grep -v '^#' "$LBL_TMP/series1" | head -1)" = "bilayer estimated_nm measured_nm" ] &&
    pass "series: a header row with column names" || fail "series header row" "$(head -4 "$LBL_TMP/series1")"
check "series 1: the bilayers' figures" $py - "$LBL_TMP/series1" "$db" <<'PY'
import sqlite3, sys
rows = [l.split() for l in open(sys.argv[1]) if not l.startswith("#")][1:]
db = sqlite3.connect(sys.argv[2])
want = db.execute("select n, thickness_estimated_nm, thickness_measured_nm from bilayers where batch_id = 1 order by n").fetchall()
assert len(rows) == len(want) == 5, rows
for r, w in zip(rows, want):
    assert int(r[0]) == w[0] and abs(float(r[1]) - w[1]) < 1e-4 and abs(float(r[2]) - w[2]) < 1e-4, (r, w)
PY
has "series: the substrate line" "$LBL_TMP/series1" '^# substrate: it'"'"'s "q"'

# ---- plot: nothing the user wrote runs ----
cd "$pdir" || exit 1
plot 1 -o "$pdir/x.png'; system 'touch $LBL_TMP/PWNED-o'" >"$out" 2>"$err"; rc=$?
[ $rc = 2 ] && grep -q 'must end in .svg or .png' "$err" && pass "plot -o with a command in the name: clean error" ||
    fail "plot -o with a command: clean error" "exit $rc: $(cat "$err")"
[ -z "$(ls -A "$pdir")" ] && pass "plot -o with a command: no file made" || fail "plot -o with a command: no file" "$(ls -A "$pdir")"
no_leftovers "plot -o with a command"
# (no slash in a file name: the command names its target through the environment)
export LBL_PWNED="$LBL_TMP/PWNED-o2"
weird="$pdir/x'; system 'touch \"\$LBL_PWNED\"'; \"q\" \\.svg"
if plot 1 3 -o "$weird" >"$out" 2>"$err"; then pass "plot to a name full of quotes"
else fail "plot to a name full of quotes" "$(cat "$err")"; fi
[ "$(ls -A "$pdir")" = "$(basename "$weird")" ] && pass "plot: exactly the named file made" ||
    fail "plot: exactly the named file made" "$(ls -A "$pdir")"
no_leftovers "plot to a name full of quotes"
check "plot: valid SVG; legend and title carry the substrate and batches verbatim" $py - "$weird" "$sub" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
texts = ["".join(t.itertext()) for t in root.iter() if t.tag.endswith("text")]
sub = sys.argv[2]
assert "batch 1, " + sub + ": measured" in texts, texts
assert "batch 1, " + sub + ": estimated" in texts, texts
assert "batch 3, one: measured" in texts, texts
assert "bilayer number" in texts and "thickness (nm)" in texts, texts
title = [t for t in texts if t.startswith("Film growth: ")]
assert title == ["Film growth: batch 1 (ag-tca-5@1-every), batch 3 (ag-tca-5@1-one)"], title
PY
rm -f "$pdir"/*

# one bilayer: its point; zero: an error and no file
if plot 3 -o "$pdir/one.svg" >"$out" 2>"$err"; then
	check "plot of one bilayer: one measured point and one estimated" $py - "$pdir/one.svg" <<'PY'
import re, sys
svg = open(sys.argv[1]).read()
# gnuplot draws point type 7 as #gpPt6 and type 1 as #gpPt0: one in the data, one in the legend
assert svg.count("#gpPt6") == 2 and svg.count("#gpPt0") == 2, (svg.count("#gpPt6"), svg.count("#gpPt0"))
PY
else fail "plot of one bilayer" "$(cat "$err")"; fi
no_leftovers "plot of one bilayer"
plot 2 -o "$pdir/zero.svg" >"$out" 2>"$err"; rc=$?
[ $rc = 1 ] && grep -q 'no finished bilayer to plot in batch 2' "$err" && pass "plot of zero bilayers: exit 1, said" ||
    fail "plot of zero bilayers" "exit $rc: $(cat "$err")"
[ ! -e "$pdir/zero.svg" ] && pass "plot of zero bilayers: no file" || fail "plot of zero bilayers: no file" "zero.svg made"
no_leftovers "plot of zero bilayers"
plot 999 -o "$pdir/none.svg" >"$out" 2>"$err"; rc=$?
[ $rc != 0 ] && grep -q 'no batch 999' "$err" && [ ! -e "$pdir/none.svg" ] && pass "plot 999: refused, no file" ||
    fail "plot 999" "exit $rc: $(cat "$err")"
no_leftovers "plot 999"

# gnuplot's complaints are shown, without the private directory's path
mkdir -p "$LBL_TMP/fakebin"
cat >"$LBL_TMP/fakebin/gnuplot" <<'SH'
#!/bin/sh
echo "\"$(pwd)/$1\" line 9: something went wrong in $(pwd)/batch-0.dat" >&2
exit 1
SH
chmod +x "$LBL_TMP/fakebin/gnuplot"
PATH="$LBL_TMP/fakebin:$PATH" TMPDIR="$ptmp" "$ctl" plot 1 -o "$pdir/fail.svg" >"$out" 2>"$err"; rc=$?
[ $rc = 1 ] && grep -q '^lblctl: gnuplot: "plot.gp" line 9: something went wrong in batch-0.dat$' "$err" &&
    pass "gnuplot's message shown without the temporary path" || fail "gnuplot's message" "exit $rc: $(cat "$err")"
grep -q "$ptmp\|lblctl-plot-" "$err" && fail "no temporary path in the messages" "$(cat "$err")" ||
    pass "no temporary path in the messages"
[ ! -e "$pdir/fail.svg" ] && pass "failed gnuplot: no file" || fail "failed gnuplot: no file" "fail.svg made"
no_leftovers "failed gnuplot"

# stopped while gnuplot draws: the private directory goes too, nothing written
cat >"$LBL_TMP/fakebin/gnuplot" <<'SH'
#!/bin/sh
exec sleep 30
SH
PATH="$LBL_TMP/fakebin:$PATH" TMPDIR="$ptmp" "$ctl" plot 1 -o "$pdir/stopped.svg" >"$out" 2>"$err" &
plot_pid=$!
wait_for 10 sh -c "ls '$ptmp' | grep -q lblctl-plot-" || fail "plot stopped: gnuplot started" "$(cat "$err")"
kill -TERM $plot_pid
wait $plot_pid; rc=$?
[ $rc = 143 ] && grep -q 'stopped by signal 15: nothing written' "$err" && pass "plot stopped by SIGTERM: said, then ends by the signal" ||
    fail "plot stopped by SIGTERM" "exit $rc: $(cat "$err")"
[ ! -e "$pdir/stopped.svg" ] && pass "plot stopped: no file" || fail "plot stopped: no file" "stopped.svg made"
no_leftovers "plot stopped by SIGTERM"

# across file systems: copied beside the target, then renamed
if [ -d /dev/shm ] && [ -w /dev/shm ] && [ "$(stat -c %d /dev/shm)" != "$(stat -c %d "$ptmp")" ]; then
	shm=$(mktemp -d /dev/shm/lbl-plot-test.XXXXXX)
	if plot 1 -o "$shm/x.png" >"$out" 2>"$err"; then
		[ "$(head -c 8 "$shm/x.png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ] &&
		    [ "$(ls -A "$shm")" = x.png ] && pass "plot onto another file system: the PNG alone" ||
		    fail "plot onto another file system" "$(ls -A "$shm")"
	else fail "plot onto another file system" "$(cat "$err")"; fi
	no_leftovers "plot onto another file system"
	rm -rf "$shm"
else
	echo "info: /dev/shm is not another file system here: the copy path is not exercised"
fi
cd "$LBL_TMP" || exit 1
exit 0
