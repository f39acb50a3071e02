#!/usr/bin/python3
"""Runs generated recipes on a running lbld and lbl-simrig and checks that the
rig did what the plan says and the record says what the plan says.

    gen_check.py --build DIR --top DIR --rig RIG --trace FILE --db FILE
                 --scale K --seed FIRST --count N --keep DIR --work DIR [--gpio DIR]

Seeds FIRST to FIRST+N-1 each give one recipe (gen_recipes.py) for RIG, which
lbld (at LBL_SOCKET) runs as a batch while lbl-simrig writes --trace FILE.
For each batch:

(a) the trace == the plan's actions (`lblctl plan --json`, "actions" of each
    step): per Modbus device, the same operations in the same order, each
    value within its register's resolution (the profile's scale). GPIO
    outputs are not on Modbus and so not in the trace: they are left out of
    (a), and each GPIO output's level (lbld --gpio-sim DIR/CHIP/LINE.out) must
    be 0 when the batch has ended. Reads (a sensor's "read") are not writes
    and not traced either.
(b) the record == the plan: the batch completed with every bilayer; one step
    row per plan step with its bilayer, phase, kind, station, solution,
    planned start and duration, outcome done; each step's recorded dwell
    (an exposure's, a wait's, a measure's settle, a bath replacement's drain
    and fill) not shorter than planned (less one wall millisecond of
    rounding) nor longer by more than a loaded machine's scheduling delay;
    per solution the dips, volume and area the plan counts (several
    solutions sprayed together, roll-to-roll top-ups and web areas included).

Prints "PASS ..." when every recipe passed, and one "FAIL generated ... seed
SEED ...: why" per failing recipe, naming the kept recipe and how to replay
it. Every difference fails.
"""
import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_recipes  # noqa: E402
import yaml  # noqa: E402

# A dwell ends on a timer: late by the scheduling delay of a loaded machine,
# never early. Wall milliseconds.
DWELL_LATE_MS = 2000
# Step kinds whose dwell the record times: exposures, and the waits that are
# their step's dwell in the plan (a wait, a measure's settle, a bath
# replacement's drain and fill).
DWELL_KINDS = {"dip", "rinse", "spray", "dry", "wait", "bath", "move", "measure", "replace"}
# Step kinds whose compiled waits are their dwell (the others' are drips and drains).
WAIT_IS_DWELL = ("wait", "measure", "replace")
# How much of itself a step's last dwell may give up (base/lbl_limits.h).
DWELL_ABSORB_DIVISOR = gen_recipes._limit("RUN_DWELL_ABSORB_DIVISOR")
# What the trace shows: writes to Modbus devices.
TRACED_OPS = {"target", "speed", "flow", "direction", "rpm", "go", "home", "stop", "run",
              "on", "off"}


def builtin_profiles(top):
    """The built-in profiles, read from the YAML string in hw/rig/profile.c."""
    text = open(os.path.join(top, "hw/rig/profile.c")).read()
    body = text.split("profile_builtin_yaml[] =", 1)[1].split(";\n", 1)[0]
    lines = re.findall(r'^"(.*)\\n"\s*$', body, re.M)
    return yaml.safe_load("\n".join(l.replace('\\"', '"') for l in lines))


def device_scales(top, rig_doc):
    """Per Modbus device, per op: (scale, is_float) of its register."""
    profiles = builtin_profiles(top)
    profiles.update(rig_doc.get("profiles") or {})

    def ops(name, depth=0):
        p = profiles[name]
        out = dict(ops(p["base"], depth + 1)) if "base" in p and depth < 8 else {}
        out.update(p.get("ops") or {})
        return out

    scales = {}
    for dev, d in (rig_doc.get("devices") or {}).items():
        if "profile" not in d:
            continue
        scales[dev] = {op: (float(o.get("scale", 1)), o.get("type") == "float32")
                       for op, o in ops(d["profile"]).items()}
    return scales


