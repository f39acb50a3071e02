# Shared helpers for integration tests and the demo (POSIX sh, sourced).
# Every process started here is recorded and killed by PID on exit.

LBL_PIDS=""
LBL_USERS=""
LBL_TMP=$(mktemp -d "${TMPDIR:-/tmp}/lbl-test.XXXXXX")
# others may reach (not list) the sockets in it, as in /run/lbl (0755)
chmod 0711 "$LBL_TMP"

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; LBL_FAILED=1; }

lbl_cleanup() {
	for pid in $LBL_PIDS; do
		kill "$pid" 2>/dev/null
	done
	for pid in $LBL_PIDS; do
		# give each a moment to stop cleanly, then insist
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$pid" 2>/dev/null
	done
	for user in $LBL_USERS; do
		userdel "$user" 2>/dev/null || echo "info: could not remove test user $user"
	done
	[ -n "${LBL_KEEP_TMP:-}" ] || rm -rf "$LBL_TMP"
}
trap 'lbl_cleanup' EXIT
trap 'exit 130' INT TERM

# A free TCP port on loopback, chosen by the kernel.
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_for SECONDS COMMAND...: retries COMMAND every 50 ms until it succeeds.
wait_for() {
	limit=$(($1 * 20)); shift
	i=0
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -ge $limit ] && return 1
		sleep 0.05
	done
	return 0
}

# make_rig EXAMPLE OUT: a copy of hw/examples/EXAMPLE with every TCP port
# replaced by a free one (the example's buses listen on 1502 and up).
make_rig() {
	cp "$LBL_TOP/hw/examples/$1" "$2"
	for p in $(sed -n 's/.*port: *\([0-9][0-9]*\).*/\1/p' "$2" | sort -u); do
		sed -i "s/port: *$p\b/port: $(free_port)/" "$2"
	done
}

# spray_recipe FILE NAME BILAYERS CYCLE: writes FILE, a spray recipe NAME
# for the example spray rig (its nozzles ag, tca and rinse, a timing
# coupon) of BILAYERS bilayers, each CYCLE: the cycle's lines, indented as
# a recipe's cycle list ("  - spray: {...}"), one a line.
spray_recipe() {
	cat >"$1" <<EOR
name: $2
version: "1"
process: spray
substrate: {name: timing coupon, area: 25 cm2}
target: {bilayers: $3}
growth: {model: linear, per_bilayer: 7.8 nm}
resume: forbidden
solutions:
  ag: {nozzle: ag, volume: 250 mL}
  tca: {nozzle: tca, volume: 250 mL}
  rinse: {nozzle: rinse, rinse: true, volume: 500 mL}
cycle:
$4
EOR
}

# start_simrig RIG [ARGS...]: starts lbl-simrig and waits for its "ready" line.
start_simrig() {
	rig=$1; shift
	"$LBL_BUILD/lbl-simrig" --rig "$rig" "$@" >"$LBL_TMP/simrig.out" 2>"$LBL_TMP/simrig.err" &
	SIMRIG_PID=$!
	LBL_PIDS="$LBL_PIDS $SIMRIG_PID"
	wait_for 10 grep -q '^ready' "$LBL_TMP/simrig.out" || {
		echo "lbl-simrig did not start:"; cat "$LBL_TMP/simrig.err"; return 1; }
}

# start_lbld RIG DB [ARGS...]: starts lbld on $LBL_SOCKET and waits for its socket.
start_lbld() {
	rig=$1 db=$2; shift 2
	mkdir -p "$LBL_TMP/gpio"
	# LBLD_ENV: NAME=VALUE words for lbld's environment (tests that inject faults)
	env ${LBLD_ENV:-} "$LBL_BUILD/lbld" --rig "$rig" --db "$db" --socket "$LBL_SOCKET" \
	    --gpio-sim "$LBL_TMP/gpio" "$@" 2>>"$LBL_TMP/lbld.err" &
	LBLD_PID=$!
	LBL_PIDS="$LBL_PIDS $LBLD_PID"
	wait_for 10 "$LBL_BUILD/lblctl" status || {
		echo "lbld did not start:"; cat "$LBL_TMP/lbld.err"; return 1; }
}

