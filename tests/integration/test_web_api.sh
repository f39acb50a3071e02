#!/bin/sh
# lbl-web's JSON API against a real lbld and lbl-simrig: every endpoint;
# bad input answered with a clear 4xx JSON error (unknown batch, malformed
# filters, oversized bodies, wrong methods); an untrusted address refused;
# a change without a session or without the CSRF token refused, with both
# accepted and recorded in lbld's events under the web user's name; login
# attempts rate-limited; the event stream tells lbld's status and its events
# as recorded (a reconnect those it missed); a stored recipe's plan; idle,
# lbl-web keeps one follow of lbld open (no polling); 200 event streams
# connected, then dropped at once, leave lbl-web's threads and RSS back near
# idle and lbld as it was (measured on the plain build: ASan's quarantine
# keeps freed memory resident on purpose), and under valgrind no error or
# leak.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
web="$LBL_BUILD/lbl-web"
plain=${LBL_PLAIN_BUILD:-$LBL_BUILD}
[ -x "$web" ] || { fail "lbl-web" "$web is missing"; exit 1; }

make_rig dip-rig.yaml "$LBL_TMP/rig.yaml"
start_simrig "$LBL_TMP/rig.yaml" --time-scale 100 || exit 1
start_lbld "$LBL_TMP/rig.yaml" "$LBL_TMP/lbl.db" --time-scale 100 || exit 1

# --hash-password: a yescrypt hash; a short password refused
hash=$(echo 'correct horse' | "$web" --hash-password)
case "$hash" in '$y$'*) pass "hash-password: yescrypt" ;; *) fail "hash-password: yescrypt" "$hash" ;; esac
echo short | "$web" --hash-password >/dev/null 2>&1 && fail "hash-password: short refused" "accepted" ||
    pass "hash-password: short refused"

# a configuration's mistakes named FILE:LINE:COL, nothing started
printf 'listen: "127.0.0.1"\nusers:\n  "bad name": "$y$x"\ntrusted: [10.0.0.0/33]\ncolour: blue\n' \
    >"$LBL_TMP/bad.yaml"
"$web" --config "$LBL_TMP/bad.yaml" --check >"$LBL_TMP/bad.out" 2>&1; rc=$?
[ $rc = 2 ] && grep -q "bad.yaml:1:9: error: listen:" "$LBL_TMP/bad.out" &&
    grep -q "bad.yaml:3:3: error: users: 'bad name'" "$LBL_TMP/bad.out" &&
    grep -q "bad.yaml:4:11: error: trusted:" "$LBL_TMP/bad.out" &&
    grep -q "bad.yaml:5:1: error: .*colour" "$LBL_TMP/bad.out" &&
    pass "config errors: FILE:LINE:COL, exit 2" || fail "config errors: FILE:LINE:COL, exit 2" "rc $rc: $(cat "$LBL_TMP/bad.out")"

# start_web NAME BUILD TRUSTED [WAIT_S]: lbl-web on a free loopback port; sets
# WEB_PORT, WEB_PID. BUILD may begin with a command that runs it (valgrind).
start_web() {
	WEB_PORT=$(free_port)
	cat >"$LBL_TMP/$1.yaml" <<EOY
listen: "127.0.0.1:$WEB_PORT"
socket: $LBL_SOCKET
trusted: $3
users:
  alice: "$hash"
EOY
	# shellcheck disable=SC2086
	$2/lbl-web --config "$LBL_TMP/$1.yaml" >"$LBL_TMP/$1.out" 2>"$LBL_TMP/$1.err" &
	WEB_PID=$!
	LBL_PIDS="$LBL_PIDS $WEB_PID"
	wait_for "${4:-10}" grep -q '^ready' "$LBL_TMP/$1.out" || {
		echo "lbl-web did not start:"; cat "$LBL_TMP/$1.err"; return 1; }
}

# One that trusts only 10.0.0.0/8: loopback is refused, reads and changes alike
start_web untrusting "$LBL_BUILD" "[10.0.0.0/8]" || exit 1
UNTRUSTED_PORT=$WEB_PORT UNTRUSTED_PID=$WEB_PID
start_web web "$LBL_BUILD" "[127.0.0.0/8, '::1']" || exit 1
MAIN_PID=$WEB_PID

/usr/bin/python3 - "$WEB_PORT" "$UNTRUSTED_PORT" "$LBL_TMP/lbl.db" "$LBL_BUILD/lblctl" \
    "$LBL_TOP/recipes/examples/taa-cnt-3-dip.yaml" "$LBL_TMP/rig.yaml" <<'PY'
