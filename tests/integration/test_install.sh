#!/bin/sh
# make install into a DESTDIR: the installed tree (programs, man pages, units,
# sysusers and tmpfiles snippets, bash completion, examples), the snippets
# applied to that tree as a root, lbld's and lbl-web's units checked by
# systemd-analyze verify and their exposure scores by systemd-analyze
# security --offline (each at most 2.0).
#
# It installs what LBL_BUILD already holds (make -o all: nothing is rebuilt,
# so a sanitizer build in LBL_BUILD is never overwritten by a plain one).
set -u
. "$LBL_TOP/tests/integration/lib.sh"
dest="$LBL_TMP/root"
max_exposure=2.0

lbl_install() { # DESTDIR PREFIX
	make -C "$LBL_TOP" --no-print-directory -o all BUILD="$LBL_BUILD" \
	    DESTDIR="$1" PREFIX="$2" install >"$LBL_TMP/install.log" 2>&1
}

if lbl_install "$dest" /usr; then
	pass "make install DESTDIR PREFIX=/usr"
else
	fail "make install DESTDIR PREFIX=/usr" "$(tail -5 "$LBL_TMP/install.log")"
	exit 1
fi

# ---- programs ----
for f in usr/sbin/lbld usr/bin/lblctl usr/bin/lbl-simrig usr/bin/lbl-safe usr/sbin/lbl-web; do
	[ -f "$dest/$f" ] && [ -x "$dest/$f" ] && pass "/$f installed executable" ||
	    fail "/$f installed executable" "$(ls -l "$dest/$f" 2>&1)"
done
out=$("$dest/usr/sbin/lbld" --version 2>&1) && [ -n "$out" ] &&
    pass "installed lbld --version runs" || fail "installed lbld --version runs" "$out"
"$dest/usr/bin/lblctl" --help 2>&1 | grep -q '^usage: lblctl' &&
    pass "installed lblctl prints its usage" ||
    fail "installed lblctl prints its usage" "$("$dest/usr/bin/lblctl" --help 2>&1 | head -3)"

# ---- man pages ----
for m in man8/lbld.8 man1/lblctl.1 man1/lbl-safe.1 man5/lbl-recipe.5 man5/lbl-rig.5 man8/lbl-web.8 man8/lbl-sync.8; do
	f="$dest/usr/share/man/$m"
	if [ ! -s "$f" ]; then
		fail "man page $m" "missing or empty"
	elif ! grep -q '^\.TH ' "$f"; then
		fail "man page $m" "no .TH line"
	elif command -v groff >/dev/null 2>&1 &&
	    err=$(groff -man -Tutf8 -ww -z "$f" 2>&1) && [ -n "$err" ]; then
		fail "man page $m" "groff warns: $(echo "$err" | head -3)"
	else
		pass "man page $m"
	fi
done

# ---- unit, sysusers, tmpfiles, completion, examples ----
unit="$dest/usr/lib/systemd/system/lbld.service"
[ -f "$unit" ] && pass "unit in /usr/lib/systemd/system" || fail "unit in /usr/lib/systemd/system" "missing"
grep -q '^ExecStart=/usr/sbin/lbld ' "$unit" 2>/dev/null && pass "unit runs /usr/sbin/lbld" ||
    fail "unit runs /usr/sbin/lbld" "$(grep '^ExecStart' "$unit" 2>&1)"
grep -q '^ExecStopPost=/usr/bin/lbl-safe ' "$unit" 2>/dev/null && pass "unit runs /usr/bin/lbl-safe after lbld stops" ||
    fail "unit runs /usr/bin/lbl-safe after lbld stops" "$(grep '^ExecStopPost' "$unit" 2>&1)"
# the access model: a 0666 socket in a 0755 /run/lbl, and peers seen as they
# are (PrivateUsers= would show every user but root and lbl as nobody)
grep -qx 'RuntimeDirectoryMode=0755' "$unit" 2>/dev/null && pass "unit makes /run/lbl 0755" ||
    fail "unit makes /run/lbl 0755" "$(grep '^RuntimeDirectoryMode' "$unit" 2>&1)"
grep -q '^PrivateUsers=' "$unit" 2>/dev/null &&
    fail "unit without PrivateUsers=" "$(grep '^PrivateUsers' "$unit")" ||
    pass "unit without PrivateUsers= (group lbl members are seen as themselves)"
