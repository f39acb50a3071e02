#!/bin/sh
# The record's text, whole and strictly encoded. A batch runs on lbl-simrig
# with every awkward text the record carries: a recipe name, a solution
# name, a station name (from the rig file) and a recipe lot with quotes,
# backslashes, control characters and non-ASCII letters; a substrate,
# operator, note and --lot exactly at their limits (lblctl(1)), made of
# multi-byte characters so that any cut would fall inside one, with a
# quote, a backslash and a byte that is not UTF-8. Then:
# - run refuses each text one byte past its limit, naming the limit, exit
#   2, and records nothing;
# - every JSON output (status --json, status --follow --json, history
#   --json, show --json, export --format json, one batch and --all, with
#   the batch's events) parses with a strict parser (UTF-8 decoded
#   strictly, NaN and Infinity refused) and holds each text whole (the
#   invalid byte as U+FFFD);
# - show, history, compare and export --format csv print each text whole,
#   byte for byte.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
py=/usr/bin/python3
db="$LBL_TMP/lbl.db"
rig="$LBL_TMP/rig.yaml"
recipe="$LBL_TMP/weird.yaml"
t="$LBL_TMP/texts"
mkdir -p "$t"

make_rig dip-rig.yaml "$rig"
# the texts, as files of bytes (the shell would not carry some of them):
# names for the YAML files (as escapes), and the run's texts at their limits
$py - "$rig" "$LBL_TOP/recipes/examples/ag-tca-5-dip.yaml" "$recipe" "$t" <<'PY' ||
import sys
rig, src, out, t = sys.argv[1:5]
names = {
    "recipe": '"r\\"e\\\\c\\x01 \\u2014 Zo\\u00eb"',
    "solution": '"a\\"g\\\\ \\u00e9\\x02"',
    "station": '"t\\"c\\\\a \\u00fc\\x03"',
    "rigname": '"r\\"ig\\\\ \\u00e5\\x04"',
    "lot": '"L\\"o\\\\t\\x05 \\u00e6"',
}
r = open(rig).read()
assert "name: dip-rig-1\n" in r and "\n  tca:     {kind: beaker" in r
r = r.replace("name: dip-rig-1\n", "name: %s\n" % names["rigname"])
r = r.replace("\n  tca:     {kind: beaker", "\n  %s: {kind: beaker" % names["station"])
open(rig, "w").write(r)
s = open(src).read()
s = s.replace("name: ag-tca-5\n", "name: %s\n" % names["recipe"])
s = s.replace("  ag:\n    station: ag\n", "  %s:\n    station: ag\n    lot: %s\n" %
              (names["solution"], names["lot"]))
s = s.replace("solution: ag\n", "solution: %s\n" % names["solution"])
s = s.replace("station: tca\n", "station: %s\n" % names["station"])
open(out, "w").write(s)
# each text exactly at its limit, in bytes: a quote, a backslash, a byte
# that is not UTF-8, then two- and three-byte characters to the end
def text(limit, fill):
    b = b'Q"B\\X\xff'
    while len(b) + len(fill.encode()) <= limit:
        b += fill.encode()
    b += b"z" * (limit - len(b))
    assert len(b) == limit
    return b
for name, limit, fill in (("substrate", 512, "\u00e9"), ("operator", 128, "\u00f6"),
                          ("note", 2048, "\u20ac"), ("lot", 256, "\u00e7")):
    open("%s/%s" % (t, name), "wb").write(text(limit, fill))
    open("%s/%s.long" % (t, name), "wb").write(text(limit, fill) + b"z")
PY
	{ fail "texts made" "python"; exit 1; }
start_simrig "$rig" --time-scale 400 || exit 1
start_lbld "$rig" "$db" --time-scale 400 || exit 1
"$ctl" check "$recipe" --rig "$rig" >/dev/null 2>"$LBL_TMP/err" ||
	{ fail "the awkward recipe and rig are valid" "$(cat "$LBL_TMP/err")"; exit 1; }
sub=$(cat "$t/substrate"); op=$(cat "$t/operator"); note=$(cat "$t/note"); lot=$(cat "$t/lot")

