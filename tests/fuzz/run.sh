#!/bin/sh
# Builds the recipe fuzzer with clang (libFuzzer + ASan + UBSan) and runs it
# for SECONDS (default 30), seeded with the example and bad recipes.
#   tests/fuzz/run.sh [SECONDS]
# Prints "PASS fuzz-recipe" or "FAIL fuzz-recipe: ..." like the other tests.
set -u
seconds=${1:-30}
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$top/build/fuzz
mkdir -p "$out/corpus"
cd "$top" || exit 1
src="tests/fuzz/fuzz_recipe.c base/conf.c base/units.c base/json.c recipes/recipe.c
     recipes/plan.c recipes/compile.c recipes/plan_print.c hw/rig/rig.c hw/rig/profile.c
     base/log.c base/text.c"
if ! clang -g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -iquote base -iquote hw/rig -iquote recipes \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    $(pkg-config --cflags yaml-0.1) $src \
    $(pkg-config --libs yaml-0.1) -lm \
    -o "$out/fuzz_recipe"; then
	echo "FAIL fuzz-recipe: build failed"
	exit 1
fi
cp recipes/examples/*.yaml tests/bad/*.yaml "$out/corpus/" 2>/dev/null
export LBL_TOP="$top"
if "$out/fuzz_recipe" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
    -max_len=4096 -print_final_stats=1 "$out/corpus" >"$out/fuzz.log" 2>&1; then
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/fuzz.log")
	echo "PASS fuzz-recipe ($runs inputs in ${seconds}s, no crash, leak or UB)"
else
	tail -40 "$out/fuzz.log"
	echo "FAIL fuzz-recipe: see $out/fuzz.log and the crash-* file it names"
	exit 1
fi