sysusers="$dest/usr/lib/sysusers.d/lbl.conf"
tmpfiles="$dest/usr/lib/tmpfiles.d/lbl.conf"
for l in '^u lbl ' '^m lbl gpio' '^m lbl dialout'; do
	grep -q "$l" "$sysusers" 2>/dev/null && pass "sysusers.d/lbl.conf has '$l'" ||
	    fail "sysusers.d/lbl.conf has '$l'" "$(cat "$sysusers" 2>&1)"
done
for l in '^d /etc/lbl ' '^d /var/lib/lbl '; do
	grep -q "$l" "$tmpfiles" 2>/dev/null && pass "tmpfiles.d/lbl.conf has '$l'" ||
	    fail "tmpfiles.d/lbl.conf has '$l'" "$(cat "$tmpfiles" 2>&1)"
done
# lbl-web: its unit, its own user (in group lbl), its example configuration
webunit="$dest/usr/lib/systemd/system/lbl-web.service"
grep -q '^ExecStart=/usr/sbin/lbl-web --config /etc/lbl/web.yaml$' "$webunit" 2>/dev/null &&
    grep -q '^User=lbl-web$' "$webunit" && grep -q '^ConditionPathExists=/etc/lbl/web.yaml$' "$webunit" &&
    pass "lbl-web.service runs /usr/sbin/lbl-web as user lbl-web, once web.yaml exists" ||
    fail "lbl-web.service" "$(grep -E '^(ExecStart|User|Condition)' "$webunit" 2>&1)"
websysusers="$dest/usr/lib/sysusers.d/lbl-web.conf"
grep -q '^u lbl-web ' "$websysusers" 2>/dev/null && grep -q '^m lbl-web lbl$' "$websysusers" &&
    pass "sysusers.d/lbl-web.conf: user lbl-web, a member of group lbl" ||
    fail "sysusers.d/lbl-web.conf" "$(cat "$websysusers" 2>&1)"
"$dest/usr/sbin/lbl-web" --config "$dest/usr/share/lbl/examples/web.yaml" --check >"$LBL_TMP/webcheck" 2>&1 &&
    pass "the example web.yaml passes lbl-web --check" || fail "example web.yaml" "$(cat "$LBL_TMP/webcheck")"
comp="$dest/usr/share/bash-completion/completions/lblctl"
if [ -f "$comp" ] && bash -n "$comp" 2>/dev/null && grep -q 'complete .* lblctl' "$comp" &&
    grep -q -- '--timeout' "$comp"; then
	pass "bash completion for lblctl"
else
	fail "bash completion for lblctl" "$(ls -l "$comp" 2>&1)"
fi
n=$(ls "$dest/usr/share/lbl/examples/"*.yaml 2>/dev/null | wc -l)
[ -f "$dest/usr/share/lbl/examples/dip-rig.yaml" ] && [ "$n" -ge 2 ] &&
    pass "examples in /usr/share/lbl/examples ($n)" || fail "examples in /usr/share/lbl/examples" "$n files"
# the JSON Schemas and the README, where the man pages send readers
for f in usr/share/lbl/schema/lbl-recipe.schema.json usr/share/lbl/schema/lbl-rig.schema.json; do
	/usr/bin/python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$dest/$f" 2>/dev/null &&
	    pass "/$f installed (JSON)" || fail "/$f installed (JSON)" "$(ls -l "$dest/$f" 2>&1)"
done
cmp -s "$LBL_TOP/README.md" "$dest/usr/share/doc/lbl/README.md" && pass "README.md in /usr/share/doc/lbl" ||
    fail "README.md in /usr/share/doc/lbl" "$(ls -l "$dest/usr/share/doc/lbl" 2>&1)"
