#!/usr/bin/python3
"""Step timing and lbl-web's footprint with 50 browsers following (issue 19).

The spray recipe of bench_timing.py runs twice on lbl-simrig, STEPS steps
each, real time: once with lbl-web idle, once with 50 clients following
lbl-web's event stream (/api/v1/events, as 50 open rig pages do) and reading
every event. Each step's start error is measured at the device as
bench_timing.py does; both runs' figures are printed side by side, with
lbl-web's resident memory and threads (most seen while the 50 follow) and
the events they got. Prints figures; asserts nothing.

    bench_web.py [STEPS]       (default 120 per run: about 4 minutes in all)
"""
import os
import selectors
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import BUILD, free_port, percentile  # noqa: E402
from bench_timing import (CYCLE, errors, run_batch, spray_schedule, traced_spray_rig,  # noqa: E402
                          valve_on_times)

BROWSERS = 50


def proc_status(pid):
    f = {}
    for line in open("/proc/%d/status" % pid):
        k, v = line.split(":", 1)
        f[k] = (v.split() or [""])[0]
    return int(f["VmRSS"]), int(f["Threads"])


class Followers:
    """BROWSERS event streams, read on one thread; counts the events."""

    def __init__(self, port):
        self.sel = selectors.DefaultSelector()
        self.events = 0
        self.stop = False
        self.socks = []
        for i in range(BROWSERS):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ)
            self.socks.append(s)
        self.thread = threading.Thread(target=self.read)
        self.thread.start()

    def read(self):
        while not self.stop:
            for key, _ in self.sel.select(0.2):
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                self.events += data.count(b"event: status")

    def close(self):
        self.stop = True
        self.thread.join()
        for s in self.socks:
            s.close()


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 120
    bilayers = max(2, (steps + len(CYCLE) - 1) // len(CYCLE))
    rig = traced_spray_rig()
    followers = None
    try:
        port = free_port()
        conf = os.path.join(rig.dir, "web.yaml")
        open(conf, "w").write('listen: "127.0.0.1:%d"\nsocket: %s\n' % (port, rig.socket))
        web_out = os.path.join(rig.dir, "web.out")
        web = rig._spawn([os.path.join(BUILD, "lbl-web"), "--config", conf], open(web_out, "w"),
                         "web.err")
        rig._wait(lambda: "ready" in open(web_out).read(), "lbl-web")
        recipe, starts, first, kinds = spray_schedule(rig, "bench-web", bilayers)
        print("step timing: %d spray/dry steps of 0.5-3 s a run, real time; lbl-web idle, then "
              "%d browsers following it" % (len(starts), BROWSERS))

        idle_rss, idle_threads = proc_status(web.pid)
        run_batch(rig, recipe)
        quiet = valve_on_times(rig.trace)
        followers = Followers(port)
        peak = [0, 0]

        def sample():
            while not followers.stop:
                rss, threads = proc_status(web.pid)
                peak[0], peak[1] = max(peak[0], rss), max(peak[1], threads)
                time.sleep(0.5)
        sampler = threading.Thread(target=sample)
        sampler.start()
        time.sleep(2)
        run_batch(rig, recipe)
        followers.close()
        sampler.join()
        got = followers.events
        followers = None
        busy = valve_on_times(rig.trace)[len(quiet):]
        print("start error |actual - planned| at the device (valve-on command):")
        figures = []
        for name, on in (("quiet", quiet), ("%d browsers" % BROWSERS, busy)):
            e, n = errors(on[first:], starts[first:], kinds[first:])
            a = [abs(x) for x in e]
            figures.append(percentile(a, 99))
            print("  %-12s steps %4d   p50 %7.3f ms   p99 %7.3f ms   max %7.3f ms   drift %+8.3f ms"
                  % (name, n, percentile(a, 50), percentile(a, 99), max(a), e[-1]))
        print("  p99 with browsers / quiet: %.2f" % (figures[1] / figures[0] if figures[0] else
                                                    float("nan")))
        time.sleep(3)
        after_rss, after_threads = proc_status(web.pid)
        print("lbl-web: idle %.1f MB, %d threads; with %d browsers at most %.1f MB, %d threads; "
              "after %.1f MB, %d threads" % (idle_rss / 1024, idle_threads, BROWSERS,
                                             peak[0] / 1024, peak[1], after_rss / 1024,
                                             after_threads))
        print("events the browsers got: %d (%.0f each)" % (got, got / BROWSERS))
    finally:
        if followers is not None:
            followers.close()
        rig.close()


if __name__ == "__main__":
    main()