# ---- one byte past each limit: refused, naming it; nothing recorded ----
refused() { # NAME LIMIT ARGS...: run with ARGS exits 2 naming LIMIT bytes, and no batch exists
	name=$1 limit=$2; shift 2
	"$ctl" run "$recipe" "$@" >"$LBL_TMP/out" 2>"$LBL_TMP/err"; rc=$?
	if [ $rc = 2 ] && grep -q "limit of $limit bytes" "$LBL_TMP/err" &&
	    [ "$(sqlite3 "$db" 'select count(*) from batches')" = 0 ]; then
		pass "run refuses $name past $limit bytes"
	else
		fail "run refuses $name past $limit bytes" "exit $rc: $(cat "$LBL_TMP/err")"
	fi
}
refused "--substrate" 512 --substrate "$(cat "$t/substrate.long")"
refused "--operator" 128 --operator "$(cat "$t/operator.long")"
refused "--note" 2048 --note "$(cat "$t/note.long")"
refused "--lot" 256 --lot "tca=$(cat "$t/lot.long")"

# ---- a batch with every text at its limit ----
"$ctl" run "$recipe" --substrate "$sub" --operator "$op" --note "$note" --lot "tca=$lot" \
    >"$LBL_TMP/out" 2>"$LBL_TMP/err" || { fail "run at the limits" "$(cat "$LBL_TMP/err")"; exit 1; }
pass "run accepts every text at its limit"
wait_for 20 sh -c "\"$ctl\" status | grep -q '^state: prompt'" || fail "the batch prompts" "$("$ctl" status)"
"$ctl" status --json >"$LBL_TMP/status.json" 2>"$LBL_TMP/err" || fail "status --json" "$(cat "$LBL_TMP/err")"
"$ctl" status --follow --json >"$LBL_TMP/follow.json" 2>&1 &
follow=$!
LBL_PIDS="$LBL_PIDS $follow"
answer_prompts >/dev/null 2>&1 &
LBL_PIDS="$LBL_PIDS $!"
wait_for 120 sh -c "[ \"\$(sqlite3 '$db' 'select state from batches where id = 1')\" = completed ]" ||
	fail "the batch completes" "$(sqlite3 "$db" 'select state, failure_cause from batches')"
kill "$follow" 2>/dev/null
wait "$follow" 2>/dev/null
"$ctl" history --json >"$LBL_TMP/history.json" 2>"$LBL_TMP/err" || fail "history --json" "$(cat "$LBL_TMP/err")"
"$ctl" show 1 --json >"$LBL_TMP/show.json" 2>"$LBL_TMP/err" || fail "show --json" "$(cat "$LBL_TMP/err")"
"$ctl" export 1 --format json >"$LBL_TMP/export.json" 2>"$LBL_TMP/err" || fail "export json" "$(cat "$LBL_TMP/err")"
"$ctl" export --all --format json >"$LBL_TMP/all.json" 2>"$LBL_TMP/err" || fail "export --all json" "$(cat "$LBL_TMP/err")"
"$ctl" export 1 --format csv --table steps >"$LBL_TMP/export.csv" 2>"$LBL_TMP/err" || fail "export csv" "$(cat "$LBL_TMP/err")"
"$ctl" show 1 >"$LBL_TMP/show.txt" 2>"$LBL_TMP/err" || fail "show" "$(cat "$LBL_TMP/err")"
"$ctl" history >"$LBL_TMP/history.txt" 2>"$LBL_TMP/err" || fail "history" "$(cat "$LBL_TMP/err")"
"$ctl" compare 1 1 >"$LBL_TMP/compare.txt" 2>"$LBL_TMP/err" || fail "compare" "$(cat "$LBL_TMP/err")"

