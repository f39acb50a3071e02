#!/usr/bin/python3
"""Step timing: lbld against the script a lab would write by hand.

A spray recipe of STEPS steps of 0.5 to 3 s runs on lbl-simrig over Modbus
TCP, driven by a real lbld; beside it, at the same time, a plain Python
script drives a second lbl-simrig through the same schedule with pymodbus and
time.sleep. Both are timed the same way, at the devices: lbl-simrig --trace
records when each valve-on command arrives, and each step's start error is
|actual - planned| relative to the first step; drift is the error of the last.
Goal for lbld: p99 under 2 ms and drift under 1 ms over the whole run.

make bench no longer runs this: bench_steps.py measures step timing three
ways over every step shape, each error from the batch's origin rather than
relative to a first step (which hides a constant latency). This stays for
bench_readers.py, which compares lbld with itself, quiet and under load.

    bench_timing.py [STEPS]        (default 2000: about 50 minutes)
"""
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import BUILD, Rig, percentile  # noqa: E402

# (solution or None for a dry step, spray/dry time s, drain s): 0.5 to 3 s steps
CYCLE = [("ag", 0.5, 0.5), ("rinse", 1.0, 1.0), (None, 0.5, 0), ("tca", 1.5, 1.5),
         ("rinse", 0.8, 0.7), (None, 1.0, 0)]


def fmt_s(seconds):
    return ("%.3f" % seconds).rstrip("0").rstrip(".") + "s"


def recipe_text(bilayers):
    lines = ["name: bench-timing", 'version: "1"', "process: spray",
             "substrate: {name: bench coupon, area: 25 cm2}",
             "target: {bilayers: %d}" % bilayers,
             "growth: {model: linear, per_bilayer: 7.8 nm}", "resume: forbidden",
             "solutions:",
             "  ag: {nozzle: ag, volume: 5 L}", "  tca: {nozzle: tca, volume: 5 L}",
             "  rinse: {nozzle: rinse, rinse: true, volume: 20 L}", "cycle:"]
    for solution, t, drain in CYCLE:
        if solution is None:
            lines.append("  - dry: {valve: n2, time: %s}" % fmt_s(t))
        else:
            lines.append("  - spray: {solution: %s, time: %s, flow: 20 mL/min, drain: %s}"
                         % (solution, fmt_s(t), fmt_s(drain)))
    return "\n".join(lines) + "\n"


def modbus_n2(text):
    # the N2 valve on a Modbus relay, so every step start is seen by the simulator
    out = []
    for line in text.splitlines():
        if line.strip().startswith("n2:"):
            line = "  n2: {role: valve, kind: valve, bus: relays, unit: 8, profile: generic-valve}"
        out.append(line)
    return "\n".join(out) + "\n"


def valve_on_times(trace):
    times = []
    for line in open(trace):
        # command lines are "NS DEVICE OP", value lines add the value
        ns, device, op = line.split()[:3]
        if op == "on":
            times.append(int(ns))
    return times


def errors(actual_ns, planned_ms, kinds):
    """|actual - planned| per step, each against the first step of its kind:
    a spray's valve opens after its pump starts, a dry step's at once, and
    that constant command latency is not a scheduling error."""
    n = min(len(actual_ns), len(planned_ms))
    first = {}
    errs = []
    for i in range(n):
        r = first.setdefault(kinds[i], i)
        errs.append((actual_ns[i] - actual_ns[r]) / 1e6 - (planned_ms[i] - planned_ms[r]))
    return errs, n


