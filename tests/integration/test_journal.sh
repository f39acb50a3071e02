#!/bin/sh
# lbld logs to the journal's native socket when its stderr is the journal
# stream (JOURNAL_STREAM), with priority and identifier, and the run's
# fields (BATCH, RECIPE, BILAYER, STEP) on every line of a batch; and when
# the journal stalls (its socket's queue full: journald held up by its
# disk, or stopped for an upgrade), lbld does not wait for it: it answers,
# the batch goes on, and the messages it could not send are counted and the
# count told once the journal reads again. Before, the first log line sat in
# sendto and the event loop with it (status unanswered, no step, no e-stop).
# Needs root and a machine without journald (CI containers): it plays
# journald itself.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
sock=/run/systemd/journal/socket
if [ "$(id -u)" != 0 ] || [ -e "$sock" ]; then
	echo "info: journald present or not root: the journal protocol test is skipped"
	exit 0
fi
make_rig dip-rig.yaml "$LBL_TMP/rig.yaml"
start_simrig "$LBL_TMP/rig.yaml" --time-scale 400 || exit 1
mkdir -p /run/systemd/journal
/usr/bin/python3 - "$sock" "$LBL_BUILD" "$LBL_TMP" "$LBL_TOP" <<'PY' || echo "FAIL the journal test's harness: python3 ended with an error (status $?)"
import os, socket, sqlite3, struct, subprocess, sys, threading, time
sock, build, tmp, top = sys.argv[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sock)
s.settimeout(0.2)
err = open(os.path.join(tmp, "lbld.journal.err"), "w")
st = os.fstat(err.fileno())
env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino),
           LBL_SOCKET=os.path.join(tmp, "j.sock"))
os.makedirs(os.path.join(tmp, "gpio"), exist_ok=True)
lbld = subprocess.Popen([build + "/lbld", "--rig", tmp + "/rig.yaml", "--db", tmp + "/j.db",
                         "--socket", env["LBL_SOCKET"], "--gpio-sim", tmp + "/gpio",
                         "--time-scale", "400"], stderr=err, env=env)
entries = []
def drain(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        i, e = 0, {}
        while i < len(d):
            nl = d.index(b"\n", i)
            n = struct.unpack("<Q", d[nl + 1:nl + 9])[0]
            e[d[i:nl].decode()] = d[nl + 9:nl + 9 + n].decode()
            i = nl + 9 + n + 1
        entries.append(e)
drain(1.5)
subprocess.run([build + "/lblctl", "run", top + "/recipes/examples/ag-tca-5-dip.yaml"], env=env,
               stdout=subprocess.DEVNULL)
# the operator: every prompt answered
operating = True
def operator():
    while operating and lbld.poll() is None:
        st = subprocess.run([build + "/lblctl", "status"], env=env, capture_output=True, text=True)
        if "state: prompt" in st.stdout:
            subprocess.run([build + "/lblctl", "continue"], env=env, capture_output=True)
        time.sleep(0.2)
threading.Thread(target=operator, daemon=True).start()
drain(2.0)
# journald stalls: its socket's queue filled from another socket, nothing read
def steps_done():
    c = sqlite3.connect("file:%s/j.db?mode=ro" % tmp, uri=True)
    try:
        return c.execute("select count(*) from steps where outcome = 'done'").fetchone()[0]
    finally:
        c.close()
# (a sender's own buffer fills too: new senders until a fresh one can send
# nothing, which is journald's queue full, whatever max_dgram_qlen says)
fill = b"MESSAGE\n" + struct.pack("<Q", 6) + b"filler\n"
fillers, filled = [], 0
while len(fillers) < 2000:
    f = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    f.setblocking(False)
    fillers.append(f)
    sent = 0
    while True:
        try:
            f.sendto(fill, sock)
            sent += 1
        except BlockingIOError:
            break
    filled += sent
    if sent == 0:
        break
done0 = steps_done()
# what lbld logs meanwhile (a pause and a resume, each a line) is dropped
subprocess.run([build + "/lblctl", "pause"], env=env, capture_output=True, timeout=10)
t0 = time.monotonic()
try:
    st = subprocess.run([build + "/lblctl", "status"], env=env, capture_output=True, timeout=10)
    status_rc = st.returncode
except subprocess.TimeoutExpired:
    status_rc = "timeout"
status_s = time.monotonic() - t0
subprocess.run([build + "/lblctl", "resume"], env=env, capture_output=True, timeout=10)
end = time.monotonic() + 10
while steps_done() == done0 and time.monotonic() < end:
    time.sleep(0.1)
done1 = steps_done()
print("info: journal full after %d datagrams; status answered in %.3f s; %d steps done during "
      "the stall" % (filled, status_s, done1 - done0))
drain(1.0)
operating = False
lbld.terminate()
lbld.wait()
drain(0.3)
os.unlink(sock)
def check(name, ok, why):
    print(("PASS " + name) if ok else ("FAIL %s: %s" % (name, why)))
ready = [e for e in entries if "ready" in e.get("MESSAGE", "")]
check("ready line in the journal", ready, "entries: %r" % entries[:3])
check("priority and identifier", ready and ready[0].get("PRIORITY") == "6" and
      ready[0].get("SYSLOG_IDENTIFIER") == "lbld", repr(ready[:1]))
batch = [e for e in entries if e.get("BATCH") == "1"]
check("batch lines carry BATCH, RECIPE, BILAYER, STEP", batch and all(
      e.get("RECIPE") == "ag-tca-5" and "BILAYER" in e and "STEP" in e for e in batch), repr(batch[:2]))
check("journal full: lbld answers status at once", status_rc == 0 and status_s < 3,
      "rc %s after %.1f s" % (status_rc, status_s))
check("journal full: the batch goes on", done1 > done0, "%d steps done before, %d after" %
      (done0, done1))
told = [e for e in entries if "dropped: the journal did not take" in e.get("MESSAGE", "")]
check("journal full: the dropped messages are counted and told once it reads again",
      told and told[0].get("PRIORITY") == "4", repr(told[:1]))
check("nothing on stderr while the journal answers", os.path.getsize(os.path.join(tmp, "lbld.journal.err")) == 0,
      open(os.path.join(tmp, "lbld.journal.err")).read()[:300])
PY
rmdir /run/systemd/journal /run/systemd 2>/dev/null
true
