#!/usr/bin/python3
"""Step timing, three ways, at the device: lbld against a plain Python
script (time.sleep after each step's I/O) and a careful one (pymodbus,
absolute deadlines from the batch's origin slept to with clock_nanosleep
TIMER_ABSTIME, every command prepared before the run), on one schedule.

The schedule mixes every step shape: on a spray rig, sprays with and
without a drain, dry steps, set + wait sequences (valve and pump); on a dip
rig, dips and quick-dip rinses with their moves, dry steps at the dryer,
set + wait. Steps run from the rig's shortest (COMPILE_MIN_STEP_MS, 100 ms)
to 3 s. Each contestant drives its own lbl-simrig with --trace, which stamps
each command (go, run, on, off, stop) on CLOCK_MONOTONIC as it reaches the
device: on TCP the kernel's receive stamp of the request (SO_TIMESTAMPNS),
so the simulator's own wake-up is not counted against the contestant; on
RTU when its last character and the silence after it would have passed
the emulated line. A step's start error is the arrival of its first command against
origin + the step's planned start (lblctl plan --json), the origin being
where the contestant's schedule begins: lbld's own (lbld -d logs it), the
Python loops' t0. Nothing is measured relative to another step and no
constant is subtracted. Drift is the signed error of the last step.

Transports: Modbus TCP on loopback, and every Modbus device of the rig on
one RTU bus over a socat pty pair, which lbl-simrig gives a real line's
wire time at the bus's baud rate (19,200 and 115,200 by default). On RTU
the trace also has a line per frame on the wire, from which the bus's
utilisation comes: the fraction of the batch the line carried frames,
and the part of it that was reads (polls and readbacks: an axis's arrival,
and the supervision polls lbld may add).

    bench_steps.py [STEPS]   STEPS measured steps per transport, half on
                             each rig (default 2000; BENCH_STEPS also sets it)

Environment: BENCH_TRANSPORTS (default "tcp rtu19200 rtu115200"),
BENCH_POLL_PERIOD (e.g. 60s: lbld's supervision polls every Modbus device
only that often, to measure what polling costs the timed commands),
BENCH_SERIAL=1 to run the transports one after another (default: all at
once, each contestant on its own simulator, to keep the full run near 25
minutes), BENCH_RT=1 to run the three contestants SCHED_FIFO 50 where
granted, as lbld's unit runs lbld, and their simulators and socat alike (a
real device and line are not held up by the machine's other work: without
it a pty's simulator lagged a loaded machine by up to half a second; for
one transport at a time), BENCH_CONTESTANTS (default "lbld careful plain";
fewer, e.g. "lbld", to diagnose one), BENCH_FLOOR_S (default 20: how long
the machine's own floor is measured before the runs, a sleeper's wake and a
spinner's lost CPU, under the contestants' scheduling; 0 skips it),
LBL_BUILD, LBL_KEEP_TMP=1 to keep the work directory.
Exit status 0 when every contestant finished and every command was
matched to the plan; figures are printed, never judged (goals are shown).
"""
import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (BUILD, TOP, lblctl, percentile, spawn, stop,  # noqa: E402
                      wait_until, with_free_ports)

TRIGGERS = ("go", "home", "stop", "run", "on", "off")
CONTESTANTS = tuple(os.environ.get("BENCH_CONTESTANTS", "lbld careful plain").split())


def rt_prefix():
    """What the contestants are started under: SCHED_FIFO 50, as lbld's unit
    runs lbld (CPUScheduling*=), for the Python loops alike, where the
    machine grants it, with BENCH_RT=1 (default: ordinary scheduling). Their
    simulators and socat get it too: a device is its own hardware, which
    the machine's other work does not delay. They wait for I/O nearly all
    the time; still, BENCH_RT=1 is for one transport at a time."""
    if os.environ.get("BENCH_RT", "0") != "1" or not shutil.which("chrt"):
        return []
    try:
        if subprocess.run(["chrt", "-f", "50", "true"], stderr=subprocess.DEVNULL).returncode:
            return []
    except OSError:
        return []
    return ["chrt", "-f", "50"]


RT_PREFIX = rt_prefix()
TITLES = {"lbld": "lbld", "careful": "careful Python", "plain": "plain time.sleep"}

