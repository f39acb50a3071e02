#!/bin/sh
# lbld's plan request: a stored recipe's plan against the rig lbld runs,
# made in the reader thread. Its JSON is lblctl plan --json's for the same
# recipe and rig (one encoder), also for a plan of 300 bilayers that goes
# out in pieces larger than one reply line; its text is lblctl plan's; a
# recipe not stored, bad words and a recipe the rig cannot run each get a
# clear refusal; a viewer may ask; a batch running meanwhile keeps its
# steps (the loop is not held).
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"
make_rig dip-rig.yaml "$LBL_TMP/rig.yaml"
start_simrig "$LBL_TMP/rig.yaml" --time-scale 100 || exit 1
start_lbld "$LBL_TMP/rig.yaml" "$LBL_TMP/lbl.db" --time-scale 100 || exit 1

# a long recipe: the 5-bilayer example at 300 bilayers, no thickness target
sed -e 's/^name: ag-tca-5/name: ag-tca-300/' -e 's/^  bilayers: 5$/  bilayers: 300/' \
    -e '/^  thickness: /d' -e '/^  max_bilayers: /d' \
    "$LBL_TOP/recipes/examples/ag-tca-5-dip.yaml" >"$LBL_TMP/long.yaml"
for r in "$LBL_TOP/recipes/examples/taa-cnt-3-dip.yaml" "$LBL_TMP/long.yaml"; do
	"$ctl" recipe add "$r" >/dev/null 2>"$LBL_TMP/add.err" || fail "recipe add $r" "$(cat "$LBL_TMP/add.err")"
done
"$ctl" plan "$LBL_TOP/recipes/examples/taa-cnt-3-dip.yaml" --rig "$LBL_TMP/rig.yaml" --json >"$LBL_TMP/short.json"
"$ctl" plan "$LBL_TOP/recipes/examples/taa-cnt-3-dip.yaml" --rig "$LBL_TMP/rig.yaml" >"$LBL_TMP/short.txt"
"$ctl" plan "$LBL_TMP/long.yaml" --rig "$LBL_TMP/rig.yaml" --json >"$LBL_TMP/long.json"

# a batch runs meanwhile: its steps go on while the long plan is made and sent
"$ctl" run taa-cnt-3 --operator ci >/dev/null || fail "run" "refused"

/usr/bin/python3 - "$LBL_SOCKET" "$LBL_TMP" "$LBL_BUILD/lblctl" <<'PY'
import json, socket, subprocess, sys, time
sock, tmp, lblctl = sys.argv[1], sys.argv[2], sys.argv[3]
def ok(name, cond, why=""):
    print(("PASS %s" % name) if cond else ("FAIL %s: %s" % (name, why)), flush=True)
