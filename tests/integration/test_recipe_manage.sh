#!/bin/sh
# Recipe management through lbld, as an operator uses it: recipe add keeps
# one text per name and version (a changed text under a stored version is
# refused with a diff, the same text again is a no-op saying so); recipe
# list shows every version with its hash, batch count and retirement;
# run NAME takes the newest version not retired, run NAME@1 exactly
# version 1; recipe rm NAME@VERSION retires a version (kept for its
# batches: show still works; no longer run); recipe diff compares two
# stored versions, or one against a file. And a database from before
# recipe management (schema 3) holding two texts under one version opens,
# migrates and keeps both.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
scale=400
rig="$LBL_TMP/rig.yaml"
db="$LBL_TMP/lbl.db"
v1="$LBL_TOP/recipes/examples/ag-tca-5-dip.yaml"
edit="$LBL_TMP/edit.yaml"		# v1 with a longer rinse, still version 1
v2="$LBL_TMP/v2.yaml"			# the same change as version 2
out="$LBL_TMP/out"
err="$LBL_TMP/err"
sq() { sqlite3 "$db" "$1"; }
# has NAME FILE REGEX: PASS if a line of FILE matches the extended REGEX.
has() {
	grep -Eq -- "$3" "$2" && pass "$1" || fail "$1" "no line matching '$3' in: $(head -c 600 "$2" | tr '\n' '|')"
}
# expect NAME RC CMD...: PASS if CMD exits RC (its output in $out and $err).
expect() {
	name=$1 want=$2; shift 2
	"$@" >"$out" 2>"$err"; rc=$?
	[ "$rc" = "$want" ] && pass "$name" || fail "$name" "exit $rc, want $want: $(head -c 400 "$err")"
}
# run_abort KEY: starts KEY, prints the version it started, aborts, waits for idle.
run_abort() {
	"$ctl" run "$1" --operator ci >"$LBL_TMP/run.out" 2>"$LBL_TMP/run.err" || {
		echo "refused: $(cat "$LBL_TMP/run.err")"; return 1; }
	sed -n 's/^batch [0-9]* started: [^ ]* version \([^,]*\),.*/\1/p' "$LBL_TMP/run.out"
	"$ctl" abort >/dev/null 2>&1
	wait_for 30 sh -c "'$ctl' status | grep -q '^state: idle'"
}

sed -e 's/^\(      dwell: \)1min$/\12min/' "$v1" >"$edit"
sed -e 's/^version: "1"$/version: "2"/' "$edit" >"$v2"
sha1=$(sha256sum "$v1" | cut -c1-12)
sha2=$(sha256sum "$v2" | cut -c1-12)
make_rig dip-rig.yaml "$rig"
start_simrig "$rig" --time-scale $scale || exit 1

# ---- a schema-3 database (before recipe management) migrates, keeping all ----
start_lbld "$rig" "$db" --time-scale $scale || exit 1
"$ctl" recipe add "$v1" >/dev/null 2>&1 || fail "store v1" "$(cat "$err")"
kill "$LBLD_PID"; wait "$LBLD_PID" 2>/dev/null
# back to schema 3 exactly (retired_at and its index are what 4 added), with a
# second text under ag-tca-5@1 as lbl before this change stored it silently
sq "DROP INDEX recipes_version; ALTER TABLE recipes DROP COLUMN retired_at; PRAGMA user_version = 3;
    INSERT INTO recipes (name, version, sha256, yaml, added_at) VALUES ('old', '1',
    '$(printf 'old text a' | sha256sum | cut -c1-64)', 'name: old', '2026-01-01T00:00:00.000Z'),
    ('old', '1', '$(printf 'old text b' | sha256sum | cut -c1-64)', 'name: old # b',
    '2026-01-02T00:00:00.000Z');" 2>"$err" || fail "downgrade to schema 3" "$(cat "$err")"
[ "$(sq 'PRAGMA user_version')" = 3 ] && pass "the database is at schema 3" ||
    fail "the database is at schema 3" "$(sq 'PRAGMA user_version')"
start_lbld "$rig" "$db" --time-scale $scale || exit 1
grep -q "schema migrated from version 3 to 4" "$LBL_TMP/lbld.err" &&
    pass "lbld migrates schema 3 to 4" || fail "lbld migrates schema 3 to 4" "$(tail -3 "$LBL_TMP/lbld.err")"
[ "$(sq 'PRAGMA user_version')" = 4 ] && [ "$(sq "select count(*) from recipes where retired_at is null")" = 3 ] &&
    pass "every old recipe row kept, none retired" || fail "old rows kept" "$(sq 'select id, name, version, retired_at from recipes' | tr '\n' ' ')"