# One cycle (bilayer) of each rig's recipe: every step shape, 100 ms to 3 s.
SPRAY_CYCLE = """\
  - spray: {solution: ag, time: 50ms, flow: 20 mL/min, drain: 50ms}
  - spray: {solution: rinse, time: 100ms, flow: 30 mL/min}
  - set: {output: n2, value: on}
  - wait: 150ms
  - set: {output: n2, value: off}
  - spray: {solution: tca, time: 1s, flow: 20 mL/min, drain: 500ms}
  - spray: {solution: rinse, time: 300ms, flow: 30 mL/min}
  - dry: {valve: n2, time: 200ms}
  - set: {output: pump-ag, value: 30 mL/min}
  - wait: 3s
  - set: {output: pump-ag, value: off}
  - spray: {solution: ag, time: 2s, flow: 20 mL/min, drain: 1s}
  - spray: {solution: rinse, time: 150ms, flow: 30 mL/min, drain: 100ms}
  - dry: {valve: n2, time: 100ms}
"""
SPRAY_HEAD = """\
name: bench-spray
version: "1"
process: spray
substrate: {name: bench coupon, area: 25 cm2}
target: {bilayers: %d}
growth: {model: linear, per_bilayer: 7.8 nm}
resume: forbidden
solutions:
  ag: {nozzle: ag, volume: 50 L}
  tca: {nozzle: tca, volume: 50 L}
  rinse: {nozzle: rinse, rinse: true, volume: 200 L}
cycle:
"""
DIP_CYCLE = """\
  - dip: {solution: ag, dwell: 200ms, speed_in: 100 mm/s, speed_out: 100 mm/s, depth: 5 mm, drip: 100ms}
  - rinse: {solution: rinse, dwell: 100ms, depth: 5 mm, quick_dips: 2, drip: 100ms}
  - dry: {valve: n2, station: dryer, time: 300ms}
  - set: {output: n2, value: on}
  - wait: 100ms
  - set: {output: n2, value: off}
  - dip: {solution: tca, dwell: 1s, depth: 5 mm, drip: 500ms}
  - rinse: {solution: rinse, dwell: 300ms, depth: 5 mm, drip: 200ms}
  - wait: 1s
"""
DIP_HEAD = """\
name: bench-dip
version: "1"
process: dip
substrate: {name: bench coupon, area: 8 cm2}
target: {bilayers: %d}
growth: {model: linear, per_bilayer: 7.8 nm}
resume: forbidden
solutions:
  ag: {station: ag, volume: 200 mL}
  tca: {station: tca, volume: 200 mL}
  rinse: {station: rinse-2, rinse: true, volume: 250 mL}
cycle:
"""


# --- rigs ---------------------------------------------------------------------

def rig_texts(kind, transport, sim_dev, ctl_dev):
    """The rig file for lbl-simrig and for the contestant: the example rig with
    the N2 valve on Modbus (so its commands are traced too), faster axes on the
    dip rig (short moves), and, for RTU, every Modbus device on one line."""
    if kind == "spray":
        text = open(os.path.join(TOP, "hw", "examples", "spray-rig.yaml")).read()
        text = re.sub(r"(?m)^  n2: .*$",
                      "  n2: {role: valve, kind: valve, bus: relays, unit: 8, profile: generic-valve}", text)
    else:
        text = open(os.path.join(TOP, "hw", "examples", "dip-rig.yaml")).read()
        text = re.sub(r"(?m)^  n2: .*$",
                      "  n2: {role: valve, kind: valve, bus: gateway, unit: 9, profile: generic-valve}", text)
        text = text.replace("    max_speed: 200 mm/s\n    max_accel: 1000 mm/s2",
                            "    max_speed: 1000 mm/s\n    max_accel: 10000 mm/s2")
        text = text.replace("    max_speed: 50 mm/s\n    max_accel: 500 mm/s2",
                            "    max_speed: 200 mm/s\n    max_accel: 4000 mm/s2")
    if transport == "tcp":
        text = with_free_ports(text)[0]
        return text, text
    baud = int(transport[3:])
    lines, out, in_buses = text.splitlines(), [], False
    for line in lines:
        if line.startswith("buses:"):
            out.append(line)
            out.append("  line: {type: rtu, device: @DEV@, baud: %d, timeout: 500ms, retries: 2}" % baud)
            in_buses = True
            continue
        if in_buses:
            if line.startswith("  ") or not line.strip():
                continue
            in_buses = False
        out.append(re.sub(r"\bbus: *[A-Za-z0-9_-]+", "bus: line", line))
    text = "\n".join(out) + "\n"
    return text.replace("@DEV@", sim_dev), text.replace("@DEV@", ctl_dev)


