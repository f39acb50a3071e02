#!/usr/bin/python3
"""lbld's footprint: resident memory idle and mid-run, CPU time and wakeups
while idle, and binary sizes. A real lbld on lbl-simrig (example dip rig).

    bench_footprint.py [IDLE_SECONDS]      (default 60)

Wakeups are context switches of every lbld thread (/proc/PID/task/*/status):
an idle daemon should sleep in epoll_wait and its bus workers on their
condition variables. Goals: RSS under 4 MB, idle CPU under 0.1 %.
"""
import glob
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import BUILD, TOP, Rig  # noqa: E402


def rss_kb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def rss_parts(pid):
    parts = {}
    for line in open("/proc/%d/status" % pid):
        if line.startswith(("RssAnon:", "RssFile:", "RssShmem:")):
            parts[line.split(":")[0]] = int(line.split()[1])
    return parts


def pss_kb(pid):
    for line in open("/proc/%d/smaps_rollup" % pid):
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return -1


def cpu_s(pid):
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def switches(pid):
    total = 0
    for status in glob.glob("/proc/%d/task/*/status" % pid):
        for line in open(status):
            if "ctxt_switches" in line:
                total += int(line.split()[1])
    return total


def main():
    idle_s = float(sys.argv[1]) if len(sys.argv) > 1 else 60
    rig = Rig("dip-rig.yaml", time_scale=50)
    try:
        pid = rig.lbld.pid
        time.sleep(1)
        idle_rss = rss_kb(pid)
        idle_parts = rss_parts(pid)
        idle_pss = pss_kb(pid)
        c0, w0, t0 = cpu_s(pid), switches(pid), time.monotonic()
        time.sleep(idle_s)
        c1, w1, t1 = cpu_s(pid), switches(pid), time.monotonic()
        rig.ctl("run", os.path.join(TOP, "recipes", "examples", "ag-tca-5-dip.yaml"), "--operator", "bench")
        time.sleep(0.5)
        rig.ctl("continue")
        peak = 0
        for _ in range(20):
            time.sleep(0.25)
            peak = max(peak, rss_kb(pid))
        print("lbld footprint (example dip rig on lbl-simrig):")
        print("  RSS idle          %6d kB   goal < 4096 kB: %s" % (idle_rss, "met" if idle_rss < 4096 else "NOT met"))
        print("                    (private %d kB, shared library and file pages %d kB)"
              % (idle_parts.get("RssAnon", -1), idle_parts.get("RssFile", -1) + idle_parts.get("RssShmem", 0)))
        print("  PSS idle          %6d kB   (shared pages divided among their users)" % idle_pss)
        print("  RSS mid-run       %6d kB   (peak over 5 s of a run)" % peak)
        cpu_pct = 100 * (c1 - c0) / (t1 - t0)
        print("  idle CPU          %6.3f %%   over %.0f s   goal < 0.1 %%: %s"
              % (cpu_pct, t1 - t0, "met" if cpu_pct < 0.1 else "NOT met"))
        print("  idle wakeups      %6d      over %.0f s (all threads)" % (w1 - w0, t1 - t0))
        for name in ("lbld", "lblctl", "lbl-simrig"):
            path = os.path.join(BUILD, name)
            text = subprocess.run(["size", path], stdout=subprocess.PIPE, text=True).stdout.splitlines()
            code = int(text[1].split()[0]) if len(text) > 1 else -1
            print("  %-12s file %7d bytes, text %7d bytes" % (name, os.path.getsize(path), code))
    finally:
        rig.close()


main()
