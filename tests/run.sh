#!/bin/sh
# Runs every test and prints one closing line "N passed, N failed".
#   tests/run.sh BUILD_DIR [unit|integration|faults|all]
# Unit tests are the binaries BUILD_DIR/tests/test_*; integration tests are
# the scripts tests/integration/test_*.{sh,py}; the fault campaign is
# tests/faults/campaign.sh. LBL_TESTS="test_a test_b" limits the
# integration tests to those names. Every test prints
# "PASS name" / "FAIL name: why" lines; a test that exits non-zero without
# printing a FAIL line is counted as one failure.
build=${1:-build}
which=${2:-all}
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd)
export LBL_BUILD="$build" LBL_TOP="$top"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0 failed=0

run_one() {
	name=$1; shift
	echo "== $name"
	"$@" >"$log" 2>&1
	rc=$?
	grep -E '^(FAIL |info: )' "$log"
	p=$(grep -c '^PASS ' "$log"); f=$(grep -c '^FAIL ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1; echo "FAIL $name: exited $rc"; tail -20 "$log"
	fi
	[ "$f" -ne 0 ] && tail -30 "$log" | grep -v '^PASS '
	echo "   $p passed, $f failed"
	passed=$((passed + p)); failed=$((failed + f))
}

if [ "$which" = unit ] || [ "$which" = all ]; then
	for t in "$build"/tests/test_*; do
		[ -x "$t" ] || continue
		run_one "$(basename "$t")" "$t"
	done
fi
if [ "$which" = integration ] || [ "$which" = all ]; then
	for t in "$top"/tests/integration/test_*.sh "$top"/tests/integration/test_*.py; do
		[ -f "$t" ] || continue
		if [ -n "${LBL_TESTS:-}" ]; then
			n=$(basename "$t"); n=${n%.*}
			case " $LBL_TESTS " in *" $n "*) ;; *) continue ;; esac
		fi
		case "$t" in
		*.py) run_one "$(basename "$t")" /usr/bin/python3 "$t" ;;
		*) run_one "$(basename "$t")" sh "$t" ;;
		esac
	done
fi
if [ "$which" = faults ] || [ "$which" = all ]; then
	run_one campaign.sh sh "$top/tests/faults/campaign.sh"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