def with_poll_period(text, period):
    """The rig with every Modbus device but inputs polled every period while
    a batch runs (lbld's supervision; BENCH_POLL_PERIOD=60s all but turns it
    off, to see what polling costs the timed commands)."""
    out, block = [], None
    for line in text.splitlines():
        m = re.match(r"^  ([\w-]+): \{(.*)\}\s*$", line)
        if m and "bus:" in m.group(2) and "role: input" not in m.group(2):
            line = "  %s: {%s, poll_period: %s}" % (m.group(1), m.group(2), period)
        if re.match(r"^  [\w-]+:\s*$", line):
            block = []
        if block is not None and re.match(r"^    role: *(\w+)", line):
            block.append(re.match(r"^    role: *(\w+)", line).group(1))
        out.append(line)
        if block is not None and re.match(r"^    bus: ", line) and "input" not in block:
            out.append("    poll_period: %s" % period)
    return "\n".join(out) + "\n"


# The shortest steps a rig is asked for: first COMPILE_MIN_STEP_MS; a rig
# whose buses cannot keep a step that short (a slow RTU line) refuses it at
# check time, naming the shortest it keeps, and the schedule is stretched to
# that figure (once), steps that end in their dwell to twice it.
FLOORS_MS = (100,)
SHORTEST = re.compile(r"the shortest step that keeps its deadline is (\d+) ms")
DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s)\b")


def stretch(cycle, floor_ms):
    """The cycle with each step whose dwell and drip are shorter than floor_ms
    stretched to it (its durations in proportion; a dip's moves come on
    top). A step that ends in its dwell (a spray without a drain, a dry
    step) is stretched to twice a rig's own figure, the shortest such a rig
    keeps (README "The shortest step": its dwell gives up half the share a
    drain does, a twentieth, so that the exposure stays whole)."""
    out = []
    for line in cycle.splitlines():
        ms = [float(v) * (1 if u == "ms" else 1000) for v, u in DURATION.findall(line)]
        kind = line.split(":")[0].strip("- ")
        want = floor_ms
        if floor_ms > FLOORS_MS[0] and (kind == "dry" or (kind == "spray" and "drain:" not in line)):
            want = 2 * floor_ms
        if kind in ("spray", "dry", "wait", "dip", "rinse") and 0 < sum(ms) < want:
            k = want / sum(ms)
            line = DURATION.sub(lambda m: "%dms" % round(
                float(m.group(1)) * (1 if m.group(2) == "ms" else 1000) * k), line)
        out.append(line)
    return "\n".join(out) + "\n"


def recipe_text(kind, steps, floor_ms=FLOORS_MS[0]):
    """A recipe of about STEPS measured steps (steps that command the rig)."""
    cycle = stretch(SPRAY_CYCLE if kind == "spray" else DIP_CYCLE, floor_ms)
    per = sum(1 for line in cycle.splitlines() if "wait:" not in line.split("{")[0])
    bilayers = max(1, int(round(steps / float(per))))
    head = SPRAY_HEAD if kind == "spray" else DIP_HEAD
    return head % bilayers + cycle


# --- device commands (the built-in generic profiles) ---------------------------

def device_table(rig_text):
    """Device name -> (unit, profile), for the Modbus devices of the rig."""
    import yaml
    doc = yaml.safe_load(rig_text)
    return {name: (d["unit"], d["profile"]) for name, d in doc["devices"].items()
            if "bus" in d}


def encode(devices, device, op, value):
    """One Modbus write for a plan action: (unit, fc, address, payload)."""
    if device not in devices:
        raise SystemExit("bench_steps: device '%s' is not on Modbus" % device)
    unit, profile = devices[device]
    if profile == "generic-valve" and op in ("on", "off"):
        return (unit, 5, 0, op == "on")
    if profile == "generic-drive":
        if op == "target":
            raw = int(round(value / 0.001)) & 0xFFFFFFFF
            return (unit, 16, 0, [raw >> 16, raw & 0xFFFF])
        table = {"speed": (2, None), "go": (4, 1), "home": (4, 2), "stop": (4, 3)}
        if op in table:
            addr, cmd = table[op]
            return (unit, 6, addr, cmd if cmd is not None else int(round(value / 0.1)))
    if profile in ("generic-pump", "generic-stirrer"):
        table = {"flow": (0, None, 0.01), "rpm": (0, None, 1), "direction": (1, None, 1),
                 "run": (2, 1, 1), "stop": (2, 0, 1)}
        if op in table:
            addr, cmd, scale = table[op]
            return (unit, 6, addr, cmd if cmd is not None else int(round(value / scale)))
    raise SystemExit("bench_steps: no encoding for %s %s (profile %s)" % (device, op, profile))


