#!/bin/sh
# The build enforces the layers (Makefile, README's Repository): in a copy
# of the source tree, a lower layer's file that includes a header from above
# does not compile, an include by relative path is refused by "make
# layers", and a call upward does not link; the untouched copy builds.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
tree="$LBL_TMP/tree"
mkdir -p "$tree"
(cd "$LBL_TOP" && git ls-files -z 2>/dev/null | tar --null -T - -cf - 2>/dev/null) | (cd "$tree" && tar xf -)
if [ ! -f "$tree/Makefile" ]; then
	# not a git checkout (an unpacked release): the source folders as they are
	(cd "$LBL_TOP" && tar cf - Makefile base hw recipes db daemon client) | (cd "$tree" && tar xf -)
fi
b="$LBL_TMP/build"
mk() { make -C "$tree" BUILD="$b" "$@" >"$LBL_TMP/make.out" 2>&1; }

# the untouched copy: the objects the cases rebuild, and lbl-simrig
if mk layers "$b/hw/drivers/hw.o" "$b/recipes/recipe.o" "$b/lbl-simrig"; then
	pass "the untouched tree builds"
else
	fail "the untouched tree builds" "$(tail -3 "$LBL_TMP/make.out")"
	exit 1
fi

# upward_include FILE HEADER WHAT: FILE including HEADER must not compile
upward_include() {
	cp "$tree/$1" "$LBL_TMP/saved"
	printf '#include "%s"\n' "$2" >>"$tree/$1"
	obj="$b/${1%.c}.o"
	if mk "$obj"; then
		fail "$3 does not compile" "it did"
	elif grep -q "$2: No such file" "$LBL_TMP/make.out"; then
		pass "$3 does not compile ($2 not found)"
	else
		fail "$3 does not compile for the layer's reason" "$(grep error "$LBL_TMP/make.out" | head -2)"
	fi
	cp "$LBL_TMP/saved" "$tree/$1"
}
upward_include hw/drivers/hw.c run.h "a driver including the executor's header (daemon/)"
upward_include hw/drivers/hw.c recipe.h "a driver including the recipes' header"
upward_include recipes/recipe.c db.h "the recipe layer including the record's header"
upward_include base/loop.c rig.h "the event loop including the rig model"
upward_include hw/rig/rig.c gpio.h "the rig model including a driver's header"
upward_include db/db.c ctl.h "the record including the client's header"
upward_include client/ctl_client.c control.h "the client including lbld's socket server"
upward_include web/web_lbld.c db.h "lbl-web including the record's header (it has lbld's socket alone)"
upward_include sync/sync_copy.c run.h "lbl-sync including lbld's executor (it reads the record alone)"
upward_include db/db.c sync.h "the record including lbl-sync's header"
upward_include mqtt/mqtt_main.c run.h "lbl-mqtt including lbld's executor header (it has lbld's socket alone)"

# a relative path gets round the include paths: make layers refuses it
cp "$tree/hw/drivers/hw.c" "$LBL_TMP/saved"
printf '#include "../../daemon/run.h"\n' >>"$tree/hw/drivers/hw.c"
if mk layers; then
	fail "an include by relative path is refused" "make layers passed"
else
	grep -q "hw/drivers/hw.c:.*daemon/run.h" "$LBL_TMP/make.out" &&
	    pass "an include by relative path is refused, naming the file" ||
	    fail "an include by relative path is refused, naming the file" "$(cat "$LBL_TMP/make.out")"
fi
cp "$LBL_TMP/saved" "$tree/hw/drivers/hw.c"

# a call upward, declared by hand: lbl-simrig (rig model and base only) does not link
cp "$tree/hw/simrig/simrig_ctl.c" "$LBL_TMP/saved"
cat >>"$tree/hw/simrig/simrig_ctl.c" <<'EOF'
extern void hw_close(void *);
void simrig_upward_call(void);
void simrig_upward_call(void) { hw_close(0); }
EOF
if mk "$b/lbl-simrig"; then
	fail "a call from the simulator into the drivers does not link" "it linked"
else
	grep -q "undefined reference to .hw_close" "$LBL_TMP/make.out" &&
	    pass "a call from the simulator into the drivers does not link" ||
	    fail "a call upward does not link, naming it" "$(grep -i error "$LBL_TMP/make.out" | head -3)"
fi
cp "$LBL_TMP/saved" "$tree/hw/simrig/simrig_ctl.c"
[ -z "${LBL_FAILED:-}" ]