import http.client, json, socket, sqlite3, subprocess, sys, time
port, untrusted, db, lblctl, recipe = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
rig = sys.argv[6]

def ok(name, cond, why=""):
    print(("PASS %s" % name) if cond else ("FAIL %s: %s" % (name, why)), flush=True)

def req(method, path, body=None, headers=None, p=port):
    c = http.client.HTTPConnection("127.0.0.1", p, timeout=20)
    h = dict(headers or {})
    if body is not None and "Content-Type" not in h:
        h["Content-Type"] = "application/x-www-form-urlencoded"
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r, data

def jerr(name, method, path, status, body=None, headers=None, p=port, has=None):
    s, r, data = req(method, path, body, headers, p)
    try:
        j = json.loads(data)
    except ValueError:
        j = {}
    good = s == status and isinstance(j.get("error"), str) and j["error"] and \
        r.getheader("Content-Type", "").startswith("application/json") and \
        (has is None or has in j["error"])
    ok(name, good, "%d %r" % (s, data[:300]))
    return r

def get_json(path):
    s, r, data = req("GET", path)
    return s, json.loads(data) if data else None

# reads
s, st = get_json("/api/v1/status")
ok("GET status", s == 200 and st["state"] == "idle", "%d %r" % (s, st))
s, d = get_json("/api/v1/devices")
ok("GET devices", s == 200 and any(x["name"] == "lift" for x in d["devices"]), "%d %r" % (s, d))
s, b = get_json("/api/v1/batches")
ok("GET batches (none yet)", s == 200 and b == [], "%d %r" % (s, b))
s, r, data = req("GET", "/")
ok("GET / (the rig page)", s == 200 and b"bilayer" in data.lower() and
   r.getheader("Content-Type").startswith("text/html") and
   "default-src 'self'" in (r.getheader("Content-Security-Policy") or ""), "%d" % s)
for page in ("/history", "/recipes", "/app.js", "/style.css"):
    s, r, data = req("GET", page)
    ok("GET " + page, s == 200 and len(data) > 100, "%d" % s)
s, ses = get_json("/api/v1/session")
ok("GET session: logged out", s == 200 and ses["user"] is None and ses["csrf"] is None, repr(ses))

# bad input: a clear 4xx JSON error each
jerr("untrusted address refused (403)", "GET", "/api/v1/status", 403, p=untrusted, has="127.0.0.1")
jerr("untrusted: login refused too (403)", "POST", "/api/v1/login", 403, "user=alice&password=x", p=untrusted)
jerr("untrusted: pages refused too (403)", "GET", "/", 403, p=untrusted)
jerr("a Host of elsewhere refused (DNS rebinding, 403)", "GET", "/api/v1/status", 403,
     headers={"Host": "evil.example:%d" % port}, has="evil.example")
s, r, data = req("GET", "/api/v1/status", headers={"Host": "localhost:%d" % port})
ok("Host: localhost answered", s == 200, "%d" % s)
def raw_http(data):
    so = socket.create_connection(("127.0.0.1", port), timeout=20)
    so.sendall(data)
    out = b""
    while True:
        chunk = so.recv(65536)
        if not chunk:
            break
        out += chunk
    so.close()
    return out
out = raw_http(b"GET /api/v1/status HTTP/1.1\r\nConnection: close\r\n\r\n")
ok("HTTP/1.1 without Host: 400 JSON", out.startswith(b"HTTP/1.1 400") and b'"error":"HTTP/1.1 without a Host' in out,
   repr(out[:300]))