def prepare(plan, devices):
    """Each plan step as what a script sends: ("w", unit, fc, addr, payload),
    ("arrive", unit, target_mm) after an axis's go, ("dwell", ms), ("wait", ms)."""
    out = []
    for s in plan["steps"]:
        ops, target = [], {}
        for a in s.get("actions", []):
            op = a["op"]
            if op in ("dwell", "wait"):
                ops.append((op, a["ms"]))
            elif op == "prompt":
                raise SystemExit("bench_steps: the schedule has a prompt")
            elif op == "read":
                continue
            else:
                if op == "target":
                    target[a["device"]] = a["value"]
                ops.append(("w",) + encode(devices, a["device"], op, a.get("value")))
                if op == "go":
                    ops.append(("arrive", devices[a["device"]][0], target.get(a["device"])))
        out.append((s["start_ms"], s["duration_ms"], ops))
    return out


# --- the Python contestants (each its own process) -----------------------------

class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


_libc = ctypes.CDLL("libc.so.6", use_errno=True)
CLOCK_MONOTONIC, TIMER_ABSTIME = 1, 1


def sleep_until_ns(deadline_ns):
    """clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME): no drift from
    computing a relative time; returns at once for a deadline past."""
    ts = _Timespec(deadline_ns // 1000000000, deadline_ns % 1000000000)
    while True:
        rc = _libc.clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, ctypes.byref(ts), None)
        if rc == 0:
            return
        if rc != 4:     # EINTR: sleep on to the same deadline
            raise OSError(rc, "clock_nanosleep")


def floor_main(args):
    """bench_steps.py --floor SECONDS: what this machine lets any process do,
    run under the contestants' scheduling. First a sleeper: absolute
    deadlines every 7-11 ms slept to with clock_nanosleep, as the careful
    loop and lbld's threads sleep; its wake's lateness. Then a spinner,
    reading the clock without a pause: how often, and for how long at
    most, it did not run for more than 0.5 ms (a virtual machine's host
    taking the CPU away: spinning cannot beat that). Prints one JSON line."""
    seconds = float(args[0])
    late, t = [], time.monotonic_ns() + 10000000
    end = t + int(seconds / 2 * 1e9)
    i = 0
    while t < end:
        t += 7000000 + (i % 5) * 1000000
        i += 1
        sleep_until_ns(t)
        late.append((time.monotonic_ns() - t) / 1e6)
    gaps, worst, now = 0, 0, time.monotonic_ns()
    end, prev = now + int(seconds / 2 * 1e9), now
    while prev < end:
        now = time.monotonic_ns()
        if now - prev > 500000:
            gaps += 1
            worst = max(worst, now - prev)
        prev = now
    late.sort()
    print(json.dumps({"sleeps": len(late), "p50": percentile(late, 50), "p99": percentile(late, 99),
                      "max": late[-1], "gaps_per_s": gaps / (seconds / 2), "gap_max": worst / 1e6}))


def machine_floor(seconds):
    """floor_main's figures in a process of its own, or None."""
    try:
        out = subprocess.run(RT_PREFIX + [sys.executable, os.path.abspath(__file__), "--floor",
                                          str(seconds)], capture_output=True, text=True,
                             timeout=seconds + 30).stdout
        return json.loads(out.strip().splitlines()[-1])
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return None