def traced_spray_rig(lbld_prefix=(), before_lbld=None):
    """The spray rig of this bench for the benches that run it beside
    something else (bench_readers, bench_web, bench_sync, bench_mqtt):
    lbl-simrig with a trace and a control socket, and lbld (under
    lbld_prefix, e.g. a real-time chrt) on it; before_lbld(rig), if given,
    is called first, while no lbld has the database. Returns the Rig;
    close it."""
    rig = Rig("spray-rig.yaml", time_scale=1, daemon=False, extra_rig=modbus_n2)
    try:
        if before_lbld is not None:
            before_lbld(rig)
        rig.sim.terminate()
        rig.sim.wait()
        rig.trace = os.path.join(rig.dir, "trace.txt")
        out = open(os.path.join(rig.dir, "simrig2.out"), "w")
        rig.sim = rig._spawn([os.path.join(BUILD, "lbl-simrig"), "--rig", rig.rig, "--trace",
                              rig.trace, "--control", rig.simctl_path], out, "simrig2.err")
        rig._wait(lambda: "ready" in open(os.path.join(rig.dir, "simrig2.out")).read(),
                  "lbl-simrig")
        rig.lbld = rig._spawn(list(lbld_prefix) + [os.path.join(BUILD, "lbld"), "--rig", rig.rig,
                                                   "--db", rig.db, "--socket", rig.socket,
                                                   "--gpio-sim", rig.gpio],
                              subprocess.DEVNULL, "lbld.err")
        rig._wait(lambda: rig.ctl("status").returncode == 0, "lbld")
    except BaseException:
        rig.close()
        raise
    return rig


def spray_schedule(rig, name, bilayers):
    """Writes this bench's spray recipe of bilayers as NAME.yaml in the rig's
    directory and plans it: (recipe path, the spray and dry steps' planned
    starts at the device in ms, the first of them not after travel, their
    kinds)."""
    recipe = os.path.join(rig.dir, name + ".yaml")
    open(recipe, "w").write(recipe_text(bilayers))
    plan = json.loads(rig.ctl("plan", recipe, "--rig", rig.rig, "--json").stdout)
    steps_plan = [s for s in plan["steps"] if s["step"] in ("spray", "dry")]
    starts = [s["start_ms"] + s["travel_ms"] for s in steps_plan]
    first = next(i for i, s in enumerate(steps_plan) if s["travel_ms"] == 0)
    kinds = [CYCLE[i % len(CYCLE)][0] for i in range(len(starts))]
    return recipe, starts, first, kinds


def run_batch(rig, recipe):
    """Runs recipe on rig as one batch and returns when lbld is idle again."""
    run = rig.ctl("run", recipe, "--operator", "bench")
    if run.returncode != 0:
        raise SystemExit("lbld refused the run: " + run.stderr)
    while "state: idle" not in rig.ctl("status").stdout:
        time.sleep(1)


def python_baseline(drives_port, relays_port, steps_plan, result):
    """What a lab writes by hand: do the I/O, then time.sleep the duration."""
    from pymodbus.client import ModbusTcpClient
    p = ModbusTcpClient("127.0.0.1", port=drives_port)    # pumps
    c = ModbusTcpClient("127.0.0.1", port=relays_port)    # valves
    p.connect()
    c.connect()
    units = {"ag": (2, 5), "tca": (3, 6), "rinse": (4, 7)}   # pump unit, valve unit
    for solution, t, drain in steps_plan:
        if solution is None:
            c.write_coil(0, True, slave=8)
            time.sleep(t)
            c.write_coil(0, False, slave=8)
            continue
        pump, valve = units[solution]
        p.write_registers(0, [2000, 0], slave=pump)
        p.write_register(2, 1, slave=pump)
        c.write_coil(0, True, slave=valve)
        time.sleep(t)
        c.write_coil(0, False, slave=valve)
        p.write_register(2, 0, slave=pump)
        time.sleep(drain)
    c.close()
    p.close()
    result.append(True)