def raw(*words):
    """One request; returns (the '+' lines, the '!' lines, the last line)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(sock)
    s.sendall(("\t".join(words) + "\n").encode())
    data = b""
    while True:
        chunk = s.recv(1 << 16)
        if not chunk:
            break
        data += chunk
        lines = data.split(b"\n")
        if any(l.startswith((b"fail ", b"ok")) for l in lines[:-1]):
            break
    s.close()
    out, err, last = [], [], ""
    for l in data.decode().split("\n"):
        if l.startswith("+ "):
            out.append(l[2:])
        elif l.startswith("! "):
            err.append(l[2:])
        elif l.startswith(("ok", "fail ")):
            last = l
    return out, err, last

out, err, last = raw("plan", "taa-cnt-3", "--json")
want = json.load(open(tmp + "/short.json"))
got = json.loads("\n".join(out)) if last == "ok" else None
ok("plan NAME --json: lblctl plan --json's document", got == want and got["rig"] == want["rig"],
   "%s %r" % (last, "\n".join(out)[:300]))
out, err, last = raw("plan", "taa-cnt-3")
ok("plan NAME: lblctl plan's text", last == "ok" and "\n".join(out) + "\n" == open(tmp + "/short.txt").read(),
   "%s %r" % (last, out[:5]))
out, err, last = raw("plan", "taa-cnt-3@1", "--json")
ok("plan NAME@VERSION", last == "ok" and json.loads("\n".join(out))["version"] == "1", last)

t0 = time.time()
out, err, last = raw("plan", "ag-tca-300", "--json")
took = time.time() - t0
want = json.load(open(tmp + "/long.json"))
got = json.loads("\n".join(out)) if last == "ok" else None
ok("a plan of 300 bilayers: the same document, in pieces", got == want and len(out) > 4 and
   len(got["steps"]) > 1500, "%s, %d lines" % (last, len(out)))
ok("its pieces each within a reader's chunk", max([0] + [len(l) for l in out]) < 1024 * 1024,
   "longest %d" % max([0] + [len(l) for l in out]))
print("info: plan of %d steps: %d bytes in %d lines, %.2f s" %
      (len(want["steps"]), sum(len(l) for l in out), len(out), took))

out, err, last = raw("plan", "nosuch", "--json")
ok("plan of a recipe not stored: 2, saying so", last.startswith("fail 2 no stored recipe nosuch"), last)
for words, name in ((("plan",), "no name"), (("plan", "taa-cnt-3", "--yaml"), "an unknown option"),
                    (("plan", "--json"), "an option for a name"),
                    (("plan", "taa-cnt-3", "--rig-id", "1"), "lbld's own word from a client"),
                    (("plan", "a", "b", "c"), "too many words")):
    out, err, last = raw(*words)
    ok("plan refused: " + name, last.startswith("fail 2 usage: plan NAME"), last)

# the batch ran on meanwhile
r = subprocess.run([lblctl, "status", "--json"], capture_output=True, text=True)
st = json.loads(r.stdout)
ok("the batch runs on beside the plans", st["batch"] == 1 and st["state"] in ("prompt", "running", "waiting"),
   r.stdout[:200])
PY

# a viewer may ask (it reads, changes nothing)
if test_users; then
	as_viewer "$ctl" status >/dev/null 2>&1
	out=$(as_viewer /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(30); s.connect(sys.argv[1])
s.sendall(b"plan\ttaa-cnt-3\t--json\n")
data = b""
while not any(l.startswith((b"ok", b"fail ")) for l in data.split(b"\n")[:-1]):
    c = s.recv(65536)
    if not c: break
    data += c
print(data.decode().split("\n")[-2])' "$LBL_SOCKET" 2>&1)
	[ "$out" = ok ] && pass "a viewer may ask for a plan" || fail "plan as a viewer" "$out"
fi

# a stored recipe the rig cannot run (a station it lacks): 2, the error named
sed -e 's/^name: taa-cnt-3/name: elsewhere/' -e 's/station: taa/station: nowhere/' \
    "$LBL_TOP/recipes/examples/taa-cnt-3-dip.yaml" >"$LBL_TMP/elsewhere.yaml"
sqlite3 "$LBL_TMP/lbl.db" ".timeout 5000" "insert into recipes (name, version, sha256, yaml, added_at) values
    ('elsewhere', '1', '$(sha256sum "$LBL_TMP/elsewhere.yaml" | cut -c1-64)', readfile('$LBL_TMP/elsewhere.yaml'),
    strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))" 2>"$LBL_TMP/sql.err" || fail "store a recipe for another rig" "$(cat "$LBL_TMP/sql.err")"
out=$(/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(30); s.connect(sys.argv[1])
s.sendall(b"plan\telsewhere\t--json\n")
data = b""
while not any(l.startswith((b"ok", b"fail ")) for l in data.split(b"\n")[:-1]):
    c = s.recv(65536)
    if not c: break
    data += c
print(data.decode().split("\n")[-2])' "$LBL_SOCKET" 2>&1)
echo "$out" | grep -q "^fail 2 recipe elsewhere@1 is not valid for rig dip-rig-1 (.*nowhere" &&
    pass "a recipe the rig cannot run: 2, its first error named" || fail "plan of an invalid recipe" "$out"

"$ctl" abort >/dev/null 2>&1
kill "$LBLD_PID"
wait_for 20 sh -c "! kill -0 $LBLD_PID"
sanitizer_clean "$LBL_TMP/lbld.err" lbld
[ -z "${LBL_FAILED:-}" ]