# every installed path a man page names exists after make install, and no
# page sends readers to the source tree
missing=
for m in "$dest"/usr/share/man/man*/*; do
	for path in $(grep -o '/usr/share/\(lbl\|doc/lbl\)[^ ,;)]*' "$m" | sed 's/[.]$//' | sort -u); do
		[ -e "$dest$path" ] || missing="$missing $(basename "$m"):$path"
	done
	grep -n '\(hw\|recipes\|tests\)/[a-z]*[/.]\|README of the' "$m" |
	    sed "s|^|$(basename "$m"):|" >>"$LBL_TMP/source-paths"
done
[ -z "$missing" ] && pass "every /usr/share path the man pages name is installed" ||
    fail "every /usr/share path the man pages name is installed" "$missing"
[ ! -s "$LBL_TMP/source-paths" ] && pass "no man page names a source-tree path" ||
    fail "no man page names a source-tree path" "$(head -3 "$LBL_TMP/source-paths")"
exe=
for f in "$unit" "$sysusers" "$tmpfiles" "$comp" "$dest/usr/share/man/man8/lbld.8" \
    "$dest/usr/share/lbl/schema/lbl-rig.schema.json" "$dest/usr/share/doc/lbl/README.md"; do
	[ -x "$f" ] && exe="$exe $f"
done
[ -z "$exe" ] && pass "data files not executable" || fail "data files not executable" "$exe"

# Another prefix: the unit follows SBINDIR and goes where systemd looks.
if lbl_install "$LBL_TMP/local" /usr/local &&
    grep -q '^ExecStart=/usr/local/sbin/lbld ' "$LBL_TMP/local/lib/systemd/system/lbld.service" &&
    grep -q '^ExecStopPost=/usr/local/bin/lbl-safe ' "$LBL_TMP/local/lib/systemd/system/lbld.service"; then
	pass "PREFIX=/usr/local: unit in /lib/systemd/system runs /usr/local/sbin/lbld and /usr/local/bin/lbl-safe"
else
	fail "PREFIX=/usr/local: unit in /lib/systemd/system runs /usr/local/sbin/lbld and /usr/local/bin/lbl-safe" \
	    "$(tail -3 "$LBL_TMP/install.log"; ls -R "$LBL_TMP/local/lib" 2>&1 | head -5)"
fi

# ---- the snippets applied to the DESTDIR (root only: they chown) ----
if [ "$(id -u)" != 0 ]; then
	echo "note: not root, sysusers/tmpfiles not applied to the DESTDIR"
elif ! command -v systemd-sysusers >/dev/null 2>&1 || ! command -v systemd-tmpfiles >/dev/null 2>&1; then
	echo "note: systemd-sysusers/systemd-tmpfiles not installed, snippets not applied"
else
	sys="$LBL_TMP/sysroot"
	mkdir -p "$sys/etc"
	if systemd-sysusers --root="$sys" "$sysusers" >"$LBL_TMP/sysusers.log" 2>&1 &&
	    grep -q '^lbl:' "$sys/etc/passwd" && grep -q '^gpio:.*:lbl' "$sys/etc/group" &&
	    grep -q '^dialout:.*:lbl' "$sys/etc/group"; then
		pass "systemd-sysusers makes user lbl in groups gpio and dialout"
	else
		fail "systemd-sysusers makes user lbl in groups gpio and dialout" "$(cat "$LBL_TMP/sysusers.log")"
	fi
	if systemd-sysusers --root="$sys" "$websysusers" >"$LBL_TMP/sysusers-web.log" 2>&1 &&
	    grep -q '^lbl-web:' "$sys/etc/passwd" && grep -Eq '^lbl:.*[:,]lbl-web(,|$)' "$sys/etc/group"; then
		pass "systemd-sysusers makes user lbl-web, a member of group lbl"
	else
		fail "systemd-sysusers makes user lbl-web in group lbl" "$(cat "$LBL_TMP/sysusers-web.log"; grep '^lbl' "$sys/etc/group")"
	fi
	gid=$(sed -n 's/^lbl:[^:]*:\([0-9]*\):.*/\1/p' "$sys/etc/group")
	if systemd-tmpfiles --root="$sys" --create "$tmpfiles" >"$LBL_TMP/tmpfiles.log" 2>&1 &&
	    [ "$(stat -c '%a %g' "$sys/etc/lbl" 2>/dev/null)" = "750 $gid" ] &&
	    [ "$(stat -c '%a %g' "$sys/var/lib/lbl" 2>/dev/null)" = "750 $gid" ]; then
		pass "systemd-tmpfiles makes /etc/lbl and /var/lib/lbl 0750 group lbl"
	else
		fail "systemd-tmpfiles makes /etc/lbl and /var/lib/lbl 0750 group lbl" \
		    "$(cat "$LBL_TMP/tmpfiles.log"; ls -ld "$sys/etc/lbl" "$sys/var/lib/lbl" 2>&1)"
	fi
fi

# ---- the .deb's maintainer scripts (when make deb has built one from this debian/) ----
deb=$(ls -t "$LBL_TOP"/build/lbl_*.deb 2>/dev/null | head -1)
if [ -z "$deb" ] || ! command -v dpkg-deb >/dev/null 2>&1; then
	echo "note: no build/lbl_*.deb (make deb): the package's maintainer scripts are not checked"
