#!/bin/sh
# lbl-mqtt's credentials and TLS against private mosquitto brokers: the
# right password connects and the wrong one is refused with a clear log
# line; TLS with a test CA made here by openssl connects (and with a
# client certificate where the broker requires one), a wrong CA is refused
# with a clear log line; and lbl-mqtt under valgrind (memcheck), following
# a batch across a broker restart and stopped on SIGTERM, is clean.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
. "$LBL_TOP/tests/integration/mqtt_lib.sh"
plain=${LBL_PLAIN_BUILD:-$LBL_BUILD}
command -v openssl >/dev/null || { fail "openssl" "openssl is not installed (make deps)"; exit 1; }
command -v mosquitto_passwd >/dev/null || { fail "mosquitto_passwd" "missing (make deps)"; exit 1; }

make_rig dip-rig.yaml "$LBL_TMP/rig.yaml"
db="$LBL_TMP/lbl.db"
start_simrig "$LBL_TMP/rig.yaml" --time-scale 50 || exit 1
start_lbld "$LBL_TMP/rig.yaml" "$db" --time-scale 50 || exit 1

# conf NAME LINES: an mqtt.yaml (0600) for rig NAME on BROKER_PORT, with more LINES
conf() {
	printf 'broker: "127.0.0.1:%s"\nrig: %s\nkeepalive: 5s\n%s\n' "$BROKER_PORT" "$1" "$2" \
	    >"$LBL_TMP/$1.yaml"
	chmod 0600 "$LBL_TMP/$1.yaml"
}

# ---- a password ----
mosquitto_passwd -b -c "$LBL_TMP/passwd" lab-rig 'correct horse' 2>/dev/null ||
    { fail "mosquitto_passwd" "cannot make a password file"; exit 1; }
start_broker auth "" "allow_anonymous false
password_file $LBL_TMP/passwd" || exit 1
printf 'correct horse\n' >"$LBL_TMP/pw"
chmod 0600 "$LBL_TMP/pw"
conf good "username: lab-rig
password_file: $LBL_TMP/pw"
start_mqtt good "$LBL_TMP/good.yaml" || exit 1
wait_for 10 sh -c "mosquitto_sub -h 127.0.0.1 -p $BROKER_PORT -u lab-rig -P 'correct horse' \
    -t lbl/good/online -C 1 -W 1 | grep -qx online" &&
    pass "password: the right one connects" || fail "password: the right one connects" \
    "$(tail -3 "$LBL_TMP/good.err")"
conf bad "username: lab-rig
password: wrong horse"
start_mqtt bad "$LBL_TMP/bad.yaml" || exit 1
wait_for 10 grep -q "refused the connection: .*not authori[sz]ed" "$LBL_TMP/bad.err" &&
    pass "password: a wrong one refused, said clearly" ||
    fail "password: a wrong one refused, said clearly" "$(tail -3 "$LBL_TMP/bad.err")"
[ -z "$(mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" -u lab-rig -P 'correct horse' \
    -t lbl/bad/online -C 1 -W 1 2>/dev/null)" ] &&
    pass "password: nothing published with a wrong one" ||
    fail "password: nothing published with a wrong one" "lbl/bad/online is there"
stop_pid "$MQTT_PID"
stop_pid "$BROKER_PID"

# ---- TLS: a test CA, a server certificate for 127.0.0.1, a client certificate ----
cd "$LBL_TMP" || exit 1
ssl() { openssl "$@" >>"$LBL_TMP/openssl.log" 2>&1 || { fail "openssl $1" "$(tail -3 "$LBL_TMP/openssl.log")"; exit 1; }; }
ssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=lbl test CA"
ssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem -days 2 -subj "/CN=another CA"
ssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1"
printf 'subjectAltName=IP:127.0.0.1\n' >server.ext
ssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 \
    -extfile server.ext
ssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/CN=dip-1"
ssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2
chmod 0600 client.key
cd - >/dev/null || exit 1
start_broker tls "" "cafile $LBL_TMP/ca.pem
certfile $LBL_TMP/server.pem
keyfile $LBL_TMP/server.key" || exit 1
conf tlsgood "tls: {ca: $LBL_TMP/ca.pem}"
start_mqtt tlsgood "$LBL_TMP/tlsgood.yaml" || exit 1
wait_for 10 sh -c "mosquitto_sub -h 127.0.0.1 -p $BROKER_PORT --cafile $LBL_TMP/ca.pem \
    -t lbl/tlsgood/status -C 1 -W 1 | grep -q '\"rig\":\"tlsgood\"'" &&
    grep -q "connected to the broker 127.0.0.1:$BROKER_PORT (TLS)" "$LBL_TMP/tlsgood.err" &&
    pass "TLS: the test CA's broker, status published" ||
    fail "TLS: the test CA's broker, status published" "$(tail -3 "$LBL_TMP/tlsgood.err")"
stop_pid "$MQTT_PID"
conf tlsbad "tls: {ca: $LBL_TMP/other.pem}"
start_mqtt tlsbad "$LBL_TMP/tlsbad.yaml" || exit 1
wait_for 10 grep -q "certificate verify failed" "$LBL_TMP/tlsbad.err" &&
    pass "TLS: a wrong CA refused, said clearly" ||
    fail "TLS: a wrong CA refused, said clearly" "$(tail -3 "$LBL_TMP/tlsbad.err")"