expect "recipe list after the migration" 0 "$ctl" recipe list
[ "$(grep -c '^old  *1  ' "$out")" = 2 ] && pass "both old texts of old@1 listed" ||
    fail "both old texts of old@1 listed" "$(cat "$out")"
expect "show of an old text" 0 "$ctl" recipe show old@1
has "old@1 is the newer of its texts" "$out" '^name: old # b$'

answer_prompts >/dev/null 2>&1 &
LBL_PIDS="$LBL_PIDS $!"

# ---- add: one text per name and version ----
expect "recipe add of the same text again: exit 0" 0 "$ctl" recipe add "$v1"
has "the same text again says nothing changed" "$out" "ag-tca-5@1 is stored already with the same text \(sha256 $sha1\): nothing changed"
n_before=$(sq "select count(*) from recipes")
expect "recipe add of a changed text under version 1: exit 1" 1 "$ctl" recipe add "$edit"
has "the refusal asks for a new version" "$err" 'recipe ag-tca-5 version 1 is stored with a different text .*give the changed recipe a new version'
has "the refusal's diff: stored text first" "$out" "^--- ag-tca-5@1 \(stored, sha256 $sha1\)"
has "the refusal's diff removes the stored dwell" "$out" '^-      dwell: 1min$'
has "the refusal's diff adds the new dwell" "$out" '^\+      dwell: 2min$'
[ "$(sq "select count(*) from recipes")" = "$n_before" ] && pass "the refused text is not stored" ||
    fail "the refused text is not stored" "$(sq 'select id, name, version from recipes' | tr '\n' ' ')"
expect "run of a changed file under a stored version: refused" 1 "$ctl" run "$edit" --operator ci
has "run FILE refusal asks for a new version" "$err" 'give the changed recipe a new version'
[ "$(sq "select count(*) from batches")" = 0 ] && pass "no batch started by the refused run" ||
    fail "no batch started by the refused run" "$(sq 'select id from batches')"
expect "recipe add of version 2" 0 "$ctl" recipe add "$v2"
has "version 2 stored" "$out" "^stored ag-tca-5@2 \(sha256 $sha2\)$"

# ---- run picks: NAME the newest runnable, NAME@1 exactly 1 ----
got=$(run_abort ag-tca-5) && [ "$got" = 2 ] && pass "run ag-tca-5 takes version 2 (the newest)" ||
    fail "run ag-tca-5 takes version 2" "$got"
got=$(run_abort ag-tca-5@1) && [ "$got" = 1 ] && pass "run ag-tca-5@1 takes exactly version 1" ||
    fail "run ag-tca-5@1 takes version 1" "$got"
got=$(run_abort ag-tca-5@1) && [ "$got" = 1 ] && pass "run ag-tca-5@1 again" || fail "run ag-tca-5@1 again" "$got"

# ---- list: hash, batch count, retired ----
expect "recipe list" 0 "$ctl" recipe list
has "list header" "$out" '^NAME +VERSION +SHA256 +BATCHES +ADDED \(UTC\) +RETIRED \(UTC\)$'
has "list: version 1, its hash, 2 batches, not retired" "$out" "^ag-tca-5 +1 +$sha1 +2 +20[0-9-]+T[0-9:.]+Z +-\$"
has "list: version 2, its hash, 1 batch" "$out" "^ag-tca-5 +2 +$sha2 +1 +20[0-9-]+T[0-9:.]+Z +-\$"

# ---- diff ----
expect "recipe diff ag-tca-5@1 ag-tca-5@2" 0 "$ctl" recipe diff ag-tca-5@1 ag-tca-5@2
has "diff names both versions" "$out" "^\+\+\+ ag-tca-5@2 \(sha256 $sha2\)"
has "diff: version line" "$out" '^\+version: "2"$'
has "diff: dwell line" "$out" '^\+      dwell: 2min$'
[ "$(grep -c '^[-+][^-+]' "$out")" = 4 ] && pass "diff: exactly two lines changed" ||
    fail "diff: exactly two lines changed" "$(grep '^[-+]' "$out" | tr '\n' '|')"
expect "recipe diff of a version against its own file" 0 "$ctl" recipe diff ag-tca-5@1 "$v1"
has "identical texts said so" "$out" 'ag-tca-5@1 and .*ag-tca-5-dip.yaml are identical'
[ "$(wc -l <"$out")" = 1 ] && pass "identical: no diff printed" || fail "identical: no diff printed" "$(cat "$out")"
expect "recipe diff of a stored version against a file" 0 "$ctl" recipe diff ag-tca-5@1 "$edit"
has "diff against a file names it" "$out" "^\+\+\+ $edit\$"
expect "recipe diff with a missing version" 2 "$ctl" recipe diff ag-tca-5@1 ag-tca-5@9
has "missing version named" "$err" 'no stored recipe ag-tca-5@9'

