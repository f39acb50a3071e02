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
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import BUILD, Rig, percentile  # noqa: E402
from bench_timing import CYCLE, errors, modbus_n2, recipe_text, valve_on_times  # noqa: E402


def run_batch(rig, recipe):
    run = rig.ctl("run", recipe, "--operator", "bench")
    if run.returncode != 0:
        raise SystemExit("lbld refused the run: " + run.stderr)
    while "state: idle" not in rig.ctl("status").stdout:
        time.sleep(1)


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
    rig = Rig("spray-rig.yaml", time_scale=1, daemon=False, extra_rig=modbus_n2)
    try:
        rig.sim.terminate()
        rig.sim.wait()
        rig.trace = os.path.join(rig.dir, "trace.txt")
        out = open(os.path.join(rig.dir, "simrig2.out"), "w")
        rig.sim = rig._spawn([os.path.join(BUILD, "lbl-simrig"), "--rig", rig.rig, "--trace",
                              rig.trace, "--control", rig.simctl_path], out, "simrig2.err")
        rig._wait(lambda: "ready" in open(os.path.join(rig.dir, "simrig2.out")).read(), "lbl-simrig")
        rig.lbld = rig._spawn([os.path.join(BUILD, "lbld"), "--rig", rig.rig, "--db", rig.db,
                               "--socket", rig.socket, "--gpio-sim", rig.gpio],
                              subprocess.DEVNULL, "lbld.err")
        rig._wait(lambda: rig.ctl("status").returncode == 0, "lbld")
        recipe = os.path.join(rig.dir, "bench-sync.yaml")
        open(recipe, "w").write(recipe_text(bilayers))
        plan = json.loads(rig.ctl("plan", recipe, "--rig", rig.rig, "--json").stdout)
        steps_plan = [s for s in plan["steps"] if s["step"] in ("spray", "dry")]
        starts = [s["start_ms"] + s["travel_ms"] for s in steps_plan]
        first = next(i for i, s in enumerate(steps_plan) if s["travel_ms"] == 0)
        kinds = [CYCLE[i % len(CYCLE)][0] for i in range(len(starts))]
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