def report(name, signed, n):
    """Figures of the absolute errors; drift is the signed error of the last step."""
    errs = [abs(e) for e in signed]
    print("  %-30s steps %5d   p50 %7.3f ms   p99 %7.3f ms   max %7.3f ms   drift %+8.3f ms"
          % (name, n, percentile(errs, 50), percentile(errs, 99), max(errs), signed[-1]))
    return percentile(errs, 99), abs(signed[-1])


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    bilayers = max(2, (steps + len(CYCLE) - 1) // len(CYCLE))
    lbl = Rig("spray-rig.yaml", time_scale=1, daemon=False, extra_rig=modbus_n2)
    base = Rig("spray-rig.yaml", time_scale=1, daemon=False, extra_rig=modbus_n2)
    try:
        # restart each simulator with a trace (the Rig helper starts them plain)
        for rig in (lbl, base):
            rig.sim.terminate()
            rig.sim.wait()
            rig.trace = os.path.join(rig.dir, "trace.txt")
            out = open(os.path.join(rig.dir, "simrig2.out"), "w")
            rig.sim = rig._spawn([os.path.join(BUILD, "lbl-simrig"), "--rig", rig.rig,
                                  "--trace", rig.trace, "--control", rig.simctl_path], out, "simrig2.err")
            rig._wait(lambda r=rig: "ready" in open(os.path.join(r.dir, "simrig2.out")).read(), "lbl-simrig")
        lbl.lbld = lbl._spawn([os.path.join(BUILD, "lbld"), "--rig", lbl.rig, "--db", lbl.db, "--socket",
                               lbl.socket, "--gpio-sim", lbl.gpio], subprocess.DEVNULL, "lbld.err")
        lbl._wait(lambda: lbl.ctl("status").returncode == 0, "lbld")
        recipe = os.path.join(lbl.dir, "bench-timing.yaml")
        open(recipe, "w").write(recipe_text(bilayers))
        plan = json.loads(lbl.ctl("plan", recipe, "--rig", lbl.rig, "--json").stdout)
        starts = [s["start_ms"] + s["travel_ms"] for s in plan["steps"] if s["step"] in ("spray", "dry")]
        travel = [s["travel_ms"] for s in plan["steps"] if s["step"] in ("spray", "dry")]
        first = next(i for i, t in enumerate(travel) if t == 0)   # skip the move to the booth
        plan_py = [CYCLE[i % len(CYCLE)] for i in range(len(starts))]
        t_py, acc = [], 0.0
        for solution, t, drain in plan_py:
            t_py.append(acc * 1000)
            acc += t + drain
        print("step timing: %d spray/dry steps of 0.5-3 s, real time, side by side (~%.0f min)"
              % (len(starts), acc / 60))
        done = []
        thread = threading.Thread(target=python_baseline, args=(base.ports[1504], base.ports[1503], plan_py, done))
        run = lbl.ctl("run", recipe, "--operator", "bench")
        if run.returncode != 0:
            raise SystemExit("lbld refused the run: " + run.stderr)
        thread.start()
        while True:
            status = lbl.ctl("status").stdout
            if "state: idle" in status:
                break
            time.sleep(1)
        thread.join()
        state = subprocess.run(["sqlite3", lbl.db, "select state from batches where id=1"],
                               stdout=subprocess.PIPE, text=True).stdout.strip()
        on_lbl = valve_on_times(lbl.trace)[first:]
        on_py = valve_on_times(base.trace)
        if os.environ.get("LBL_BENCH_DEBUG"):
            for i in range(min(12, len(on_lbl))):
                print("debug lbl step %d: actual %+.3f ms planned %+.3f ms" % (
                    i, (on_lbl[i] - on_lbl[0]) / 1e6, starts[first + i] - starts[first]))
        kinds = [CYCLE[i % len(CYCLE)][0] for i in range(len(starts))]
        e_lbl, n_lbl = errors(on_lbl, starts[first:], kinds[first:])
        e_py, n_py = errors(on_py, t_py, kinds)
        print("start error |actual - planned| at the device (valve-on command), batch %s:" % state)
        p99, drift = report("lbld (absolute deadlines)", e_lbl, n_lbl)
        report("python + time.sleep", e_py, n_py)
        print("  goal p99 < 2 ms: %s; drift < 1 ms: %s" % ("met" if p99 < 2 else "NOT met",
                                                          "met" if drift < 1 else "NOT met"))
        if os.environ.get("LBL_BENCH_DEBUG"):
            print(open(lbl.trace).read()[:3000])
    finally:
        lbl.close()
        base.close()


if __name__ == "__main__":
    main()
