#!/usr/bin/python3
"""Step timing with lbl-mqtt publishing, and lbl-mqtt's footprint (issue 20).

The spray recipe of bench_timing.py runs three times on lbl-simrig, STEPS
steps each, real time: without lbl-mqtt; with lbl-mqtt following lbld
(status --follow --json --events) and publishing to a private mosquitto on
a free loopback port, with Home Assistant discovery on and a subscriber
(mosquitto_sub) taking every message; and without it again (lbl-mqtt
stopped), so that a drift of the machine's load between runs shows as
such. Each step's start error is measured at the device as bench_timing.py
does; the runs' figures are printed side by side, with lbl-mqtt's resident
memory and threads (idle, most seen while publishing) and the messages the
subscriber got. Prints figures; asserts nothing.

    bench_mqtt.py [STEPS]       (default 120 per run: about 6 minutes in all)
    BENCH_RT=1 bench_mqtt.py    lbld at SCHED_FIFO 50, as its unit runs it
    bench_mqtt.py --follower [STEPS]
                                the middle run with lblctl status --follow --json
                                --events in lbl-mqtt's place (no broker): what
                                lbld's follower costs, apart from the bridge
"""
import os
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import BUILD, free_port, percentile  # noqa: E402
from bench_timing import (CYCLE, errors, run_batch, spray_schedule, traced_spray_rig,  # noqa: E402
                          valve_on_times)
from bench_web import proc_status  # noqa: E402
from bench_steps import RT_PREFIX  # noqa: E402


def main():
    args = sys.argv[1:]
    follower_only = bool(args) and args[0] == "--follower"
    if follower_only:
        args = args[1:]
    steps = int(args[0]) if args else 120
    bilayers = max(2, (steps + len(CYCLE) - 1) // len(CYCLE))
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(mosquitto) or not shutil.which("mosquitto_sub"):
        raise SystemExit("bench_mqtt: mosquitto and mosquitto-clients are needed (make deps)")
    rig = traced_spray_rig(RT_PREFIX)
    sub = None
    try:
        recipe, starts, first, kinds = spray_schedule(rig, "bench-mqtt", bilayers)
        print("step timing: %d spray/dry steps of 0.5-3 s a run, real time; without lbl-mqtt, "
              "then with it publishing to mosquitto; lbld %s" % (len(starts), "at SCHED_FIFO 50"
              if RT_PREFIX else "ordinary scheduling (BENCH_RT=1: real time, as its unit)"))

        run_batch(rig, recipe)
        quiet = valve_on_times(rig.trace)

        if follower_only:
            env = dict(os.environ, LBL_SOCKET=rig.socket)
            mqtt = subprocess.Popen([os.path.join(BUILD, "lblctl"), "status", "--follow",
                                     "--json", "--events"], env=env, stdout=subprocess.DEVNULL)
            time.sleep(1)
            run_batch(rig, recipe)
            busy = valve_on_times(rig.trace)[len(quiet):]
            mqtt.terminate()
            mqtt.wait()
            time.sleep(2)
            run_batch(rig, recipe)
            again = valve_on_times(rig.trace)[len(quiet) + len(busy):]
            print("start error |actual - planned| at the device (valve-on command):")
            for name, on in (("no follower", quiet), ("lblctl follows", busy),
                             ("none again", again)):
                e, n = errors(on[first:], starts[first:], kinds[first:])
                a = [abs(x) for x in e]
                print("  %-14s steps %4d   p50 %7.3f ms   p99 %7.3f ms   max %7.3f ms"
                      % (name, n, percentile(a, 50), percentile(a, 99), max(a)))
            return
        port = free_port()
        mconf = os.path.join(rig.dir, "mosquitto.conf")
        with open(mconf, "w") as f:
            f.write("persistence false\n%slistener %d 127.0.0.1\nallow_anonymous true\n"
                    % ("user root\n" if os.getuid() == 0 else "", port))
        mlog = os.path.join(rig.dir, "mosquitto.log")
        rig._spawn([mosquitto, "-c", mconf], open(mlog, "w"), "mosquitto.err")
        rig._wait(lambda: "Opening ipv4 listen socket on port %d" % port in
                  open(mlog).read() + open(os.path.join(rig.dir, "mosquitto.err")).read(),
                  "mosquitto")
        qconf = os.path.join(rig.dir, "mqtt.yaml")
        with open(qconf, "w") as f:
            f.write('broker: "127.0.0.1:%d"\nrig: bench\ndiscovery: true\n' % port)
        qout = os.path.join(rig.dir, "mqtt.out")
        mqtt = rig._spawn([os.path.join(BUILD, "lbl-mqtt"), "--config", qconf, "--socket",
                           rig.socket], open(qout, "w"), "mqtt.err")
        rig._wait(lambda: "ready" in open(qout).read(), "lbl-mqtt")
        messages = os.path.join(rig.dir, "messages")
        sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1",
                                "-v", "-t", "lbl/#", "-t", "homeassistant/#"],
                               stdout=open(messages, "w"), stderr=subprocess.DEVNULL)
        time.sleep(2)
        idle_rss, idle_threads = proc_status(mqtt.pid)
        peak = [0, 0]
        stop = [False]

        def sample():
            while not stop[0]:
                rss, threads = proc_status(mqtt.pid)
                peak[0], peak[1] = max(peak[0], rss), max(peak[1], threads)
                time.sleep(0.5)
        sampler = threading.Thread(target=sample)
        sampler.start()
        run_batch(rig, recipe)
        time.sleep(2)
        stop[0] = True
        sampler.join()
        busy = valve_on_times(rig.trace)[len(quiet):]
        mqtt.terminate()
        mqtt.wait()
        time.sleep(2)
        run_batch(rig, recipe)
        again = valve_on_times(rig.trace)[len(quiet) + len(busy):]
        print("start error |actual - planned| at the device (valve-on command):")
        figures = []
        for name, on in (("no lbl-mqtt", quiet), ("lbl-mqtt", busy), ("none again", again)):
            e, n = errors(on[first:], starts[first:], kinds[first:])
            a = [abs(x) for x in e]
            figures.append(percentile(a, 99))
            print("  %-12s steps %4d   p50 %7.3f ms   p99 %7.3f ms   max %7.3f ms   drift %+8.3f ms"
                  % (name, n, percentile(a, 50), percentile(a, 99), max(a), e[-1]))
        base = (figures[0] + figures[2]) / 2
        print("  p99 with lbl-mqtt / without (the mean of the runs before and after): %.2f"
              % (figures[1] / base if base else float("nan")))
        lines = open(messages, errors="replace").read().splitlines()
        status = sum(1 for l in lines if l.startswith("lbl/bench/status "))
        events = sum(1 for l in lines if l.startswith("lbl/bench/event "))
        print("lbl-mqtt: idle %.1f MB, %d threads; publishing at most %.1f MB, %d threads; "
              "the subscriber got %d status and %d event messages"
              % (idle_rss / 1024, idle_threads, peak[0] / 1024, peak[1], status, events))
    finally:
        if sub is not None:
            sub.terminate()
            sub.wait()
        rig.close()


if __name__ == "__main__":
    main()
