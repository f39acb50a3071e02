#!/bin/sh
# A record with corrupt pages is never read as whole. lbl-histgen makes a
# record of 200 batches of about 100 steps; then one leaf page of the
# steps table's b-tree (in the middle of one batch's steps) and, once lbld
# runs, one leaf page of the batches table (batches other than that one)
# are overwritten with garbage, as a failing disk would. show, show --json, export (csv
# and json, the batch and --all), compare, series and history (text and
# --json) must each exit 1 naming the database and SQLite's "malformed",
# where before show and export printed part of a batch with exit 0. A
# batch the damage does not touch still reads whole, exit 0.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
db="$LBL_TMP/lbl.db"
"$LBL_BUILD/tests/lbl-histgen" "$db" 200 >/dev/null || { fail "lbl-histgen" "no record"; exit 1; }
# damage DB PAGE...: overwrites each page but its 8-byte header with garbage
damage() {
	/usr/bin/python3 - "$@" <<'PY'
import sqlite3, sys
path, pages = sys.argv[1], [int(p) for p in sys.argv[2:]]
c = sqlite3.connect(path)
page_size = c.execute("pragma page_size").fetchone()[0]
c.close()
with open(path, "r+b") as f:
    for page in pages:
        f.seek((page - 1) * page_size + 8)
        f.write(b"\xa5" * (page_size - 8))
PY
}
# film thicknesses past 1,000 nm with every digit: JSON must give them back
# exactly (%.4g once printed 1235)
sqlite3 "$db" "update batches set thickness_estimated_nm = 1234.5678901234567 + id" ||
    { fail "thicknesses set" "sqlite3"; exit 1; }
# The pages: a leaf in the middle of the steps' b-tree and the batches
# table's first leaf; tried on a copy, to know which batch lost steps and
# one that reads whole (its row, steps and bilayers).
cp "$db" "$LBL_TMP/probe.db"
pages=$(/usr/bin/python3 - "$LBL_TMP/probe.db" <<'PY'
import sqlite3, sys
path = sys.argv[1]
c = sqlite3.connect(path)
def leaves(table):
    return [p for (p,) in c.execute("select pageno from dbstat where name = ? and "
                                    "pagetype = 'leaf' order by path", (table,))]
steps, batches = leaves("steps"), leaves("batches")
ids = [i for (i,) in c.execute("select id from batches order by id")]
c.close()
assert len(steps) > 100 and len(batches) >= 3, (len(steps), len(batches))
pages = (steps[len(steps) // 2], batches[0])
page_size = sqlite3.connect(path).execute("pragma page_size").fetchone()[0]
with open(path, "r+b") as f:
    for page in pages:
        f.seek((page - 1) * page_size + 8)
        f.write(b"\xa5" * (page_size - 8))
c = sqlite3.connect(path)
hit = whole = None
for i in ids:
    try:
        c.execute("select * from batches where id = ?", (i,)).fetchall()
    except sqlite3.DatabaseError:
        continue
    try:
        c.execute("select * from steps where batch_id = ? order by seq", (i,)).fetchall()
        c.execute("select * from bilayers where batch_id = ?", (i,)).fetchall()
        whole = whole or i
    except sqlite3.DatabaseError:
        hit = hit or i
assert hit is not None and whole is not None, (hit, whole)
print(pages[0], pages[1], hit, whole)
PY
) || { fail "find two pages to damage" "$pages"; exit 1; }
set -- $pages
steps_page=$1 batches_page=$2 hit=$3 whole=$4
# the steps' page before lbld starts; the batches' while it runs (lbld
# reads the last batch at start-up and refuses a record it cannot read)
damage "$db" "$steps_page" || { fail "damage the steps" "python"; exit 1; }
make_rig dip-rig.yaml "$LBL_TMP/rig.yaml"
start_simrig "$LBL_TMP/rig.yaml" || exit 1
start_lbld "$LBL_TMP/rig.yaml" "$db" || exit 1
damage "$db" "$batches_page" || { fail "damage the batches" "python"; exit 1; }

# fails NAME ARGS...: lblctl ARGS exits 1 naming the database and the damage
fails() {
	name=$1; shift
	"$ctl" "$@" >"$LBL_TMP/out" 2>"$LBL_TMP/err"; rc=$?
	if [ $rc = 1 ] && grep -q "database $db: .*malformed" "$LBL_TMP/err"; then
		pass "$name: exit 1 naming the damage"
	else
		fail "$name: exit 1 naming the damage" "exit $rc, $(wc -l <"$LBL_TMP/out") lines out: $(cat "$LBL_TMP/err")"
	fi
}
fails "show $hit" show "$hit"
fails "show $hit --json" show "$hit" --json
fails "export $hit csv" export "$hit" --format csv
fails "export $hit json" export "$hit" --format json
fails "export --all csv" export --all --format csv
fails "export --all json" export --all --format json
fails "compare $whole $hit" compare "$whole" "$hit"
fails "compare $hit $whole" compare "$hit" "$whole"
fails "history" history
fails "history --json" history --json
# the message says what could not be read, not only that something failed
"$ctl" show "$hit" >/dev/null 2>"$LBL_TMP/err"
grep -q "record of batch $hit could not be read whole" "$LBL_TMP/err" &&
    pass "show $hit: says the batch's record is not whole" ||
    fail "show $hit: says the batch's record is not whole" "$(cat "$LBL_TMP/err")"
# what the damage does not touch reads as before
"$ctl" show "$whole" >"$LBL_TMP/out" 2>"$LBL_TMP/err" &&
    [ "$(grep -cE '^ +[0-9]+ +[0-9]+ ' "$LBL_TMP/out")" = "$(sqlite3 "$db" "select count(*) from steps where batch_id = $whole")" ] &&
    pass "show $whole (undamaged): exit 0, every step" ||
    fail "show $whole (undamaged): exit 0, every step" "$(cat "$LBL_TMP/err")"
"$ctl" export "$whole" --format json >"$LBL_TMP/out" 2>"$LBL_TMP/err" &&
    /usr/bin/python3 -c '
import json, sqlite3, sys
d = json.load(open(sys.argv[1]))
n = sqlite3.connect(sys.argv[2]).execute("select count(*) from steps where batch_id = ?", (int(sys.argv[3]),)).fetchone()[0]
assert len(d) == 1 and len(d[0]["steps"]) == n, (len(d[0]["steps"]), n)
assert d[0]["thickness_estimated_nm"] == 1234.5678901234567 + int(sys.argv[3]), d[0]["thickness_estimated_nm"]' "$LBL_TMP/out" "$db" "$whole" &&
    pass "export $whole json (undamaged): exit 0, every step, thickness exact past 1,000 nm" ||
    fail "export $whole json (undamaged): exit 0, every step, thickness exact past 1,000 nm" "$(cat "$LBL_TMP/err")"
[ -z "${LBL_FAILED:-}" ]