! grep -q "connected to the broker" "$LBL_TMP/tlsbad.err" &&
    [ -z "$(mosquitto_sub -h 127.0.0.1 -p "$BROKER_PORT" --cafile "$LBL_TMP/ca.pem" \
    -t lbl/tlsbad/online -C 1 -W 1 2>/dev/null)" ] &&
    pass "TLS: nothing published through a wrong CA" ||
    fail "TLS: nothing published through a wrong CA" "$(tail -3 "$LBL_TMP/tlsbad.err")"
# still trying, with back-off, not given up
sleep 3
kill -0 "$MQTT_PID" 2>/dev/null && [ "$(grep -c "certificate verify failed" "$LBL_TMP/tlsbad.err")" -ge 2 ] &&
    pass "TLS: a refused connection is tried again" ||
    fail "TLS: a refused connection is tried again" "$(tail -3 "$LBL_TMP/tlsbad.err")"
stop_pid "$MQTT_PID"
stop_pid "$BROKER_PID"
start_broker tlsclient "" "cafile $LBL_TMP/ca.pem
certfile $LBL_TMP/server.pem
keyfile $LBL_TMP/server.key
require_certificate true" || exit 1
conf tlsclient "tls: {ca: $LBL_TMP/ca.pem, cert: $LBL_TMP/client.pem, key: $LBL_TMP/client.key}"
start_mqtt tlsclient "$LBL_TMP/tlsclient.yaml" || exit 1
wait_for 10 grep -q "connected to the broker 127.0.0.1:$BROKER_PORT (TLS)" "$LBL_TMP/tlsclient.err" &&
    pass "TLS: a client certificate where the broker requires one" ||
    fail "TLS: a client certificate where the broker requires one" "$(tail -3 "$LBL_TMP/tlsclient.err")"
stop_pid "$MQTT_PID"
stop_pid "$BROKER_PID"

# ---- valgrind: lbl-mqtt through a batch, a broker restart and SIGTERM ----
if ! command -v valgrind >/dev/null; then
	fail "valgrind" "valgrind is not installed (make deps)"
elif nm "$plain/lbl-mqtt" 2>/dev/null | grep -q __asan_init; then
	fail "valgrind" "$plain/lbl-mqtt is a sanitizer build; set LBL_PLAIN_BUILD to a plain build"
else
	start_broker vg || exit 1
	conf vg "discovery: true"
	valgrind --quiet --error-exitcode=97 --leak-check=full --show-leak-kinds=definite,indirect \
	    --errors-for-leak-kinds=definite,indirect --num-callers=30 --log-file="$LBL_TMP/vg-mqtt" \
	    "$plain/lbl-mqtt" --config "$LBL_TMP/vg.yaml" --socket "$LBL_SOCKET" \
	    >"$LBL_TMP/vg.out" 2>"$LBL_TMP/vg.err" &
	VG_PID=$!
	LBL_PIDS="$LBL_PIDS $VG_PID"
	wait_for 60 sh -c "mosquitto_sub -h 127.0.0.1 -p $BROKER_PORT -t lbl/vg/status -C 1 -W 1 | grep -q idle" ||
	    fail "valgrind: lbl-mqtt starts" "$(tail -3 "$LBL_TMP/vg.err")"
	cat >"$LBL_TMP/two.yaml" <<'EOR'
name: mqtt-two
version: "1"
process: dip
substrate: {name: test coupon, area: 18 cm2, dragout: 0.1 mL}
target: {bilayers: 2}
growth: {model: linear, per_bilayer: 20 nm}
resume: allowed
drip: 1s
solutions:
  taa: {station: taa, volume: 200 mL}
  cnt: {station: cnt, volume: 200 mL}
  water: {station: rinse-2, rinse: true, volume: 250 mL}
cycle:
  - dip: {solution: taa, dwell: 60s, speed_in: 20 mm/s, speed_out: 20 mm/s}
  - rinse: {solution: water, dwell: 20s}
  - dip: {solution: cnt, dwell: 60s, speed_in: 20 mm/s, speed_out: 20 mm/s}
  - rinse: {solution: water, dwell: 20s}
EOR
	"$LBL_BUILD/lblctl" run "$LBL_TMP/two.yaml" --operator ci >/dev/null || fail "valgrind: run" "refused"
	sleep 2
	stop_pid "$BROKER_PID"
	sleep 1
	start_broker vg "$BROKER_PORT" || exit 1
	wait_for 60 sh -c "[ \"\$(sqlite3 '$db' \"select state from batches order by id desc limit 1\")\" = completed ]" ||
	    fail "valgrind: the batch completes" "$(sqlite3 "$db" 'select id, state from batches')"
	wait_for 30 sh -c "mosquitto_sub -h 127.0.0.1 -p $BROKER_PORT -t lbl/vg/status -C 1 -W 1 | grep -q '\"state\":\"idle\"'" ||
	    fail "valgrind: followed the batch to its end" "$(tail -3 "$LBL_TMP/vg.err")"
	kill "$VG_PID"
	i=0
	while kill -0 "$VG_PID" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	wait "$VG_PID"; rc=$?
	if [ "$rc" = 0 ] && [ ! -s "$LBL_TMP/vg-mqtt" ]; then
		pass "valgrind: lbl-mqtt clean (memcheck, no definite or indirect leak)"
	else
		fail "valgrind: lbl-mqtt clean" "exit $rc: $(head -30 "$LBL_TMP/vg-mqtt")"
	fi
fi
for f in good bad tlsgood tlsbad tlsclient; do
	sanitizer_clean "$LBL_TMP/$f.err" "lbl-mqtt ($f)"
done
