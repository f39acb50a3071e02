# A private PostgreSQL cluster for lbl-sync's tests and bench (POSIX sh,
# sourced after lib.sh). Debian's initdb and pg_ctl, in $LBL_TMP/pg, on a
# free loopback port, password authentication over TCP (scram-sha-256) and
# a unix socket in the cluster's directory. PostgreSQL refuses to run as
# root: when root, the cluster runs as user nobody (made a directory of
# its own; $LBL_TMP is 0711). Stopped by its postmaster's PID on exit.
#
#   pg_start            makes and starts it; sets PG_PORT, PG_DIR, PG_ADMIN_URI,
#                       PG_URI (database lab, role lbl, password $PG_PASSWORD)
#   pg_stop / pg_resume stops it (fast shutdown) / starts it again
#   pg_sql SQL          runs SQL in the lab database as its owner; prints rows
#                       unaligned, '|' between columns
#   $PSQL               psql on the lab database as words, for scripts

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
PG_PASSWORD=lbl-sync-test-pw
PG_DIR="$LBL_TMP/pg"

# pg_as COMMAND...: as the cluster's owner.
pg_as() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u nobody -- "$@"
	else
		"$@"
	fi
}

pg_cleanup() {
	if [ -f "$PG_DIR/data/postmaster.pid" ]; then
		pid=$(head -n 1 "$PG_DIR/data/postmaster.pid")
		# SIGINT: fast shutdown (clients disconnected); then insist
		kill -INT "$pid" 2>/dev/null
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
		kill -9 "$pid" 2>/dev/null
	fi
}
trap 'pg_cleanup; lbl_cleanup' EXIT

pg_start() {
	[ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL's initdb is missing ($PG_BIN): apt-get install postgresql"; return 1; }
	mkdir -p "$PG_DIR"
	[ "$(id -u)" = 0 ] && chown nobody "$PG_DIR"
	chmod 0700 "$PG_DIR"
	printf '%s\n' "$PG_PASSWORD" >"$PG_DIR/pw"
	[ "$(id -u)" = 0 ] && chown nobody "$PG_DIR/pw"
	pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U pgadmin --pwfile="$PG_DIR/pw" \
	    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
	    >"$PG_DIR/initdb.log" 2>&1 || { echo "initdb failed:"; tail -5 "$PG_DIR/initdb.log"; return 1; }
	PG_PORT=$(free_port)
	pg_resume || return 1
	PG_ADMIN_URI="postgresql://pgadmin:$PG_PASSWORD@127.0.0.1:$PG_PORT/postgres"
	pg_as "$PG_BIN/psql" -q -h "$PG_DIR" -p "$PG_PORT" -U pgadmin -d postgres -v ON_ERROR_STOP=1 \
	    -c "CREATE ROLE lbl LOGIN PASSWORD '$PG_PASSWORD'" -c "CREATE DATABASE lab OWNER lbl" \
	    >/dev/null || return 1
	PG_URI="postgresql://lbl:$PG_PASSWORD@127.0.0.1:$PG_PORT/lab"
	# psql on the lab database as its owner, as words (paths have no spaces)
	PSQL="$PG_BIN/psql -h $PG_DIR -p $PG_PORT -U lbl -d lab"
	[ "$(id -u)" = 0 ] && PSQL="runuser -u nobody -- $PSQL"
	return 0
}

pg_resume() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 60 \
	    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start \
	    >/dev/null 2>&1 || { echo "PostgreSQL did not start:"; tail -5 "$PG_DIR/log"; return 1; }
}

pg_stop() {
	pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >/dev/null 2>&1
}

pg_sql() {
	pg_as "$PG_BIN/psql" -X -q -A -t -h "$PG_DIR" -p "$PG_PORT" -U lbl -d lab -v ON_ERROR_STOP=1 -c "$1"
}