# answer_prompts: plays the operator, answering every prompt with 'lblctl continue'.
answer_prompts() {
	while kill -0 "$LBLD_PID" 2>/dev/null; do
		if "$LBL_BUILD/lblctl" status 2>/dev/null | grep -q '^state: prompt'; then
			msg=$("$LBL_BUILD/lblctl" status | sed -n 's/^prompt: //p')
			echo "operator: \"$msg\" -> lblctl continue"
			"$LBL_BUILD/lblctl" continue >/dev/null 2>&1
		fi
		sleep 0.2
	done
}

export LBL_SOCKET="$LBL_TMP/lbld.sock"

# simctl ARGS...: one command to lbl-simrig's control socket; prints the answer.
simctl() {
	/usr/bin/python3 - "$SIMCTL" "$*" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode())
out = b""
while not out.endswith(b"\n"):
	b = s.recv(4096)
	if not b:
		break
	out += b
print(out.decode().strip())
PY
}

# sanitizer_clean FILE NAME: a PASS/FAIL line on whether a process's stderr
# holds an AddressSanitizer, LeakSanitizer or UBSan report.
sanitizer_clean() {
	if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$1" 2>/dev/null; then
		fail "$2: sanitizer clean" "$(grep -E -m3 'ERROR|runtime error' "$1")"
	else
		pass "$2: sanitizer clean"
	fi
}

# test_users: two real unprivileged users for this run, removed on exit:
# a viewer ($VIEWER_UID, $VIEWER_GID; in no group of lbl's) and an operator
# ($OPERATOR_UID, $OPERATOR_GID; a member of group lbl by /etc/group, as
# "adduser NAME lbl" makes it). Group lbl is created if missing (and left,
# with an info line: another run may be using it). Names carry the pid, so
# runs side by side do not collide. Returns 1 with an info line when not
# root or the tools are missing: the caller skips, it does not pass.
test_users() {
	if [ "$(id -u)" != 0 ]; then
		echo "info: not root: the access checks as other users are skipped"
		return 1
	fi
	for tool in useradd userdel groupadd setpriv; do
		command -v "$tool" >/dev/null 2>&1 || {
			echo "info: $tool missing: the access checks as other users are skipped"; return 1; }
	done
	if ! getent group lbl >/dev/null; then
		groupadd --system lbl 2>/dev/null || getent group lbl >/dev/null || {
			echo "info: cannot create group lbl: access checks skipped"; return 1; }
		echo "info: created group lbl (it was missing); it stays, as another run may use it"
	fi
	VIEWER=lbltv$$ OPERATOR=lblto$$
	useradd --system --no-create-home --shell /usr/sbin/nologin --user-group "$VIEWER" &&
	    LBL_USERS="$LBL_USERS $VIEWER" &&
	    useradd --system --no-create-home --shell /usr/sbin/nologin --user-group \
	        --groups lbl "$OPERATOR" &&
	    LBL_USERS="$LBL_USERS $OPERATOR" || {
		echo "info: useradd failed: access checks skipped"; return 1; }
	VIEWER_UID=$(id -u "$VIEWER") VIEWER_GID=$(id -g "$VIEWER")
	OPERATOR_UID=$(id -u "$OPERATOR") OPERATOR_GID=$(id -g "$OPERATOR")
	LBL_GID=$(getent group lbl | cut -d: -f3)
}

# as_viewer / as_operator COMMAND...: runs COMMAND as that test user, with
# the groups a login gives it (the environment, LBL_SOCKET included, stays).
as_viewer() { setpriv --reuid="$VIEWER_UID" --regid="$VIEWER_GID" --init-groups "$@"; }
as_operator() { setpriv --reuid="$OPERATOR_UID" --regid="$OPERATOR_GID" --init-groups "$@"; }