# ---- rm: retired, kept, not run ----
b2=$(sq "select b.id from batches b join recipes r on r.id = b.recipe_id where r.version = '2'")
expect "recipe rm ag-tca-5@2" 0 "$ctl" recipe rm ag-tca-5@2
has "rm says what it did" "$out" '^recipe ag-tca-5@2 retired: kept for the batches that ran it, no longer run$'
[ -n "$(sq "select retired_at from recipes where name = 'ag-tca-5' and version = '2'")" ] &&
    [ "$(sq "select count(*) from recipes where name = 'ag-tca-5'")" = 2 ] &&
    pass "retired: the row stays, stamped" || fail "retired: the row stays" "$(sq 'select id, version, retired_at from recipes' | tr '\n' ' ')"
expect "recipe rm ag-tca-5@2 again" 0 "$ctl" recipe rm ag-tca-5@2
has "rm again: nothing changed" "$out" 'retired already: nothing changed'
expect "recipe list shows the retirement" 0 "$ctl" recipe list
has "list: version 2 retired" "$out" "^ag-tca-5 +2 +$sha2 +1 +20[0-9-]+T[0-9:.]+Z +20[0-9-]+T[0-9:.]+Z\$"
expect "run ag-tca-5@2 (retired): refused" 1 "$ctl" run ag-tca-5@2 --operator ci
has "run of a retired version explained" "$err" 'recipe ag-tca-5@2 was retired on 20.*not run again'
expect "run FILE of a retired version: refused" 1 "$ctl" run "$v2" --operator ci
has "run FILE of a retired version explained" "$err" 'ag-tca-5@2 was retired on'
expect "recipe add of a retired version's text: refused" 1 "$ctl" recipe add "$v2"
got=$(run_abort ag-tca-5) && [ "$got" = 1 ] && pass "run ag-tca-5 skips the retired version 2" ||
    fail "run ag-tca-5 skips the retired version" "$got"
expect "show of a batch of the retired version" 0 "$ctl" show "$b2"
has "show still names the retired version" "$out" "^recipe: +ag-tca-5 version 2, sha256 $sha2"
expect "show --recipe of that batch" 0 "$ctl" show "$b2" --recipe
cmp -s "$out" "$v2" && pass "show --recipe: the retired text verbatim" || fail "show --recipe verbatim" "$(diff "$out" "$v2" | head -3)"
expect "history lists the batch" 0 "$ctl" history
has "history row of the retired version" "$out" "^ +$b2 +ag-tca-5@2 "
expect "recipe show of a retired version" 0 "$ctl" recipe show ag-tca-5@2
has "recipe show says retired" "$out" '^# ag-tca-5@2 sha256 .* retired 20'
expect "recipe rm ag-tca-5@1" 0 "$ctl" recipe rm ag-tca-5@1
expect "run ag-tca-5 with every version retired: refused" 1 "$ctl" run ag-tca-5 --operator ci
has "every version retired explained" "$err" 'every version of recipe ag-tca-5 is retired'
expect "recipe rm without a version: usage" 2 "$ctl" recipe rm ag-tca-5
has "rm needs NAME@VERSION" "$err" "expected NAME@VERSION, not 'ag-tca-5'"
expect "recipe rm of an unknown recipe" 2 "$ctl" recipe rm nosuch@1
has "unknown recipe named" "$err" 'no stored recipe nosuch@1'
[ "$(sq "select count(*) from batches where state = 'aborted'")" = 4 ] && pass "no batch started by the refusals" ||
    fail "no batch started by the refusals" "$(sq 'select id, state from batches' | tr '\n' ' ')"

# ---- who may: rm is a change (operators), diff and list a read ----
if test_users; then
	as_viewer "$ctl" recipe rm old@1 >"$out" 2>&1; rc=$?
	[ $rc = 1 ] && grep -q 'recipe rm: permission denied' "$out" && pass "a viewer's recipe rm is refused" ||
	    fail "a viewer's recipe rm is refused" "rc $rc: $(cat "$out")"
	[ -z "$(sq "select retired_at from recipes where name = 'old' and retired_at is not null")" ] &&
	    pass "the viewer retired nothing" || fail "the viewer retired nothing" "old@1 retired"
	as_viewer "$ctl" recipe diff ag-tca-5@1 ag-tca-5@2 >"$out" 2>&1 && grep -q '^+version: "2"$' "$out" &&
	    pass "a viewer may diff" || fail "a viewer may diff" "$(cat "$out")"
fi
grep -E 'AddressSanitizer|runtime error' "$LBL_TMP/lbld.err" >/dev/null &&
    fail "lbld sanitizer clean" "$(grep -E -m3 'AddressSanitizer|runtime error' "$LBL_TMP/lbld.err")" || true
exit 0
