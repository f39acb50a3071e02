#!/usr/bin/python3
"""Step timing with and without lbl-sync copying the running batch (issue 20).

The spray recipe of bench_timing.py runs twice on lbl-simrig, STEPS steps
each, real time: once with no lbl-sync, once with lbl-sync copying the
batch to PostgreSQL as it runs (a look at the database every 0.5 s, a copy
after each commit). Each step's start error is measured at the device as
bench_timing.py does, and both runs' figures are printed side by side,
with lbl-sync's CPU time. bench_sync.sh starts the PostgreSQL cluster and
passes its URI in LBL_SYNC_TO. Prints figures; asserts nothing.

    bench_sync.py [STEPS]       (default 120 per run: about 4 minutes in all)
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import BUILD, percentile  # noqa: E402
from bench_timing import (CYCLE, errors, run_batch, spray_schedule, traced_spray_rig,  # noqa: E402
                          valve_on_times)


def cpu_s(pid):
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 120
    uri = os.environ.get("LBL_SYNC_TO")
    if not uri:
        raise SystemExit("bench_sync.py: LBL_SYNC_TO (the central database) is not set; "
                         "run bench_sync.sh")
    bilayers = max(2, (steps + len(CYCLE) - 1) // len(CYCLE))
    rig = traced_spray_rig()
    try:
        recipe, starts, first, kinds = spray_schedule(rig, "bench-sync", bilayers)
        print("step timing: %d spray/dry steps of 0.5-3 s a run, real time; without lbl-sync, "
              "then with lbl-sync copying the batch as it runs" % len(starts))

        run_batch(rig, recipe)
        quiet = valve_on_times(rig.trace)
        state = os.path.join(rig.dir, "sync")
        os.mkdir(state)
        sync = rig._spawn([os.path.join(BUILD, "lbl-sync"), "--db", rig.db, "--state-dir", state,
                           "--rig-id", os.path.join(rig.dir, "rig-id"), "--name", "bench"],
                          subprocess.DEVNULL, "sync.err")
        time.sleep(3)
        cpu0 = cpu_s(sync.pid)
        t0 = time.monotonic()
        run_batch(rig, recipe)
        cpu = cpu_s(sync.pid) - cpu0
        wall = time.monotonic() - t0
        busy = valve_on_times(rig.trace)[len(quiet):]
        print("start error |actual - planned| at the device (valve-on command):")
        figures = []
        for name, on in (("no lbl-sync", quiet), ("lbl-sync", busy)):
            e, n = errors(on[first:], starts[first:], kinds[first:])
            a = [abs(x) for x in e]
            figures.append(percentile(a, 99))
            print("  %-12s steps %4d   p50 %7.3f ms   p99 %7.3f ms   max %7.3f ms   drift %+8.3f ms"
                  % (name, n, percentile(a, 50), percentile(a, 99), max(a), e[-1]))
        print("  p99 with lbl-sync / without: %.2f" % (figures[1] / figures[0] if figures[0] else
                                                       float("nan")))
        print("lbl-sync: %.2f s of CPU over the %.0f s batch (%.2f%%)" % (cpu, wall,
                                                                      100 * cpu / wall))
    finally:
        rig.close()


if __name__ == "__main__":
    main()
