#!/usr/bin/python3
"""Helpers of case_readers.sh: readers of the batch record against the safety path.

  readers.py notify SOCKET OUT SECONDS   systemd's side of sd_notify: records the time
                                         (monotonic ms) of each WATCHDOG=1 in OUT
  readers.py gaps OUT FROM_MS            the ping gaps after FROM_MS: "count p50 max" (ms)
  readers.py estop FIFO SIMCTL DB BATCH PUMP...
                                         waits until PUMP (the first) runs, presses the e-stop
                                         (writes 0 to FIFO), prints "PUMPS_MS FAILED_MS": when
                                         every PUMP said running=0 and batch BATCH was failed
  readers.py load N SECONDS STOP CTL BIG_A BIG_B
                                         N clients at once, each repeating one of export --all
                                         --format json, compare BIG_A BIG_B, history, until the
                                         file STOP exists or SECONDS pass; prints what they did;
                                         makes the file STOP.answered when a read succeeds
  readers.py cut SOCKET BYTES            asks for export --all --format json and hangs up after
                                         BYTES bytes of the answer
  readers.py export_rss CTL PID          one export --all --format json: "SECONDS BYTES
                                         RSS_BEFORE_KB RSS_PEAK_KB" of lbld (PID) meanwhile
Every wait is bounded; a helper that times out prints -1 (or says so) and exits 1.
"""
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time


def now_ms():
    return time.monotonic() * 1000.0


def notify(path, out, seconds):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if os.path.exists(path):
        os.unlink(path)
    s.bind(path)
    s.settimeout(0.5)
    end = time.monotonic() + seconds
    with open(out, "a") as f:
        while time.monotonic() < end:
            try:
                msg = s.recv(4096)
            except socket.timeout:
                continue
            if b"WATCHDOG=1" in msg.split(b"\n"):
                f.write("%.1f\n" % now_ms())
                f.flush()


def gaps(out, from_ms):
    t = [float(x) for x in open(out) if x.strip()]
    t = [x for x in t if x >= from_ms]
    g = sorted(b - a for a, b in zip(t, t[1:]))
    if not g:
        print("0 -1 -1")
        return 1
    print("%d %.0f %.0f" % (len(g), g[len(g) // 2], g[-1]))
    return 0


def simctl(path, line):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(2)
    s.connect(path)
    s.sendall((line + "\n").encode())
    out = b""
    while not out.endswith(b"\n"):
        b = s.recv(4096)
        if not b:
            break
        out += b
    s.close()
    return out.decode()


def estop(fifo, ctl, db, batch, pumps):
    deadline = time.monotonic() + 60
    while "running=1" not in simctl(ctl, "get " + pumps[0]):
        if time.monotonic() > deadline:
            print("-1 -1 (%s never ran)" % pumps[0])
            return 1
        time.sleep(0.005)
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=5)
    t0 = now_ms()
    with open(fifo, "w") as f:
        f.write("0\n")
    pumps_ms = failed_ms = -1
    while (pumps_ms < 0 or failed_ms < 0) and now_ms() - t0 < 10000:
        if pumps_ms < 0 and all("running=0" in simctl(ctl, "get " + p) for p in pumps):
            pumps_ms = now_ms() - t0
        if failed_ms < 0:
            row = con.execute("select state from batches where id = ?", (batch,)).fetchone()
            if row and row[0] == "failed":
                failed_ms = now_ms() - t0
        time.sleep(0.001)
    print("%.1f %.1f" % (pumps_ms, failed_ms))
    return 0 if pumps_ms >= 0 and failed_ms >= 0 else 1


def load(n, seconds, stop, ctl, big_a, big_b):
    kinds = [["export", "--all", "--format", "json"], ["compare", big_a, big_b], ["history"]]
    done = [[0, 0] for _ in kinds]
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def client(i):
        k = i % len(kinds)
        while not os.path.exists(stop) and time.monotonic() < end:
            p = subprocess.Popen([ctl] + kinds[k], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
            while p.poll() is None:
                if os.path.exists(stop) or time.monotonic() >= end:
                    p.kill()
                    p.wait()
                    return
                time.sleep(0.05)
            err = p.stderr.read().decode(errors="replace")
            if p.returncode == 0:
                # the case waits for this: a read answered under the load
                open(stop + ".answered", "w").close()
            with lock:
                done[k][0 if p.returncode == 0 else 1] += 1
                if p.returncode != 0:
                    sys.stderr.write("%s: exit %d: %s\n" % (" ".join(kinds[k]), p.returncode,
                                                           err.strip()[:200]))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(" ".join("%s:%d ok %d failed" % (k[0], d[0], d[1]) for k, d in zip(kinds, done)))
    return 0


def cut(path, nbytes):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(20)
    s.connect(path)
    s.sendall(b"export\t--all\t--format\tjson\n")
    got = 0
    while got < nbytes:
        b = s.recv(65536)
        if not b:
            break
        got += len(b)
    s.close()
    print(got)
    return 0 if got >= nbytes else 1


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def export_rss(ctl, pid):
    before = peak = rss_kb(pid)
    t0 = time.monotonic()
    p = subprocess.Popen([ctl, "export", "--all", "--format", "json"], stdout=subprocess.PIPE)
    total = [0]

    def drain():
        while True:
            b = p.stdout.read(1 << 20)
            if not b:
                break
            total[0] += len(b)

    t = threading.Thread(target=drain)
    t.start()
    while t.is_alive():
        peak = max(peak, rss_kb(pid))
        time.sleep(0.02)
    p.wait()
    print("%.1f %d %d %d" % (time.monotonic() - t0, total[0], before, peak))
    return p.returncode


def main(a):
    if a[0] == "notify":
        return notify(a[1], a[2], float(a[3]))
    if a[0] == "gaps":
        return gaps(a[1], float(a[2]))
    if a[0] == "estop":
        return estop(a[1], a[2], a[3], int(a[4]), a[5:])
    if a[0] == "load":
        return load(int(a[1]), float(a[2]), a[3], a[4], a[5], a[6])
    if a[0] == "cut":
        return cut(a[1], int(a[2]))
    if a[0] == "export_rss":
        return export_rss(a[1], int(a[2]))
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]) or 0)