def contestant_main(args):
    """bench_steps.py --contestant careful|plain RIG PLAN_JSON TRANSPORT DEVICE OUT_JSON"""
    how, rig_path, plan_path, transport, dev, out_path = args
    from pymodbus.client import ModbusSerialClient, ModbusTcpClient
    rig_text = open(rig_path).read()
    devices = device_table(rig_text)
    steps = prepare(json.load(open(plan_path)), devices)
    if transport == "tcp":
        import yaml
        buses = yaml.safe_load(rig_text)["buses"]
        clients = {}
        for name, b in buses.items():
            clients[name] = ModbusTcpClient("127.0.0.1", port=b["port"], timeout=1)
        by_unit = {}
        for name, d in yaml.safe_load(rig_text)["devices"].items():
            if "bus" in d:
                by_unit[d["unit"]] = clients[d["bus"]]
    else:
        c = ModbusSerialClient(port=dev, baudrate=int(transport[3:]), timeout=1)
        clients = {"line": c}
        by_unit = {u: c for u, _ in devices.values()}
    for c in clients.values():
        if not c.connect():
            raise SystemExit("bench_steps %s: cannot connect" % how)

    # the calls, bound before the run: a step only calls them
    def bind(op):
        unit, fc, addr, payload = op[1:]
        c = by_unit[unit]
        f = {5: c.write_coil, 6: c.write_register, 16: c.write_registers}[fc]
        return lambda: f(addr, payload, slave=unit)
    prepared = []
    for start_ms, duration_ms, ops in steps:
        p = []
        for i, op in enumerate(ops):
            if op[0] == "w":
                p.append(("w", bind(op)))
            elif op[0] == "arrive":
                p.append(("arrive", by_unit[op[1]], op[1], op[2]))
            else:
                p.append((op[0], op[1] * 1000000, i == len(ops) - 1))
        prepared.append((start_ms * 1000000, (start_ms + duration_ms) * 1000000, p))

    def check(r, what):
        if r is None or r.isError():
            raise SystemExit("bench_steps %s: %s: %s" % (how, what, r))

    def arrive(c, unit, target_mm):
        give_up = time.monotonic() + 30
        while True:
            r = c.read_input_registers(0, 3, slave=unit)
            check(r, "unit %d status" % unit)
            pos = ((r.registers[0] << 16 | r.registers[1]) ^ 0x80000000) - 0x80000000
            busy, inpos = r.registers[2] & 1, r.registers[2] & 2
            if inpos and not busy and (target_mm is None or abs(pos * 0.001 - target_mm) < 0.5):
                return
            if time.monotonic() > give_up:
                raise SystemExit("bench_steps %s: unit %d never arrived" % (how, unit))
            time.sleep(0.002)

    careful = how == "careful"
    t0 = time.monotonic_ns()
    for start_ns, end_ns, ops in prepared:
        if careful:
            sleep_until_ns(t0 + start_ns)
        last = time.monotonic_ns()
        for op in ops:
            if op[0] == "w":
                check(op[1](), "a write")
                last = time.monotonic_ns()
            elif op[0] == "arrive":
                arrive(op[1], op[2], op[3])
                last = time.monotonic_ns()
            elif not careful:
                time.sleep(op[1] / 1e9)
            elif op[0] == "wait" and op[2]:
                sleep_until_ns(t0 + end_ns)     # the step's last wait ends on its deadline
            else:
                sleep_until_ns(last + op[1])    # a dwell times an exposure from its start
                last = time.monotonic_ns()
    for c in clients.values():
        c.close()
    json.dump({"origin_ns": t0, "end_ns": time.monotonic_ns()}, open(out_path, "w"))


# --- one contestant on one rig and transport ----------------------------------