elif [ -n "$(find "$LBL_TOP/debian" -newer "$deb" -type f | head -1)" ]; then
	echo "note: $deb is older than debian/: make deb again to check its maintainer scripts"
else
	dpkg-deb -e "$deb" "$LBL_TMP/debctl"
	# prerm run against stand-ins for deb-systemd-invoke and systemd's /run dir
	mkdir -p "$LBL_TMP/fakebin" "$LBL_TMP/fakerun"
	printf '#!/bin/sh\necho "$*" >>"%s"\n' "$LBL_TMP/invoked" >"$LBL_TMP/fakebin/deb-systemd-invoke"
	chmod +x "$LBL_TMP/fakebin/deb-systemd-invoke"
	sed "s|/run/systemd/system|$LBL_TMP/fakerun|g" "$LBL_TMP/debctl/prerm" >"$LBL_TMP/prerm"
	for arg in upgrade remove; do
		: >"$LBL_TMP/invoked"
		PATH="$LBL_TMP/fakebin:$PATH" sh "$LBL_TMP/prerm" $arg 1.0 >"$LBL_TMP/prerm.out" 2>&1 ||
		    fail "prerm $arg" "$(cat "$LBL_TMP/prerm.out")"
		cp "$LBL_TMP/invoked" "$LBL_TMP/invoked.$arg"
	done
	[ ! -s "$LBL_TMP/invoked.upgrade" ] && pass ".deb prerm upgrade: stops neither lbld nor lbl-web" ||
	    fail ".deb prerm upgrade stops nothing" "$(cat "$LBL_TMP/invoked.upgrade")"
	grep -q "stop lbl-web.service" "$LBL_TMP/invoked.remove" && grep -q "stop lbld.service" "$LBL_TMP/invoked.remove" &&
	    grep -q "lbl-sync.service" "$LBL_TMP/invoked.remove" && grep -q "lbl-mqtt.service" "$LBL_TMP/invoked.remove" &&
	    pass ".deb prerm remove: stops lbl-web, lbl-sync, lbl-mqtt and lbld" || fail ".deb prerm remove" "$(cat "$LBL_TMP/invoked.remove")"
	post="$LBL_TMP/debctl/postinst"
	grep -q "was-enabled 'lbl-web.service'" "$post" && ! grep -q "deb-systemd-invoke start 'lbl-web.service'" "$post" &&
	    grep -q "try-restart 'lbl-web.service'" "$post" && [ ! -e "$LBL_TMP/debctl/preinst" ] &&
	    pass ".deb: lbl-web neither enabled nor started, restarted after an upgrade only if it runs" ||
	    fail ".deb postinst for lbl-web" "$(grep -n 'lbl-web' "$post")"
	grep -q 'systemd-sysusers.*lbl-web.conf' "$post" && pass ".deb postinst makes user lbl-web (sysusers)" ||
	    fail ".deb postinst sysusers" "$(grep -n sysusers "$post")"
fi

# ---- systemd-analyze ----
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "note: systemd-analyze not installed, unit not verified and not scored"
else
	# verify: a copy of the installed unit whose ExecStart is the DESTDIR's
	# lbld; MANPATH lets it find the Documentation= pages in the DESTDIR.
	mkdir -p "$LBL_TMP/unit"
	sed -e "s|^ExecStart=/usr/sbin/lbld|ExecStart=$dest/usr/sbin/lbld|" \
	    -e "s|^ExecStopPost=/usr/bin/lbl-safe|ExecStopPost=$dest/usr/bin/lbl-safe|" "$unit" >"$LBL_TMP/unit/lbld.service"
	if MANPATH="$dest/usr/share/man" systemd-analyze verify "$LBL_TMP/unit/lbld.service" \
	    >"$LBL_TMP/verify.log" 2>&1 && ! grep -q . "$LBL_TMP/verify.log"; then
		pass "systemd-analyze verify: installed unit"
	else
		fail "systemd-analyze verify: installed unit" "$(head -5 "$LBL_TMP/verify.log")"
	fi
	sed -e "s|^ExecStart=/usr/sbin/lbl-web|ExecStart=$dest/usr/sbin/lbl-web|" "$webunit" >"$LBL_TMP/unit/lbl-web.service"
	if MANPATH="$dest/usr/share/man" systemd-analyze verify "$LBL_TMP/unit/lbl-web.service" \
	    >"$LBL_TMP/verify-web.log" 2>&1 && ! grep -q . "$LBL_TMP/verify-web.log"; then
		pass "systemd-analyze verify: installed lbl-web unit"
	else
		fail "systemd-analyze verify: installed lbl-web unit" "$(head -5 "$LBL_TMP/verify-web.log")"
	fi
	for u in lbld lbl-web; do
		systemd-analyze security --offline=true "$LBL_TOP/systemd/$u.service" \
		    >"$LBL_TMP/security.log" 2>&1
		score=$(sed -n "s/.*Overall exposure level for $u.service: *\([0-9][0-9.]*\).*/\1/p" "$LBL_TMP/security.log")
		if [ -z "$score" ]; then
			fail "$u: exposure score at most $max_exposure" "no 'Overall exposure level' line: $(tail -3 "$LBL_TMP/security.log")"
		elif awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }'; then
			pass "$u: exposure score $score at most $max_exposure"
		else
			fail "$u: exposure score at most $max_exposure" "$score; largest: $(grep '✗' "$LBL_TMP/security.log" | awk '{ print $NF, $2 }' | sort -rn | head -5 | tr '\n' ' ')"
		fi
	done