# check NAME PYTHON: PASS if the assertions hold. They see load(FILE) (strict
# JSON of a file), lines(FILE) (strict JSON per line) and the expected texts.
check() {
	if $py - "$t" "$LBL_TMP" "$2" <<'PY' 2>"$LBL_TMP/py.err"; then pass "$1"; else fail "$1" "$(tail -3 "$LBL_TMP/py.err")"; fi
import json, sys
t, tmp = sys.argv[1:3]
def refuse(c):
    raise ValueError("not JSON: %s" % c)
def parse(text):
    return json.loads(text, parse_constant=refuse)
def load(name):
    return parse(open("%s/%s" % (tmp, name), "rb").read().decode("utf-8", "strict"))
def lines(name):
    return [parse(l) for l in open("%s/%s" % (tmp, name), "rb").read().decode("utf-8", "strict").splitlines() if l.strip()]
raw = {k: open("%s/%s" % (t, k), "rb").read() for k in ("substrate", "operator", "note", "lot")}
# as JSON carries them: the byte that is not UTF-8 as U+FFFD, the rest whole
want = {k: v.decode("utf-8", "replace") for k, v in raw.items()}
recipe = "r\"e\\c\x01 \u2014 Zo\u00eb"
solution = "a\"g\\ \u00e9\x02"
station = "t\"c\\a \u00fc\x03"
rigname = "r\"ig\\ \u00e5\x04"
rlot = "L\"o\\t\x05 \u00e6"
exec(sys.argv[3])
PY
}
check "status --json: strict, the recipe name whole" '
d = load("status.json")
assert d["recipe"] == recipe, repr(d["recipe"])'
check "status --follow --json: every line strict, the recipe name whole (none once idle)" '
ds = lines("follow.json")
assert len(ds) >= 2, len(ds)
assert all(d["recipe"] in (recipe, None) for d in ds), [d["recipe"] for d in ds]
assert sum(d["recipe"] == recipe for d in ds) >= 2'
check "history --json: strict, every text whole" '
d = load("history.json")
assert len(d) == 1, d
b = d[0]
assert (b["recipe"], b["substrate"], b["operator"], b["note"]) == (recipe, want["substrate"], want["operator"], want["note"]), b'
batch_checks='
assert b["recipe"] == recipe and b["rig"] == rigname, (b["recipe"], b["rig"])
assert len(b["rig_sha256"]) == 64 and len(b["recipe_sha256"]) == 64
assert (b["substrate"], b["operator"], b["note"]) == (want["substrate"], want["operator"], want["note"])
assert b["state"] == "completed" and b["bilayers_done"] == 5
assert b["thickness_target_nm"] == 39 and abs(b["thickness_estimated_nm"] - 39) < 1e-9, b
lots = {s["name"]: s["lot"] for s in b["solutions"]}
assert lots[solution] == rlot and lots["tca"] == want["lot"], lots
assert sum(s["dips"] for s in b["solutions"] if s["name"] == solution) == 5
assert any(s["station"] == station for s in b["steps"]), set(s["station"] for s in b["steps"])
assert any(s["solution"] == solution for s in b["steps"])
assert all(s["outcome"] == "done" for s in b["steps"]), [s["outcome"] for s in b["steps"]]
assert [x["n"] for x in b["bilayers"]] == [1, 2, 3, 4, 5]
assert any(recipe in e["message"] for e in b["events"]), [e["message"] for e in b["events"]]'
check "show --json: strict; texts, rig, lots, steps, bilayers, events whole" "
b = load('show.json')
$batch_checks"
check "export --format json: strict, the same batch" "
d = load('export.json')
assert len(d) == 1
b = d[0]
$batch_checks
assert d == [load('show.json')]"
check "export --all --format json: strict, the same batch" "
assert load('all.json') == load('export.json')"
check "export --format csv: every text whole, byte for byte" '
import csv, io
rows = list(csv.DictReader(io.StringIO(open(tmp + "/export.csv", "rb").read().decode("utf-8", "surrogateescape"), newline="")))
assert rows, "no rows"
s = lambda k: raw[k].decode("utf-8", "surrogateescape")
for r in rows:
    assert (r["recipe"], r["substrate"], r["operator"]) == (recipe, s("substrate"), s("operator")), r
assert any(r["station"] == station for r in rows)
assert any(r["solution"] == solution for r in rows)'
check "show, history, compare: every text whole, byte for byte" '
show = open(tmp + "/show.txt", "rb").read()
for k, label in (("substrate", b"substrate: "), ("operator", b"operator:  "), ("note", b"note:      ")):
    assert label + raw[k] + b"\n" in show, k
assert raw["lot"] in show and b"tca" in show
assert raw["substrate"] in open(tmp + "/history.txt", "rb").read()
assert raw["lot"] in open(tmp + "/compare.txt", "rb").read()'
[ -z "${LBL_FAILED:-}" ]