class Lane:
    """A contestant's run of one recipe: its simulator (and pty pair), then
    lbld or a Python loop, in a private directory."""

    def __init__(self, work, transport, who, kind, steps):
        self.transport, self.who, self.kind = transport, who, kind
        self.dir = os.path.join(work, "%s-%s-%s" % (transport, who, kind))
        os.mkdir(self.dir)
        self.procs = []
        self.error = None
        self.steps = steps

    def spawn(self, argv, name, rt=False):
        return spawn(self.procs, (RT_PREFIX if rt else []) + argv,
                     open(os.path.join(self.dir, name + ".out"), "w"),
                     os.path.join(self.dir, name + ".err"))

    def wait_for(self, cond, what, seconds=20):
        if not wait_until(cond, seconds):
            raise RuntimeError("%s did not start (see %s)" % (what, self.dir))

    def ctl(self, *args):
        return lblctl(os.path.join(self.dir, "lbld.sock"), *args)

    def setup(self):
        sim_dev = os.path.join(self.dir, "sim.pty")
        ctl_dev = os.path.join(self.dir, "ctl.pty")
        if self.transport != "tcp":
            self.spawn(["socat", "pty,raw,echo=0,link=" + sim_dev,
                        "pty,raw,echo=0,link=" + ctl_dev], "socat", rt=True)
            self.wait_for(lambda: os.path.exists(ctl_dev) and os.path.exists(sim_dev), "socat")
        sim_text, ctl_text = rig_texts(self.kind, self.transport, sim_dev, ctl_dev)
        self.sim_rig = os.path.join(self.dir, "sim-rig.yaml")
        self.rig = os.path.join(self.dir, "rig.yaml")
        open(self.sim_rig, "w").write(sim_text)
        if self.who == "lbld" and os.environ.get("BENCH_POLL_PERIOD"):
            ctl_text = with_poll_period(ctl_text, os.environ["BENCH_POLL_PERIOD"])
        open(self.rig, "w").write(ctl_text)
        self.ctl_dev = ctl_dev
        self.trace = os.path.join(self.dir, "trace.txt")
        self.spawn([os.path.join(BUILD, "lbl-simrig"), "--rig", self.sim_rig, "--trace",
                    self.trace], "simrig", rt=True)
        self.wait_for(lambda: "ready" in open(os.path.join(self.dir, "simrig.out")).read(),
                      "lbl-simrig")
        self.recipe = os.path.join(self.dir, "recipe.yaml")
        self.floor_ms = FLOORS_MS[0]
        for attempt in range(2):
            open(self.recipe, "w").write(recipe_text(self.kind, self.steps, self.floor_ms))
            r = self.ctl("plan", self.recipe, "--rig", self.rig, "--json")
            m = SHORTEST.search(r.stderr)
            if r.returncode == 0 or m is None or attempt == 1:
                break
            self.floor_ms = int(m.group(1))
        if r.returncode != 0:
            raise RuntimeError("lblctl plan refused the schedule, its shortest steps "
                               "stretched to %d ms: %s" % (self.floor_ms, r.stderr.strip()))
        self.plan_path = os.path.join(self.dir, "plan.json")
        open(self.plan_path, "w").write(r.stdout)
        self.plan = json.loads(r.stdout)

    def run(self):
        try:
            self.setup()
            if self.who == "lbld":
                self.run_lbld()
            else:
                self.run_python()
        except (RuntimeError, OSError, ValueError) as e:
            self.error = str(e)
        finally:
            self.close()

    def run_lbld(self):
        os.mkdir(os.path.join(self.dir, "gpio"))
        self.spawn([os.path.join(BUILD, "lbld"), "-d", "--rig", self.rig, "--db",
                    os.path.join(self.dir, "lbl.db"), "--socket", os.path.join(self.dir, "lbld.sock"),
                    "--gpio-sim", os.path.join(self.dir, "gpio")], "lbld", rt=True)
        self.wait_for(lambda: self.ctl("status").returncode == 0, "lbld")
        r = self.ctl("run", self.recipe, "--operator", "bench", "--wait")
        if r.returncode != 0:
            raise RuntimeError("lbld's batch: " + (r.stdout + r.stderr).strip()[-400:])
        m = re.findall(r"schedule's origin is (\d+) ns", open(os.path.join(self.dir, "lbld.err")).read())
        if len(m) != 1:
            raise RuntimeError("lbld -d logged %d schedule origins, not 1" % len(m))
        self.origin_ns = int(m[0])
        self.end_ns = time.monotonic_ns()

    def run_python(self):
        out = os.path.join(self.dir, "result.json")
        p = self.spawn(["/usr/bin/python3", os.path.abspath(__file__), "--contestant", self.who,
                        self.rig, self.plan_path, self.transport, self.ctl_dev, out], "loop",
                       rt=True)
        if p.wait() != 0:
            raise RuntimeError("the %s loop failed: %s" % (
                self.who, open(os.path.join(self.dir, "loop.err")).read().strip()[-400:]))
        r = json.load(open(out))
        self.origin_ns, self.end_ns = r["origin_ns"], r["end_ns"]

    def close(self):
        # last started first: lbld makes the rig safe while its simulator still answers
        stop(self.procs, 10, in_turn=True)

    def measure(self):
        """Signed start errors (ms) of the steps that command the rig, and the
        line's utilisation: (busy fraction, reads' part of it) or None (TCP)."""
        want = {}           # device -> [(op, step index or None)], in plan order
        first_of = []       # per measured step: its planned start (ms)
        for i, s in enumerate(self.plan["steps"]):
            first = True
            for a in s.get("actions", []):
                if a.get("device") is None or a["op"] not in TRIGGERS:
                    continue
                want.setdefault(a["device"], []).append((a["op"], len(first_of) if first else None))
                if first:
                    first_of.append(s["start_ms"])
                    first = False
        got, wire = {}, []
        for line in open(self.trace):
            f = line.split()
            # only the batch: lbld makes the rig safe before it and when stopped after it
            if len(f) < 3 or not self.origin_ns <= int(f[0]) <= self.end_ns:
                continue
            if f[2] in TRIGGERS:
                got.setdefault(f[1], []).append((f[2], int(f[0])))
            elif len(f) >= 6 and f[2] == "wire":
                wire.append((int(f[0]), int(f[3]), int(f[5])))
        # Each device's planned commands, in order, in its traced ones. lbld
        # also makes the rig safe (stop, off) as a batch starts and ends, and
        # these can land inside the batch on a slow line: such extras are
        # skipped and counted; any other difference is an error.
        actual = [None] * len(first_of)
        self.extras = 0
        for dev in sorted(set(want) | set(got)):
            w, g, j = want.get(dev, []), got.get(dev, []), 0
            for op, k in w:
                while j < len(g) and g[j][0] != op and g[j][0] in ("stop", "off"):
                    j += 1
                    self.extras += 1
                if j == len(g) or g[j][0] != op:
                    raise RuntimeError("%s: %s's trace does not match the plan (%d commands "
                                       "planned, %d traced; planned command %d, %s, not found)"
                                       % (self.dir, dev, len(w), len(g), j + 1, op))
                if k is not None:
                    actual[k] = g[j][1]
                j += 1
            if any(op not in ("stop", "off") for op, _ in g[j:]):
                raise RuntimeError("%s: %s was told %s beyond the plan" % (self.dir, dev, g[j][0]))
            self.extras += len(g) - j
        errs = [(actual[k] - self.origin_ns) / 1e6 - first_of[k] for k in range(len(first_of))]
        self.detail = [(self.plan["steps"][i]["seq"], self.plan["steps"][i]["step"])
                       for i, s in enumerate(self.plan["steps"])
                       if any(a.get("device") and a["op"] in TRIGGERS for a in s.get("actions", []))]
        util = None
        if wire:
            # the batch as it ran, which a contestant off its schedule makes longer or shorter
            span = self.end_ns - self.origin_ns
            busy = sum(b for t, b, fc in wire)
            reads = sum(b for t, b, fc in wire if fc in (1, 2, 3, 4))
            util = (busy, reads, span)
        return errs, util