fi

# ---- lbl-sync: program, unit (disabled in the package), its user ----
[ -x "$dest/usr/bin/lbl-sync" ] && "$dest/usr/bin/lbl-sync" --version | grep -q '^lbl-sync ' &&
    pass "/usr/bin/lbl-sync installed and runs" || fail "/usr/bin/lbl-sync installed" "$(ls -l "$dest/usr/bin/lbl-sync" 2>&1)"
sunit="$dest/usr/lib/systemd/system/lbl-sync.service"
grep -q '^ExecStart=/usr/bin/lbl-sync --db /var/lib/lbl/lbl.db ' "$sunit" 2>/dev/null &&
    grep -qx 'ReadOnlyPaths=/var/lib/lbl' "$sunit" && grep -qx 'StateDirectory=lbl-sync' "$sunit" &&
    grep -qx 'EnvironmentFile=/etc/lbl/sync.env' "$sunit" &&
    pass "lbl-sync.service: the database read-only, its state directory, the URI from an environment file" ||
    fail "lbl-sync.service" "$(grep -E '^(ExecStart|ReadOnlyPaths|StateDirectory|EnvironmentFile)' "$sunit" 2>&1)"
grep -q '^m lbl-sync lbl' "$dest/usr/lib/sysusers.d/lbl-sync.conf" 2>/dev/null &&
    pass "sysusers.d/lbl-sync.conf: user lbl-sync in group lbl" || fail "sysusers.d/lbl-sync.conf" "$(cat "$dest/usr/lib/sysusers.d/lbl-sync.conf" 2>&1)"
if command -v systemd-analyze >/dev/null 2>&1; then
	systemd-analyze security --offline=true "$sunit" >"$LBL_TMP/security-sync.log" 2>&1
	score=$(sed -n 's/.*Overall exposure level for lbl-sync.service: *\([0-9][0-9.]*\).*/\1/p' "$LBL_TMP/security-sync.log")
	[ -n "$score" ] && awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }' &&
	    pass "lbl-sync.service exposure $score at most $max_exposure" ||
	    fail "lbl-sync.service exposure at most $max_exposure" "${score:-none}: $(tail -3 "$LBL_TMP/security-sync.log")"
	sed -e "s|^ExecStart=/usr/bin/lbl-sync|ExecStart=$dest/usr/bin/lbl-sync|" "$sunit" >"$LBL_TMP/unit/lbl-sync.service"
	if MANPATH="$dest/usr/share/man" systemd-analyze verify "$LBL_TMP/unit/lbl-sync.service" \
	    >"$LBL_TMP/verify-sync.log" 2>&1 && ! grep -q . "$LBL_TMP/verify-sync.log"; then
		pass "systemd-analyze verify: lbl-sync.service"
	else
		fail "systemd-analyze verify: lbl-sync.service" "$(head -5 "$LBL_TMP/verify-sync.log")"
	fi
fi
# ---- lbl-mqtt: program, man page, example, unit (verified, exposure), its user ----
[ -x "$dest/usr/sbin/lbl-mqtt" ] && "$dest/usr/sbin/lbl-mqtt" --help 2>&1 | grep -q '^usage: lbl-mqtt' &&
    pass "lbl-mqtt installed, prints its usage" ||
    fail "lbl-mqtt installed, prints its usage" "$(ls -l "$dest/usr/sbin/lbl-mqtt" 2>&1)"
