#!/usr/bin/python3
"""Step timing while clients read the batch record (issue 14).

lbld runs on a record of 10,000 batches (made by lbl-histgen, with two recipes
of 3,900 lines that differ in a few, for compare). The spray recipe of
bench_timing.py runs twice on lbl-simrig, STEPS steps each: once quiet, once
while 20 clients at a time repeat export --all --format json, compare of the
two long recipes, and history (tests/faults/readers.py load). Each step's
start error is measured at the device as bench_timing.py does; the figures of
both runs are printed side by side, with what the clients got done. Prints
figures; asserts nothing.

    bench_readers.py [STEPS]       (default 120 per run: about 6 minutes in all)
"""
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import BUILD, TOP, percentile  # noqa: E402
from bench_timing import (CYCLE, errors, run_batch, spray_schedule, traced_spray_rig,  # noqa: E402
                          valve_on_times)

READERS = os.path.join(TOP, "tests", "faults", "readers.py")


def big_recipes(db):
    """Recipes 1 and 2 become 3,900-line texts a few lines apart; returns a batch of each."""
    con = sqlite3.connect(db)
    lines = ["  - dip: {solution: s%d, dwell: %dmin}" % (i, i % 7 + 1) for i in range(3900)]
    a = "\n".join(["name: big", "cycle:"] + lines) + "\n"
    lines[1200] = "  - dip: {solution: s1200, dwell: 9min}"
    lines.insert(2500, "  - wait: 1min")
    b = "\n".join(["name: big", "cycle:"] + lines) + "\n"
    con.execute("update recipes set yaml = ? where id = 1", (a,))
    con.execute("update recipes set yaml = ? where id = 2", (b,))
    con.commit()
    ids = [con.execute("select min(id) from batches where recipe_id = ?", (r,)).fetchone()[0]
           for r in (1, 2)]
    con.close()
    return [str(i) for i in ids]


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 120
    bilayers = max(2, (steps + len(CYCLE) - 1) // len(CYCLE))
    big = []

    def make_record(rig):
        t0 = time.monotonic()
        subprocess.run([os.path.join(BUILD, "tests", "lbl-histgen"), rig.db, "10000"], check=True,
                       stdout=subprocess.DEVNULL)
        big.extend(big_recipes(rig.db))
        print("record: 10,000 batches made in %.1f s; compare %s %s diffs two 3,900-line recipes"
              % (time.monotonic() - t0, big[0], big[1]))

    rig = traced_spray_rig(before_lbld=make_record)
    load = None
    try:
        recipe, starts, first, kinds = spray_schedule(rig, "bench-readers", bilayers)
        print("step timing: %d spray/dry steps of 0.5-3 s a run, real time; quiet, then under "
              "20 readers" % len(starts))

        run_batch(rig, recipe)
        quiet = valve_on_times(rig.trace)
        stop = os.path.join(rig.dir, "stop")
        env = dict(os.environ, LBL_SOCKET=rig.socket)
        load = subprocess.Popen(["/usr/bin/python3", READERS, "load", "20", "3600", stop,
                                 os.path.join(BUILD, "lblctl"), big[0], big[1]], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2)
        run_batch(rig, recipe)
        open(stop, "w").close()
        done, errs = load.communicate(timeout=120)
        load = None
        busy = valve_on_times(rig.trace)[len(quiet):]
        print("start error |actual - planned| at the device (valve-on command):")
        figures = []
        for name, on in (("quiet", quiet), ("20 readers", busy)):
            e, n = errors(on[first:], starts[first:], kinds[first:])
            a = [abs(x) for x in e]
            figures.append(percentile(a, 99))
            print("  %-12s steps %4d   p50 %7.3f ms   p99 %7.3f ms   max %7.3f ms   drift %+8.3f ms"
                  % (name, n, percentile(a, 50), percentile(a, 99), max(a), e[-1]))
        print("  p99 under readers / quiet: %.2f" % (figures[1] / figures[0] if figures[0] else
                                                    float("nan")))
        print("readers meanwhile (completed, failed): %s" % done.strip())
        if errs.strip():
            print("reader errors: %s" % errs.strip()[:400])
    finally:
        if load is not None:
            load.kill()
            load.wait()
        rig.close()


if __name__ == "__main__":
    main()