class Checker:
    def __init__(self, a):
        self.a = a
        self.ctl = os.path.join(a.build, "lblctl")
        self.rig = gen_recipes.Rig(a.rig)
        with open(a.rig) as f:
            self.rig_doc = yaml.safe_load(f)
        self.scales = device_scales(a.top, self.rig_doc)
        self.gpio_outputs = [(n, d["gpio"]) for n, d in self.rig_doc["devices"].items()
                             if "gpio" in d and d.get("role") in ("valve", "pump")]
        self.failed = 0
        self.actions_seen = False
        self.stats = {"steps": 0, "actions": 0, "traced": 0, "qd100": 0, "nest8": 0,
                      "min_ms": 0, "prompts": 0}

    def lblctl(self, *args, timeout=60):
        return subprocess.run([self.ctl] + list(args), capture_output=True, text=True,
                              timeout=timeout)

    def fail(self, seed, path, why):
        self.failed += 1
        kept = os.path.join(self.a.keep, os.path.basename(path))
        os.makedirs(self.a.keep, exist_ok=True)
        with open(path) as f, open(kept, "w") as out:
            out.write(f.read())
        print("FAIL generated %s seed %d on %s: %s (recipe kept in %s; replay: GEN_SEED=%d "
              "GEN_RECIPES=1 GEN_RIGS=%s GEN_SCALE=%g LBL_TESTS=test_generated tests/run.sh "
              "%s integration)" % (self.rig.process, seed, self.a.rig_label, why, kept, seed,
                                   self.a.rig_label, self.a.scale, self.a.build), flush=True)

    # ---- running ----

    def run_batch(self, path, plan):
        """Runs the recipe to its end, answering prompts; returns (batch id, why)."""
        expect_s = plan["total_ms"] / 1000.0 / self.a.scale + 2 * len(plan["steps"]) * 0.05
        limit = time.monotonic() + 60 + 4 * expect_s
        proc = subprocess.Popen([self.ctl, "run", path, "--operator", "gen", "--wait"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        waits = plan.get("operator_waits", 0)
        answered = 0
        while proc.poll() is None:
            if time.monotonic() > limit:
                self.lblctl("abort")
                proc.kill()
                out = proc.communicate()[0]
                return None, "not done within %.0f s (planned %.1f s): %s" % (
                    60 + 4 * expect_s, expect_s, out.strip()[-300:])
            if waits > answered:
                st = self.lblctl("status").stdout
                if re.search(r"^state: prompt", st, re.M):
                    if self.lblctl("continue").returncode == 0:
                        answered += 1
                time.sleep(0.02)
            else:
                time.sleep(0.01)
        out = proc.communicate()[0]
        m = re.search(r"batch (\d+) started", out)
        if proc.returncode != 0 or not m or not re.search(r"batch \d+ completed", out):
            return None, "run exited %d: %s" % (proc.returncode, out.strip()[-400:])
        return int(m.group(1)), None

    # ---- (a) trace == plan actions ----

    def check_trace(self, plan, lines):
        gpio = {n for n, _ in self.gpio_outputs} | {
            n for n, d in self.rig_doc["devices"].items() if "gpio" in d}
        want = {}
        for s in plan["steps"]:
            for act in s.get("actions", []):
                self.stats["actions"] += 1
                dev = act.get("device")
                if dev is None or act["op"] not in TRACED_OPS or dev in gpio:
                    continue
                want.setdefault(dev, []).append((act["op"], act.get("value"), s["seq"]))
        got = {}
        for line in lines:
            f = line.split()
            if len(f) < 3 or f[2] not in TRACED_OPS:
                continue
            got.setdefault(f[1], []).append((f[2], float(f[3]) if len(f) > 3 else None))
            self.stats["traced"] += 1
        for dev in sorted(set(want) | set(got)):
            w, g = want.get(dev, []), got.get(dev, [])
            for i in range(max(len(w), len(g))):
                if i >= len(w):
                    return "%s: the rig was told %s %s (its action %d) beyond the plan's %d" \
                        % (dev, g[i][0], "" if g[i][1] is None else g[i][1], i + 1, len(w))
                if i >= len(g):
                    return "%s: the plan's action %d (%s %s, step %d) never reached the rig " \
                        "(%d of %d did)" % (dev, i + 1, w[i][0], "" if w[i][1] is None else
                                            w[i][1], w[i][2], len(g), len(w))
                (wop, wv, seq), (gop, gv) = w[i], g[i]
                if wop != gop:
                    return "%s action %d (step %d): plan says %s, rig was told %s" % (
                        dev, i + 1, seq, wop, gop)
                if wv is None and gv is None:
                    continue
                if wv is None or gv is None:
                    return "%s action %d %s (step %d): plan value %s, rig value %s" % (
                        dev, i + 1, wop, seq, wv, gv)
                scale, is_float = self.scales.get(dev, {}).get(wop, (1.0, False))
                tol = 1e-6 * max(1, abs(wv)) if is_float else abs(scale) / 2 + 1e-9
                if abs(wv - gv) > tol:
                    return "%s action %d %s (step %d): plan %g, rig %g (resolution %g)" % (
                        dev, i + 1, wop, seq, wv, gv, scale)
        return None

    def check_gpio_off(self):
        for name, g in self.gpio_outputs:
            path = os.path.join(self.a.gpio, str(g["chip"]), "%s.out" % g["line"])
            try:
                level = open(path).read().strip()
            except OSError:
                continue    # never driven
            active_low = bool(g.get("active_low"))
            if level != ("1" if active_low else "0"):
                return "GPIO output %s (%s) is left at level %s after the batch" % (
                    name, path, level)
        return None

    # ---- (b) record == plan ----

    @staticmethod
    def solutions_differ(got, want):
        """Why the record's solutions (name: dips, volume, area) differ from want, or None."""
        for name, (dips, vol, area) in sorted(want.items()):
            if name not in got:
                return "solution %s has no row in the record" % name
            gdips, gvol, garea = got[name]
            if gdips != dips:
                return "solution %s: %s dips recorded, %d planned" % (name, gdips, dips)
            for what, g, w in (("volume", gvol, vol), ("area", garea, area)):
                w = w or 0
                if g is None or abs(g - w) > 1e-3 * max(1, abs(w)):
                    return "solution %s: %s %s recorded, %s planned" % (name, what, g, w)
        return None

    def check_record(self, batch, plan):
        db = sqlite3.connect("file:%s?mode=ro" % self.a.db, uri=True, timeout=10)
        try:
            b = db.execute("select state, bilayers_done, bilayers_target, time_scale "
                           "from batches where id=?", (batch,)).fetchone()
            if b is None:
                return "batch %d is not in the database" % batch
            state, done, target, scale = b
            if state != "completed" or done != plan["bilayers"] or target != plan["bilayers"]:
                return "batch %d: state %s, bilayers %s of %s; the plan has %d" % (
                    batch, state, done, target, plan["bilayers"])
            rows = db.execute("select seq, bilayer, phase, kind, station, solution, "
                              "planned_start_ms, planned_duration_ms, dwell_ms, outcome "
                              "from steps where batch_id=? order by seq", (batch,)).fetchall()
            steps = plan["steps"]
            if len(rows) != len(steps):
                return "the record has %d steps, the plan %d" % (len(rows), len(steps))
            for row, s in zip(rows, steps):
                want = (s["seq"], s["bilayer"], s["phase"], s["step"], s["where"],
                        s["solution"], s["start_ms"], s["duration_ms"])
                if tuple(row[:8]) != want:
                    return "step %d: recorded %s, planned %s" % (s["seq"], row[:8], want)
                if row[9] != "done":
                    return "step %d: outcome %s" % (s["seq"], row[9])
                dwell, least = s["dwell_ms"], 1.0
                if "actions" in s:
                    # a wait step's wait is its dwell on record; it may end up to a tenth
                    # early, absorbing the I/O before it (run.c run_wait_end_ns)
                    ops = ("dwell", "wait") if s["step"] in WAIT_IS_DWELL else ("dwell",)
                    dwell = sum(a.get("ms", 0) for a in s["actions"] if a["op"] in ops)
                    least = 0.9 if s["step"] in WAIT_IS_DWELL else 1.0
                    # so may a step's last dwell when only commands follow it (a spray
                    # or dry step without a drain, a roll station), by a twentieth
                    timed = [a["op"] for a in s["actions"]
                             if a["op"] in ("dwell", "wait", "prompt", "go", "read")]
                    if timed and timed[-1] == "dwell":
                        least = 1.0 - 1.0 / DWELL_ABSORB_DIVISOR
                elif s["step"] not in DWELL_KINDS:
                    continue
                got = row[8]
                if got is None or got * scale < dwell * least - scale or \
                        got > dwell / scale + DWELL_LATE_MS:
                    return "step %d (%s): dwell %s ms wall x %g, planned %d ms" % (
                        s["seq"], s["step"], got, scale, dwell)
            n = db.execute("select count(*) from bilayers where batch_id=?",
                           (batch,)).fetchone()[0]
            if n != plan["bilayers"]:
                return "%d bilayers recorded, %d planned" % (n, plan["bilayers"])
            sols = {r[0]: r[1:] for r in db.execute(
                "select name, dips, volume_ml, area_cm2 from solutions where batch_id=?",
                (batch,))}
            why = self.solutions_differ(sols, {ps["name"]: (ps["uses"], ps["volume_ml"],
                                                            ps["area_cm2"])
                                               for ps in plan["solutions"]})
            if why:
                return why
            if len(sols) != len(plan["solutions"]):
                return "the record has %d solutions, the plan %d" % (
                    len(sols), len(plan["solutions"]))
        finally:
            db.close()
        return None

    # ---- one recipe ----

    def one(self, seed):
        g = gen_recipes.Gen(self.rig, seed)
        text = g.text()
        path = os.path.join(self.a.work, "gen-%s-%d.yaml" % (self.rig.process, seed))
        with open(path, "w") as f:
            f.write(text)
        self.stats["qd100"] += ("quick_dips: %d" % gen_recipes.MAX_QUICK_DIPS) in text
        self.stats["nest8"] += g.want_nest8
        self.stats["min_ms"] += bool(re.search(r"\b(1|%d)ms\b" % gen_recipes.MIN_STEP_MS, text))
        r = self.lblctl("check", path, "--rig", self.a.rig)
        if r.returncode != 0:
            return self.fail(seed, path, "lblctl check refused a generated recipe (a bug of "
                             "the generator or the checker): %s" % (r.stdout + r.stderr)
                             .strip().splitlines()[0])
        r = self.lblctl("plan", path, "--rig", self.a.rig, "--json")
        if r.returncode != 0:
            return self.fail(seed, path, "lblctl plan --json: %s" % r.stderr.strip())
        try:
            plan = json.loads(r.stdout)
        except ValueError as e:
            return self.fail(seed, path, "plan --json is not JSON: %s" % e)
        self.stats["steps"] += len(plan["steps"])
        self.stats["prompts"] += plan.get("operator_waits", 0)
        if any("actions" in s for s in plan["steps"]):
            self.actions_seen = True
        start = os.path.getsize(self.a.trace)
        batch, why = self.run_batch(path, plan)
        if why:
            return self.fail(seed, path, why)
        with open(self.a.trace) as f:
            f.seek(start)
            lines = f.read().splitlines()
        why = self.check_record(batch, plan)
        if why:
            return self.fail(seed, path, "record != plan: batch %d: %s" % (batch, why))
        if self.actions_seen:
            why = self.check_trace(plan, lines)
            if why:
                return self.fail(seed, path, "trace != plan: batch %d: %s" % (batch, why))
        why = self.check_gpio_off()
        if why:
            return self.fail(seed, path, why)
        os.unlink(path)


def main():
    ap = argparse.ArgumentParser()
    for opt in ("build", "top", "rig", "trace", "db", "keep", "work", "gpio", "rig-label"):
        ap.add_argument("--" + opt, required=opt not in ("gpio",))
    ap.add_argument("--scale", type=float, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    a = ap.parse_args()
    c = Checker(a)
    t0 = time.monotonic()
    for seed in range(a.seed, a.seed + a.count):
        c.one(seed)
    s = c.stats
    what = "trace == plan actions" if c.actions_seen else \
        "plan --json has no actions: trace not compared"
    what += ", record == plan"
    if not c.actions_seen:
        print("info: lblctl plan --json gives no actions: the trace is not compared")
    if c.failed == 0:
        print("PASS generated %s on %s: %d recipes, seeds %d-%d, %d steps, %d actions, "
              "%d traced writes, %d with 100 quick dips, %d nested 8 deep, %d at the shortest durations, "
              "%d prompts, %.1f s: %s" % (
                  c.rig.process, a.rig_label, a.count, a.seed, a.seed + a.count - 1,
                  s["steps"], s["actions"], s["traced"], s["qd100"], s["nest8"], s["min_ms"],
                  s["prompts"], time.monotonic() - t0, what))
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