# headers past the 32 kB a connection has: libmicrohttpd refuses them itself (lbl-web(8))
out = raw_http(b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n")
ok("headers over 32 kB: 431 from libmicrohttpd", out.startswith(b"HTTP/1.1 431"), repr(out[:120]))
out = raw_http(b"GET /api/v1/status HTTP/1.0\r\n\r\n")
ok("HTTP/1.0 without Host: answered", out.split(b"\r\n")[0].endswith(b"200 OK"), repr(out[:200]))
jerr("filter: unknown state", "GET", "/api/v1/batches?state=bogus", 400, has="bogus")
jerr("filter: limit 0", "GET", "/api/v1/batches?limit=0", 400, has="limit")
jerr("filter: a date that is none", "GET", "/api/v1/batches?since=2026-02-30", 400, has="since")
jerr("filter: unknown parameter", "GET", "/api/v1/batches?colour=red", 400, has="colour")
jerr("filter: empty value", "GET", "/api/v1/batches?recipe=", 400, has="recipe")
jerr("batch id not a number", "GET", "/api/v1/batches/abc", 400, has="abc")
jerr("unknown batch (404)", "GET", "/api/v1/batches/99", 404, has="99")
jerr("unknown batch export (404)", "GET", "/api/v1/batches/99/export?format=csv", 404)
jerr("export format", "GET", "/api/v1/batches/1/export?format=xml", 400, has="xml")
jerr("compare needs a and b", "GET", "/api/v1/compare?a=1", 400)
jerr("unknown recipe (404)", "GET", "/api/v1/recipes/nosuch", 404, has="nosuch")
jerr("a tab in a filter (400)", "GET", "/api/v1/batches?recipe=a%09b", 400, has="control")
jerr("a tab in a recipe name (400)", "GET", "/api/v1/recipes/a%09b", 400)
jerr("unknown resource (404)", "GET", "/api/v1/nothing", 404)
jerr("unknown page (404)", "GET", "/nothing.html", 404)
r = jerr("wrong method on a read (405)", "DELETE", "/api/v1/status", 405)
ok("405 says Allow: GET", r.getheader("Allow") == "GET", r.getheader("Allow"))
r = jerr("wrong method on a change (405)", "GET", "/api/v1/continue", 405)
ok("405 says Allow: POST", r.getheader("Allow") == "POST", r.getheader("Allow"))
jerr("wrong method on a page (405)", "POST", "/", 405, "x=1")
jerr("oversized body (413)", "POST", "/api/v1/login", 413, "user=alice&password=" + "x" * 5000)
jerr("login: not a form (400)", "POST", "/api/v1/login", 400, "hello")

# a batch: taa-cnt-3 starts with a prompt
out = subprocess.run([lblctl, "run", recipe, "--operator", "ci"], capture_output=True, text=True)
ok("batch started", out.returncode == 0, out.stderr)
def wait_state(want, limit_s=20):
    end = time.time() + limit_s
    while time.time() < end:
        s, st = get_json("/api/v1/status")
        if st and st["state"] in want:
            return st
        time.sleep(0.1)
    return st
st = wait_state(("prompt",))
ok("status: the prompt", st["state"] == "prompt" and "Clamp" in (st["message"] or "") and
   st["bilayers"] == 3 and st["recipe"] == "taa-cnt-3", repr(st))

# the event stream tells the status as it is
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
c.request("GET", "/api/v1/events")
r = c.getresponse()
ok("events: an event stream", r.status == 200 and r.getheader("Content-Type") == "text/event-stream",
   "%d %s" % (r.status, r.getheader("Content-Type")))
# lbl-web follows lbld on one connection, so the stream tells the prompt at once
buf, seen = b"", []
end = time.time() + 10
while time.time() < end and not any(e.get("state") == "prompt" for e in seen):
    buf += r.read1(4096)
    while b"\n\n" in buf:
        msg, buf = buf.split(b"\n\n", 1)
        if msg.startswith(b"event: status\ndata: "):
            seen.append(json.loads(msg.split(b"data: ", 1)[1]))
ok("events: the status, then its changes", seen and seen[-1].get("state") == "prompt" and
   seen[-1].get("batch") == 1, repr(seen)[:300])
c.close()

# SSE helpers: a raw stream, and its messages within a time
import socket
def sse_open(extra=""):
    so = socket.create_connection(("127.0.0.1", port), timeout=20)
    so.sendall(("GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n" % extra).encode())
    return so
def sse_read(so, seconds, until=None):
    """The messages (a dict of their fields, data parsed) read within seconds, or until until(msgs)."""
    so.settimeout(0.2)
    buf, msgs, end = b"", [], time.time() + seconds
    while time.time() < end and not (until and until(msgs)):
        try:
            chunk = so.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            break
        buf += chunk
        while b"\n\n" in buf:
            block, buf = buf.split(b"\n\n", 1)
            m = {}
            for line in block.decode().split("\n"):
                if ":" in line and not line.startswith(":"):
                    k, v = line.split(":", 1)
                    m[k] = v[1:] if v.startswith(" ") else v
            if "data" in m:
                m["data"] = json.loads(m["data"])
                msgs.append(m)
    return msgs
def events_of(msgs):
    return [m for m in msgs if m.get("event") == "event"]
# a stream open through the changes below: lbld's events on it as they are recorded
watch = sse_open()
sse_read(watch, 1)

# changes: a session and the CSRF token, both
jerr("continue without a login (401)", "POST", "/api/v1/continue", 401, "")
jerr("login: wrong password (401)", "POST", "/api/v1/login", 401, "user=alice&password=wrong")
jerr("login: unknown user (401)", "POST", "/api/v1/login", 401, "user=mallory&password=x")
s, r, data = req("POST", "/api/v1/login", "user=alice&password=correct+horse")
cookie = (r.getheader("Set-Cookie") or "")
login = json.loads(data) if s == 200 else {}
ok("login", s == 200 and login.get("user") == "alice" and len(login.get("csrf", "")) == 64, "%d %r" % (s, data))
ok("session cookie: HttpOnly, SameSite=Strict", "HttpOnly" in cookie and "SameSite=Strict" in cookie and
   cookie.startswith("lbl_session="), cookie)
session = cookie.split(";")[0]
csrf = login.get("csrf", "")
s, ses = get_json("/api/v1/session")
ok("session unknown without the cookie", ses["user"] is None, repr(ses))
s, r, data = req("GET", "/api/v1/session", headers={"Cookie": session})
ok("session with the cookie", json.loads(data).get("csrf") == csrf, data)
jerr("continue without the CSRF token (403)", "POST", "/api/v1/continue", 403, "", {"Cookie": session})
jerr("continue with a wrong CSRF token (403)", "POST", "/api/v1/continue", 403, "",
     {"Cookie": session, "X-CSRF-Token": "0" * 64})
jerr("continue with the token but no session (401)", "POST", "/api/v1/continue", 401, "",
     {"X-CSRF-Token": csrf})
ok("the prompt still waits", get_json("/api/v1/status")[1]["state"] == "prompt")
auth = {"Cookie": session, "X-CSRF-Token": csrf}
s, r, data = req("POST", "/api/v1/continue", "", auth)
ok("continue with session and token", s == 200 and json.loads(data).get("user") == "alice", "%d %r" % (s, data))
st = wait_state(("running", "waiting"))
ok("running after continue", st["state"] in ("running", "waiting"), repr(st))
jerr("continue with no prompt (409)", "POST", "/api/v1/continue", 409, "", auth, has="not waiting")
jerr("pause: now must be 1 or 0 (400)", "POST", "/api/v1/pause", 400, "now=maybe", auth)
s, r, data = req("POST", "/api/v1/pause", "now=1", auth)
ok("pause now", s == 200, "%d %r" % (s, data))
st = wait_state(("paused",))
ok("paused", st["state"] == "paused", repr(st))
# a manual move during the pause: the web's resume raises the lift first, as lblctl's does
out = subprocess.run([lblctl, "move", "lift", "30mm"], capture_output=True, text=True)
ok("a manual move in the pause", out.returncode == 0, out.stdout + out.stderr)
s, r, data = req("POST", "/api/v1/resume", "", auth)
ok("resume after a manual move: the lift to the safe height first", s == 200 and
   "the lift goes to the safe height" in json.loads(data).get("output", ""), "%d %r" % (s, data))
st = wait_state(("running", "waiting"))
time.sleep(0.3)
s, r, data = req("POST", "/api/v1/abort", "", auth)
ok("abort", s == 200, "%d %r" % (s, data))
st = wait_state(("idle",))
ok("idle after abort", st["state"] == "idle", repr(st))

# the events on the open stream, each once, in the record's order, with its number
def has(evs, kind, text):
    return any(e["data"]["kind"] == kind and text in e["data"]["message"] for e in evs)
got = events_of(sse_read(watch, 10, lambda ms: has(events_of(ms), "abort", "alice via lbl-web")))
watch.close()
ok("events: the web user's continue, pause, resume and abort, as recorded", has(got, "continue", "alice via lbl-web")
   and has(got, "pause", "by alice via lbl-web") and has(got, "resume", "by alice via lbl-web") and
   has(got, "abort", "alice via lbl-web"),
   repr([(e["data"]["kind"], e["data"]["message"][:40]) for e in got])[:600])
con0 = sqlite3.connect(db)
rows = con0.execute("select kind, message from events where batch_id = 1 order by id").fetchall()
told = [(e["data"]["kind"], e["data"]["message"]) for e in got if e["data"]["batch"] == 1]
ok("events: the same as the record's, in order", told == rows[len(rows) - len(told):] and len(told) >= 4,
   "told %r, record %r" % (told[-3:], rows[-3:]))
ids = [int(e["id"].rsplit("-", 1)[1]) for e in got]
ok("events: numbered in order", ids == sorted(ids) and len(set(ids)) == len(ids), repr(ids))
# a browser that reconnects (Last-Event-ID) gets those after its last, an unknown id all kept
so = sse_open("Last-Event-ID: %s\r\n" % got[0]["id"])
again = events_of(sse_read(so, 3, lambda ms: len(events_of(ms)) >= len(got) - 1))
so.close()
ok("events: a reconnect gets those it missed, no more", [e["id"] for e in again] == [e["id"] for e in got[1:]],
   "%r against %r" % ([e["id"] for e in again], [e["id"] for e in got[1:]]))
so = sse_open("Last-Event-ID: %s\r\n" % got[-1]["id"])
again = sse_read(so, 2)
so.close()
ok("events: a reconnect that missed none gets the status alone", events_of(again) == [] and
   again and again[0]["event"] == "status", repr(again)[:300])
so = sse_open("Last-Event-ID: 1234-5\r\n")
again = events_of(sse_read(so, 3, lambda ms: len(events_of(ms)) >= len(got)))
so.close()
ok("events: an id of another lbl-web: all the events kept", len(again) >= len(got) and
   again[-1]["id"] == got[-1]["id"], "%d, %d" % (len(again), len(got)))

con = sqlite3.connect(db)
events = con.execute("select kind, message from events where batch_id=1").fetchall()
def has_event(kind, text):
    return any(k == kind and text in (m or "") for k, m in events)
ok("recorded: continue by the web user", has_event("continue", "operator alice via lbl-web (uid "), repr(events))
ok("recorded: pause by the web user", has_event("pause", "by alice via lbl-web (uid "), repr(events))
ok("recorded: resume by the web user", has_event("resume", "by alice via lbl-web (uid "), repr(events))
cause = con.execute("select state, failure_cause from batches where id=1").fetchone()
ok("recorded: aborted by the web user", cause[0] == "aborted" and
   cause[1].startswith("aborted by the operator alice via lbl-web (uid "), repr(cause))

# the record
s, b = get_json("/api/v1/batches?state=aborted&recipe=taa-cnt-3&limit=5")
ok("GET batches: filtered", s == 200 and len(b) == 1 and b[0]["id"] == 1 and b[0]["operator"] == "ci", repr(b))
s, b = get_json("/api/v1/batches?state=completed")
ok("GET batches: filtered out", s == 200 and b == [], repr(b))
s, b = get_json("/api/v1/batches/1")
ok("GET batches/1", s == 200 and b["id"] == 1 and b["steps"] and b["events"] and "bilayers" in b, repr(b)[:300])
s, r, data = req("GET", "/api/v1/batches/1/export?format=csv")
ok("export csv", s == 200 and r.getheader("Content-Type").startswith("text/csv") and
   data.startswith(b"# batches\nbatch_id,") and b"\n# steps\n" in data and b"\n# events\n" in data and
   "batch-1.csv" in (r.getheader("Content-Disposition") or ""), data[:200])
s, r, data = req("GET", "/api/v1/batches/1/export?format=json")
exp = json.loads(data) if s == 200 else None
# lblctl export's format: a list of batches (here one)
ok("export json", isinstance(exp, list) and len(exp) == 1 and exp[0]["id"] == 1, data[:200])
s, rl = get_json("/api/v1/recipes")
ok("GET recipes", s == 200 and any(x["name"] == "taa-cnt-3" for x in rl), repr(rl))
s, rc = get_json("/api/v1/recipes/taa-cnt-3")
ok("GET recipes/NAME", s == 200 and "name: taa-cnt-3" in rc["text"], repr(rc)[:200])
# its plan: lbld's, against its rig, the document lblctl plan --json prints
out = subprocess.run([lblctl, "plan", recipe, "--rig", rig, "--json"], capture_output=True, text=True)
s, pl = get_json("/api/v1/recipes/taa-cnt-3@1/plan")
ok("GET recipes/NAME/plan: lblctl plan --json's document", s == 200 and out.returncode == 0 and
   pl == json.loads(out.stdout) and pl["steps"] and pl["total_ms"] > 0, "%d %r" % (s, repr(pl)[:200]))
jerr("plan of an unknown recipe (404)", "GET", "/api/v1/recipes/nosuch/plan", 404, has="nosuch")
jerr("recipes/NAME/other (404)", "GET", "/api/v1/recipes/taa-cnt-3/steps", 404, has="steps")
jerr("a recipe name like an option (400)", "GET", "/api/v1/recipes/--json/plan", 400, has="'-'")
jerr("plan: unknown parameter (400)", "GET", "/api/v1/recipes/taa-cnt-3/plan?rig=x", 400, has="rig")
jerr("plan: wrong method (405)", "POST", "/api/v1/recipes/taa-cnt-3/plan", 405, "x=1")
s, cmp = get_json("/api/v1/compare?a=1&b=1")
ok("GET compare", s in (200, 400) and ("text" in cmp or "error" in cmp), repr(cmp)[:200])

# 50 event streams dropped at once on this build (the sanitizers watch it)
import socket
socks = []
for i in range(50):
    so = socket.create_connection(("127.0.0.1", port), timeout=20)
    so.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    socks.append(so)
told = 0
for so in socks:
    data = b""
    while b"event: status" not in data:
        chunk = so.recv(4096)
        if not chunk:
            break
        data += chunk
    told += b"event: status" in data
    so.close()
ok("50 streams told the status, then dropped", told == 50, "%d of 50" % told)

# a run from the browser: a stored recipe, the web user as the batch's operator
jerr("run without the CSRF token (403)", "POST", "/api/v1/run", 403, "recipe=taa-cnt-3", {"Cookie": session})
jerr("run without a recipe (400)", "POST", "/api/v1/run", 400, "substrate=x", auth, has="recipe=")
jerr("run of an unknown recipe (404)", "POST", "/api/v1/run", 404, "recipe=nosuch", auth, has="nosuch")
jerr("run with a malformed lot (400)", "POST", "/api/v1/run", 400, "recipe=taa-cnt-3&lot=L42", auth,
     has="SOLUTION=LOT")
jerr("run with a line break in the note (400)", "POST", "/api/v1/run", 400,
     "recipe=taa-cnt-3&note=a%0Ab", auth, has="control")
s, r, data = req("POST", "/api/v1/run", "recipe=taa-cnt-3&substrate=web+coupon&note=from+the+browser"
                 "&lot=taa%3DL42&lot=cnt=C7", auth)
ok("run", s == 200 and "batch 2 started" in json.loads(data).get("output", ""), "%d %r" % (s, data))
st = wait_state(("prompt",))
ok("run: batch 2 at its prompt", st["batch"] == 2 and st["state"] == "prompt", repr(st))
row = con.execute("select operator, substrate, note from batches where id=2").fetchone()
ok("run: recorded with the web user as operator", row == ("alice via lbl-web", "web coupon",
   "from the browser"), repr(row))
jerr("a second run refused (409)", "POST", "/api/v1/run", 409, "recipe=taa-cnt-3", auth, has="one run")
s, r, data = req("POST", "/api/v1/abort", "", auth)
ok("run: aborted", s == 200 and wait_state(("idle",))["state"] == "idle", "%d %r" % (s, data))

# logout ends the session
s, r, data = req("POST", "/api/v1/logout", "", auth)
ok("logout", s == 200, "%d %r" % (s, data))
jerr("after logout: refused (401)", "POST", "/api/v1/pause", 401, "", auth)

# login attempts: WEB_LOGIN_PER_MIN (5) in any minute from one address; some
# were made above, so the limit comes within 6 more, and then holds even for
# the right password
codes = []
for i in range(6):
    codes.append(req("POST", "/api/v1/login", "user=alice&password=wrong")[0])
    if codes[-1] == 429:
        break
ok("login rate-limited: wrong passwords, then 429", codes[-1] == 429 and set(codes[:-1]) <= {401},
   repr(codes))
r = jerr("login rate-limited: the right password too (429)", "POST", "/api/v1/login", 429,
         "user=alice&password=correct+horse", has="too many")
ok("429 says Retry-After", 0 < int(r.getheader("Retry-After") or 0) <= 60, r.getheader("Retry-After"))
PY

# TLS (a self-signed certificate made here), on every address of both families
if command -v openssl >/dev/null 2>&1 &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$LBL_TMP/key.pem" -out "$LBL_TMP/cert.pem" \
        -days 1 -subj /CN=localhost >/dev/null 2>&1; then
	TLS_PORT=$(free_port)
	cat >"$LBL_TMP/tls.yaml" <<EOY
listen: "[::]:$TLS_PORT"
socket: $LBL_SOCKET
users:
  alice: "$hash"
tls: {cert: $LBL_TMP/cert.pem, key: $LBL_TMP/key.pem}
EOY
	"$LBL_BUILD/lbl-web" --config "$LBL_TMP/tls.yaml" >"$LBL_TMP/tls.out" 2>"$LBL_TMP/tls.err" &
	TLS_PID=$!
	LBL_PIDS="$LBL_PIDS $TLS_PID"
	wait_for 10 grep -q '^ready' "$LBL_TMP/tls.out" || fail "TLS: starts" "$(cat "$LBL_TMP/tls.err")"
	/usr/bin/python3 - "$TLS_PORT" <<'PY'
import http.client, json, ssl, sys, time
port = int(sys.argv[1])
def ok(name, cond, why=""):
    print(("PASS %s" % name) if cond else ("FAIL %s: %s" % (name, why)), flush=True)
ctx = ssl._create_unverified_context()
def get(host, path, method="GET", body=None):
    c = http.client.HTTPSConnection(host, port, timeout=20, context=ctx)
    c.request(method, path, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse()
    return r.status, r, r.read()
s, r, data = get("127.0.0.1", "/api/v1/status")
ok("TLS: status over HTTPS on IPv4", s == 200 and "state" in json.loads(data), "%d %r" % (s, data[:100]))
s, r, data = get("::1", "/api/v1/session")
ok("TLS: the same on IPv6 (listen [::]:PORT)", s == 200, "%d" % s)
s, r, data = get("127.0.0.1", "/api/v1/login", "POST", "user=alice&password=correct+horse")
ok("TLS: the session cookie is Secure", s == 200 and "; Secure" in (r.getheader("Set-Cookie") or ""),
   "%d %r" % (s, r.getheader("Set-Cookie")))
PY
	kill "$TLS_PID"
	wait_for 20 sh -c "! kill -0 $TLS_PID"
	sanitizer_clean "$LBL_TMP/tls.err" "lbl-web with TLS"
else
	echo "info: no openssl: the TLS check is skipped"
fi

# 200 event streams at once, dropped at once, on the plain build's lbl-web
if [ -x "$plain/lbl-web" ]; then
	# as the unit runs it: its GLIBC_TUNABLES (a small cache of ended threads' stacks)
	tunables=$(sed -n 's/^Environment=GLIBC_TUNABLES=//p' "$LBL_TOP/systemd/lbl-web.service")
	start_web plainweb "env GLIBC_TUNABLES=$tunables $plain" "[127.0.0.0/8]" || exit 1
	/usr/bin/python3 - "$WEB_PORT" "$WEB_PID" "$LBLD_PID" "$plain/lblctl" <<'PY'
import os, socket, subprocess, sys, time
port, pid, lbld, lblctl = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def ok(name, cond, why=""):
    print(("PASS %s" % name) if cond else ("FAIL %s: %s" % (name, why)), flush=True)
def proc(p=pid):
    f = {}
    for line in open("/proc/%d/status" % p):
        k, v = line.split(":", 1)
        f[k] = (v.split() or [""])[0]
    return int(f["VmRSS"]), int(f["Threads"])
def status_ok():
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    return data.startswith(b"HTTP/1.1 200")
# idle: after a few requests, and the status follower settled
for i in range(5):
    status_ok()
time.sleep(1.5)
idle_rss, idle_threads = proc()
lbld_rss = proc(lbld)[0]
# idle, lbl-web keeps its one follow of lbld open: no connection made again and again
def sockets():
    fds = "/proc/%d/fd" % pid
    return sorted(l for l in (os.readlink(os.path.join(fds, f)) for f in os.listdir(fds)) if l.startswith("socket:"))
before = sockets()
time.sleep(3.5)
after = sockets()
ok("idle: lbl-web keeps one connection to lbld (no polling)", before == after and len(before) >= 2,
   "%r, 3.5 s later %r" % (before, after))
socks = []
for i in range(200):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    socks.append(s)
got = 0
for s in socks:
    data = b""
    try:
        while b"event: status" not in data:
            b = s.recv(4096)
            if not b:
                break
            data += b
    except OSError:
        pass
    got += b"event: status" in data
ok("200 event streams, each told the status", got == 200, "%d of 200" % got)
busy_rss, busy_threads = proc()
ok("200 streams: a thread each", busy_threads >= idle_threads + 200, "%d -> %d" % (idle_threads, busy_threads))
ok("lbl-web answers beside 200 streams", status_ok())
for s in socks:
    s.close()
# each stream notices within a keep-alive (1 s); allow a loaded machine 20 s
end = time.time() + 20
while time.time() < end:
    rss, threads = proc()
    if threads <= idle_threads + 2:
        break
    time.sleep(0.2)
rss, threads = proc()
ok("dropped: the threads end", threads <= idle_threads + 2, "idle %d, busy %d, now %d" % (idle_threads, busy_threads, threads))
# near idle: within 25% of idle or 2 MB, whichever is larger (the unit's
# GLIBC_TUNABLES keeps 1 MB of ended threads' stacks)
ok("dropped: RSS back near idle", rss <= idle_rss + max(idle_rss // 4, 2048),
   "idle %d kB, with 200 streams %d kB, after %d kB" % (idle_rss, busy_rss, rss))
print("info: lbl-web RSS idle %d kB, 200 streams %d kB, dropped %d kB" % (idle_rss, busy_rss, rss))
ok("lbl-web answers after the drop", status_ok())
# lbld: the streams were lbl-web's alone (it follows lbld once), so lbld is as it was
now = proc(lbld)[0]
r = subprocess.run([lblctl, "status"], capture_output=True, text=True, timeout=20)
ok("lbld well after 200 streams came and went", r.returncode == 0 and now <= lbld_rss + 2048,
   "rc %d, RSS %d kB then %d kB" % (r.returncode, lbld_rss, now))
PY
	# the same under valgrind: no memcheck error, no leak once 200 streams came and went
	if command -v valgrind >/dev/null 2>&1; then
		start_web vgweb "valgrind --quiet --error-exitcode=97 --leak-check=full \
		    --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
		    --log-file=$LBL_TMP/vg-web $plain" "[127.0.0.0/8]" 60 || exit 1
		/usr/bin/python3 - "$WEB_PORT" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
def ok(name, cond, why=""):
    print(("PASS %s" % name) if cond else ("FAIL %s: %s" % (name, why)), flush=True)
socks = []
for i in range(200):
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    s.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    socks.append(s)
got = 0
for s in socks:
    data = b""
    try:
        while b"event: status" not in data:
            b = s.recv(4096)
            if not b:
                break
            data += b
    except OSError:
        pass
    got += b"event: status" in data
for s in socks:
    s.close()
ok("valgrind: 200 event streams told the status, then dropped", got == 200, "%d of 200" % got)
time.sleep(3)
PY
		kill "$WEB_PID"
		wait "$WEB_PID"
		rc=$?
		[ $rc = 0 ] && pass "valgrind: lbl-web exits cleanly after 200 streams, no memcheck error or leak" ||
		    fail "valgrind: lbl-web after 200 streams" "exit $rc: $(grep -v '^==[0-9]*== *$' "$LBL_TMP/vg-web" | head -30)"
	else
		echo "info: no valgrind: the leak check of 200 streams is skipped"
	fi
	# lbld gone: a clear 503, and the streams say offline
	kill "$LBLD_PID"
	wait_for 20 sh -c "! kill -0 $LBLD_PID" || fail "lbld stops" "it runs on"
	/usr/bin/python3 - "$WEB_PORT" <<'PY'
import http.client, json, sys, time
port = int(sys.argv[1])
def ok(name, cond, why=""):
    print(("PASS %s" % name) if cond else ("FAIL %s: %s" % (name, why)), flush=True)
c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
c.request("GET", "/api/v1/status")
r = c.getresponse()
body = r.read()
ok("lbld gone: status answers 503 saying so", r.status == 503 and "lbld" in json.loads(body)["error"],
   "%d %r" % (r.status, body))
c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
c.request("GET", "/api/v1/events")
r = c.getresponse()
buf = b""
end = time.time() + 10
while b"event: offline" not in buf and time.time() < end:
    buf += r.read1(4096)
ok("lbld gone: the stream says offline", b"event: offline" in buf, repr(buf[-200:]))
PY
else
	echo "info: no plain build ($plain/lbl-web): the 200-stream footprint check is skipped"
fi

# lbl-web stops cleanly on SIGTERM (the leak check runs at its exit)
for pid in $MAIN_PID $UNTRUSTED_PID; do
	kill "$pid" 2>/dev/null
	wait_for 20 sh -c "! kill -0 $pid" && pass "lbl-web $pid stops on SIGTERM" ||
	    fail "lbl-web $pid stops on SIGTERM" "still running after 20 s"
done
for f in "$LBL_TMP"/web.err "$LBL_TMP"/untrusting.err; do sanitizer_clean "$f" "lbl-web $(basename "$f" .err)"; done
kill "$LBLD_PID" 2>/dev/null
wait_for 20 sh -c "! kill -0 $LBLD_PID"
sanitizer_clean "$LBL_TMP/lbld.err" "lbld"
