# Helpers for lbl-mqtt's tests (POSIX sh, sourced after lib.sh): a private
# mosquitto broker on a free loopback port, with its own configuration in
# the test's temporary directory, killed by PID with everything else.

command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || {
	fail "mosquitto" "mosquitto is not installed (make deps)"; exit 1; }
command -v mosquitto_sub >/dev/null 2>&1 || {
	fail "mosquitto_sub" "mosquitto-clients is not installed (make deps)"; exit 1; }
MOSQUITTO=$(command -v mosquitto 2>/dev/null || echo /usr/sbin/mosquitto)

# start_broker NAME [PORT [CONF_LINES]]: mosquitto on 127.0.0.1:PORT (a free
# one by default) with the listener's extra lines CONF_LINES (TLS, a
# password file); anonymous clients allowed unless CONF_LINES says
# otherwise. Runs as root when root (user root): its files are the test's.
# Sets BROKER_PORT and BROKER_PID; waits until it accepts connections.
start_broker() {
	BROKER_PORT=${2:-$(free_port)}
	{
		echo "per_listener_settings true"
		echo "persistence false"
		[ "$(id -u)" = 0 ] && echo "user root"
		echo "listener $BROKER_PORT 127.0.0.1"
		case "${3:-}" in *allow_anonymous*) ;; *) echo "allow_anonymous true" ;; esac
		[ -n "${3:-}" ] && printf '%s\n' "$3"
	} >"$LBL_TMP/$1.conf"
	# a restart appends to the log: wait for this start's own line, not the last one's
	seen=$(cat "$LBL_TMP/$1.log" 2>/dev/null | wc -l)
	"$MOSQUITTO" -c "$LBL_TMP/$1.conf" >>"$LBL_TMP/$1.log" 2>&1 &
	BROKER_PID=$!
	LBL_PIDS="$LBL_PIDS $BROKER_PID"
	wait_for 10 sh -c "tail -n +$((seen + 1)) '$LBL_TMP/$1.log' |
	    grep -q 'Opening ipv4 listen socket on port $BROKER_PORT'" || {
		echo "mosquitto did not start:"; cat "$LBL_TMP/$1.log"; return 1; }
}

# stop_pid PID: SIGTERM, and waits until it is gone (SIGKILL after 5 s).
stop_pid() {
	kill "$1" 2>/dev/null
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# retained TOPIC [SECONDS [SUB_ARGS]]: the retained message of TOPIC on the
# broker (BROKER_PORT), or nothing after SECONDS (2).
retained() {
	mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" ${3:-} -t "$1" -C 1 -W "${2:-2}" 2>/dev/null
}

# start_mqtt NAME CONFIG [BUILD]: lbl-mqtt with CONFIG, following lbld on
# $LBL_SOCKET; waits for its "ready" line. Sets MQTT_PID.
start_mqtt() {
	"${3:-$LBL_BUILD}/lbl-mqtt" --config "$2" --socket "$LBL_SOCKET" >"$LBL_TMP/$1.out" \
	    2>"$LBL_TMP/$1.err" &
	MQTT_PID=$!
	LBL_PIDS="$LBL_PIDS $MQTT_PID"
	wait_for 10 grep -q '^ready' "$LBL_TMP/$1.out" || {
		echo "lbl-mqtt did not start:"; cat "$LBL_TMP/$1.err"; return 1; }
}

# json_field FIELD: reads a JSON object on stdin, prints FIELD's value (empty if null).
json_field() {
	/usr/bin/python3 -c 'import json, sys
v = json.loads(sys.stdin.read()).get(sys.argv[1])
print("" if v is None else v)' "$1" 2>/dev/null
}