m="$dest/usr/share/man/man8/lbl-mqtt.8"
[ -s "$m" ] && grep -q '^\.TH ' "$m" && { ! command -v groff >/dev/null 2>&1 ||
    [ -z "$(groff -man -Tutf8 -ww -z "$m" 2>&1)" ]; } && pass "man page man8/lbl-mqtt.8" ||
    fail "man page man8/lbl-mqtt.8" "$(groff -man -Tutf8 -ww -z "$m" 2>&1 | head -3)"
"$dest/usr/sbin/lbl-mqtt" --config "$dest/usr/share/lbl/examples/mqtt.yaml" --check >"$LBL_TMP/mqtt-check" 2>&1 &&
    pass "example mqtt.yaml is valid" || fail "example mqtt.yaml is valid" "$(cat "$LBL_TMP/mqtt-check")"
munit="$dest/usr/lib/systemd/system/lbl-mqtt.service"
if [ "$(id -u)" = 0 ] && command -v systemd-sysusers >/dev/null 2>&1 && command -v systemd-tmpfiles >/dev/null 2>&1; then
	msys="$LBL_TMP/mqtt-sysroot"
	mkdir -p "$msys/etc"
	systemd-sysusers --root="$msys" "$sysusers" "$dest/usr/lib/sysusers.d/lbl-mqtt.conf" \
	    >"$LBL_TMP/mqtt-sysusers.log" 2>&1
	grep -q '^lbl-mqtt:' "$msys/etc/passwd" && ! grep -q '^lbl:.*lbl-mqtt' "$msys/etc/group" &&
	    pass "systemd-sysusers makes user lbl-mqtt, in no group of lbl's (a viewer to lbld)" ||
	    fail "systemd-sysusers makes user lbl-mqtt, in no group of lbl's" \
	    "$(cat "$LBL_TMP/mqtt-sysusers.log"; grep lbl "$msys/etc/group")"
	if command -v getfacl >/dev/null 2>&1; then
		# the ACL names the user, whom tmpfiles looks up in the host's
		# database even with --root: here by the sysroot's uid instead
		muid=$(sed -n 's/^lbl-mqtt:[^:]*:\([0-9]*\):.*/\1/p' "$msys/etc/passwd")
		sed "s/u:lbl-mqtt:/u:$muid:/" "$dest/usr/lib/tmpfiles.d/lbl-mqtt.conf" >"$LBL_TMP/lbl-mqtt.tmpfiles"
		systemd-tmpfiles --root="$msys" --create "$tmpfiles" "$LBL_TMP/lbl-mqtt.tmpfiles" \
		    >"$LBL_TMP/mqtt-tmpfiles.log" 2>&1
		getfacl -n "$msys/etc/lbl" 2>/dev/null | grep -q "^user:$muid:--x" &&
		    pass "systemd-tmpfiles lets lbl-mqtt through /etc/lbl (--x)" ||
		    fail "systemd-tmpfiles lets lbl-mqtt through /etc/lbl (--x)" \
		    "$(cat "$LBL_TMP/mqtt-tmpfiles.log"; getfacl -n "$msys/etc/lbl" 2>&1)"
	else
		echo "note: getfacl not installed, the ACL on /etc/lbl not checked"
	fi
fi
if command -v systemd-analyze >/dev/null 2>&1; then
	sed -e "s|^ExecStart=/usr/sbin/lbl-mqtt|ExecStart=$dest/usr/sbin/lbl-mqtt|" "$munit" \
	    >"$LBL_TMP/unit/lbl-mqtt.service"
	MANPATH="$dest/usr/share/man" systemd-analyze verify "$LBL_TMP/unit/lbl-mqtt.service" \
	    >"$LBL_TMP/mqtt-verify.log" 2>&1 && ! grep -q . "$LBL_TMP/mqtt-verify.log" &&
	    pass "systemd-analyze verify: lbl-mqtt.service" ||
	    fail "systemd-analyze verify: lbl-mqtt.service" "$(head -5 "$LBL_TMP/mqtt-verify.log")"
	score=$(systemd-analyze security --offline=true "$munit" 2>&1 |
	    sed -n 's/.*Overall exposure level for lbl-mqtt.service: *\([0-9][0-9.]*\).*/\1/p')
	[ -n "$score" ] && awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }' &&
	    pass "lbl-mqtt.service exposure $score at most $max_exposure" ||
	    fail "lbl-mqtt.service exposure at most $max_exposure" "score '$score'"
fi

[ -z "${LBL_FAILED:-}" ]