def transaction_ms(baud):
    """The ideal time of one write-single-register transaction on an 8N1
    line: 8 characters each way and the silence after each frame."""
    char = 10.0 / baud * 1000
    silence = 1.75 if baud > 19200 else 3.5 * char
    return 2 * (8 * char + silence)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--contestant":
        contestant_main(sys.argv[2:])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--floor":
        floor_main(sys.argv[2:])
        return
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("BENCH_STEPS", "2000"))
    transports = os.environ.get("BENCH_TRANSPORTS", "tcp rtu19200 rtu115200").split()
    serial = os.environ.get("BENCH_SERIAL") == "1"
    for t in transports:
        if t != "tcp" and not re.match(r"rtu\d+$", t):
            raise SystemExit("bench_steps: BENCH_TRANSPORTS: '%s' is not tcp or rtuBAUD" % t)
    work = tempfile.mkdtemp(prefix="lbl-bench-steps.")
    load0 = os.getloadavg()
    floor_s = float(os.environ.get("BENCH_FLOOR_S", "20"))
    floor = machine_floor(floor_s) if floor_s > 0 else None
    t_start = time.monotonic()
    lanes = {}
    try:
        def run_transport(t):
            for kind in ("spray", "dip"):
                group = [Lane(work, t, who, kind, steps // 2) for who in CONTESTANTS]
                threads = [threading.Thread(target=lane.run) for lane in group]
                for th in threads:
                    th.start()
                for th in threads:
                    th.join()
                for lane in group:
                    lanes[(t, lane.who, kind)] = lane
        if serial:
            for t in transports:
                run_transport(t)
        else:
            ths = [threading.Thread(target=run_transport, args=(t,)) for t in transports]
            for th in ths:
                th.start()
            for th in ths:
                th.join()
        failed = [lane for lane in lanes.values() if lane.error]
        for lane in failed:
            print("bench_steps: %s %s %s: %s" % (lane.transport, lane.who, lane.kind, lane.error))
        if failed:
            sys.exit(1)
        report(lanes, transports, steps, serial, load0, time.monotonic() - t_start, floor)
    finally:
        if not os.environ.get("LBL_KEEP_TMP"):
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("kept %s" % work)


def report(lanes, transports, steps, serial, load0, elapsed_s, floor=None):
    print("step start error at the device, |arrival - (origin + planned start)|, ms; "
          "drift: signed error of the last step")
    print("%d steps asked per transport (half spray rig, half dip rig), %s, %.0f s, "
          "load average %.2f before, %.2f after, %d CPUs, %s" % (
              steps, "transports one after another" if serial else "transports at once",
              elapsed_s, load0[0], os.getloadavg()[0], os.cpu_count(),
              "contestants SCHED_FIFO 50 (as lbld's unit)" if RT_PREFIX else
              "ordinary scheduling"))
    print("%-10s %-17s %6s %8s %8s %8s %9s   %s" % ("transport", "contestant", "steps", "p50",
                                                      "p99", "max", "drift", "bus busy (reads)"))
    failed = False
    csv = open(os.environ["BENCH_CSV"], "w") if os.environ.get("BENCH_CSV") else None
    if csv:
        csv.write("transport,contestant,rig,seq,step,error_ms\n")
    extras = []
    floors = sorted(set("%s %s rig: %d ms" % (lane.transport, lane.kind, lane.floor_ms)
                        for lane in lanes.values() if lane.floor_ms != FLOORS_MS[0]))
    if floors:
        print("the rig refused steps of %d ms; the shortest steps asked: %s (twice that for "
              "steps ending in their dwell: sprays without a drain, dry steps)" % (
                  FLOORS_MS[0], "; ".join(floors)))
    for t in transports:
        p99 = {}
        for who in CONTESTANTS:
            errs, drift, busy, reads, span = [], 0.0, 0.0, 0.0, 0.0
            for kind in ("spray", "dip"):
                lane = lanes[(t, who, kind)]
                try:
                    e, util = lane.measure()
                except RuntimeError as why:
                    print("bench_steps: %s" % why)
                    failed = True
                    continue
                if lane.extras:
                    extras.append("%s %s %s rig: %d" % (t, TITLES[who], kind, lane.extras))
                if csv:
                    for (seq, step), x in zip(lane.detail, e):
                        csv.write("%s,%s,%s,%d,%s,%.4f\n" % (t, who, kind, seq, step, x))
                errs += e
                drift = max(drift, e[-1], key=abs) if e else drift
                if util:
                    busy, reads, span = busy + util[0], reads + util[1], span + util[2]
            if not errs:
                continue
            a = [abs(x) for x in errs]
            p99[who] = percentile(a, 99)
            use = "%5.1f%% (%4.1f%%)" % (100 * busy / span, 100 * reads / span) if span else "n/a (TCP)"
            print("%-10s %-17s %6d %8.3f %8.3f %8.3f %+9.3f   %s" % (
                t, TITLES[who], len(a), percentile(a, 50), p99[who], max(a), drift, use))
        if "lbld" in p99 and "careful" in p99:
            if t == "tcp":
                print("%-10s goal: lbld p99 < 0.5 ms (%s), at most half the careful loop's "
                      "(%.3f vs %.3f: %s)" % ("", "met" if p99["lbld"] < 0.5 else "not met",
                                              p99["lbld"], p99["careful"],
                                              "met" if p99["lbld"] <= p99["careful"] / 2 else "not met"))
            else:
                tx = transaction_ms(int(t[3:]))
                print("%-10s goal: lbld p99 within one transaction (%.2f ms at %d baud): %s" % (
                    "", tx, int(t[3:]), "met" if p99["lbld"] <= tx else "not met"))
    if extras:
        print("commands beyond the plan inside a batch (the safe state at its start and end): "
              + "; ".join(extras))
    if floor:
        print("this machine, before the runs, under the same scheduling: a sleeper's wake to "
              "absolute deadlines late by p50 %.3f, p99 %.3f, max %.3f ms (%d sleeps); a spinning "
              "thread lost the CPU for more than 0.5 ms %.1f times a second, at most %.1f ms: "
              "no contestant's p99 can be below what its own wakes and the host allow" % (
                  floor["p50"], floor["p99"], floor["max"], floor["sleeps"], floor["gaps_per_s"],
                  floor["gap_max"]))
    print("drift is the larger of the two rigs' last steps; 'bus busy' is the fraction of the "
          "batches' time (origin to end, as run) the RTU line carried frames (requests, answers "
          "and their silences), the reads' part (polls, readbacks) in brackets")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
