#!/usr/bin/python3
"""Random valid recipes for a rig, for the generated-recipe test.

    gen_recipes.py --rig RIG --seed N [--out FILE]

writes the recipe that seed N gives on RIG (a rig file: its process, stations,
nozzles, devices and limits decide what is generated) to FILE or stdout. The
same seed and rig always give the same recipe, so a failure of
test_generated.sh is replayed from the seed it prints.

Every recipe must pass `lblctl check --rig RIG`: one it refuses is a bug here
(or in the checker). The generator covers every step kind of the rig's
process: dips (dwell, speed_in, speed_out, depth, drip, agitation on a station
with a stirrer), rinses (one bath with quick_dips, or several baths), dry
steps (valve, station, slow_withdrawal), waits, prompts, measures (every
sensor and its method), set (valves on and off, pumps at a flow and off),
repeats nested up to the limit, first-cycle overrides, sprays of one or
several solutions, roll-to-roll baths, rinses and dryers, bath replacements
(change_after dips, cycles, area: by pumps where the station has them, else
by the operator), checkpoints every N bilayers. Each recipe also draws some
boundary values: 100 quick dips, repeats nested 8 deep, the smallest duration
the checker accepts (1ms), the largest depth and speeds the rig allows, 64
solutions.
"""
import argparse
import os
import random
import re
import sys

import yaml



def _limit(name):
    """A limit from base/lbl_limits.h, its one home."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "base",
                        "lbl_limits.h")
    m = re.search(r"^#define %s\s+(\d+)" % name, open(path).read(), re.M)
    if not m:
        raise ValueError("%s: no #define %s" % (path, name))
    return int(m.group(1))


# The limits the generator reaches.
MAX_QUICK_DIPS = _limit("RECIPE_MAX_QUICK_DIPS")
MAX_NESTING = _limit("RECIPE_MAX_NESTING")
MAX_SOLUTIONS = _limit("RECIPE_MAX_SOLUTIONS")
# The shortest step the checker accepts (a step without motion lasts its time);
# a dwell inside a step with motion may be as short as any duration, 1 ms.
MIN_STEP_MS = _limit("COMPILE_MIN_STEP_MS")
MIN_DURATION_MS = 1

_UNITS = {
    "mm": 1.0, "m": 1000.0, "cm": 10.0,
    "mm/s": 1.0, "m/min": 1000.0 / 60, "mm/min": 1.0 / 60,
    "mL/min": 1.0, "L/min": 1000.0,
    "mL": 1.0, "L": 1000.0,
    "mm/s2": 1.0,
    "MHz": 1e6, "kHz": 1e3, "Hz": 1.0,
    "rpm": 1.0,
}


def quantity(text):
    """A rig file's quantity ("50 mm/s", "3 L") in the unit lbl computes in."""
    m = re.fullmatch(r"\s*([-+0-9.eE]+)\s*([A-Za-z/0-9]+)\s*", str(text))
    if not m or m.group(2) not in _UNITS:
        raise ValueError("cannot read quantity %r" % (text,))
    return float(m.group(1)) * _UNITS[m.group(2)]


class Rig:
    """What the generator needs of a rig file."""

    def __init__(self, path):
        with open(path) as f:
            doc = yaml.safe_load(f)
        self.name = doc.get("name")
        self.devices = doc.get("devices", {})
        self.stations = doc.get("stations", {})
        self.nozzles = doc.get("nozzles", {})
        motion = doc.get("motion", {}) or {}
        self.lift = motion.get("lift")
        self.line = next((n for n, d in self.devices.items() if d.get("role") == "line"), None)
        if self.line:
            self.process = "roll"
        elif self.nozzles:
            self.process = "spray"
        elif self.lift:
            self.process = "dip"
        else:
            raise ValueError("%s: no lift, nozzles or line: no process to generate" % path)

    def role(self, role):
        return [n for n, d in self.devices.items() if d.get("role") == role]

    def stations_of(self, *kinds):
        return [n for n, s in self.stations.items() if s.get("kind") in kinds]

    def lift_max_mm_s(self):
        return quantity(self.devices[self.lift]["max_speed"])

    def max_depth_mm(self, station):
        s = self.stations[station]
        return quantity(s["max_depth"]) if "max_depth" in s else None

    def volume_ml(self, station):
        s = self.stations[station]
        return quantity(s["volume"]) if "volume" in s else None

    def max_flow(self, device):
        d = self.devices[device]
        return quantity(d["max_flow"]) if "max_flow" in d else None

    def max_rpm(self, device):
        d = self.devices[device]
        return quantity(d["max_rpm"]) if "max_rpm" in d else None

    def sensors(self):
        return [(n, self.devices[n].get("kind")) for n in self.role("sensor")]


class NoAliasDumper(yaml.SafeDumper):
    """The recipe parser refuses anchors and aliases: never write one."""

    def ignore_aliases(self, data):
        return True


def duration(ms):
    """ms as a recipe duration, in the largest unit that keeps it whole."""
    for unit, size in (("h", 3600000), ("min", 60000), ("s", 1000)):
        if ms % size == 0:
            return "%d%s" % (ms // size, unit)
    return "%dms" % ms


def num(x):
    """A number as short as it is exact to 0.001."""
    return ("%.3f" % x).rstrip("0").rstrip(".")


class Gen:
    """One recipe for one rig from one seed."""

    def __init__(self, rig, seed):
        self.rig = rig
        self.seed = seed
        self.rnd = random.Random("%s/%d" % (rig.process, seed))
        self.prompts = 0
        self.lift_max = rig.lift_max_mm_s() if rig.lift else None
        # boundary values this recipe reaches, one or two per recipe
        r = self.rnd
        self.want_qd100 = r.random() < 0.15
        self.want_nest8 = rig.process != "roll" and r.random() < 0.15
        self.want_min_ms = r.random() < 0.3
        self.want_max_solutions = r.random() < 0.05
        # immersions (dips) per solution, counted as steps are made, for volumes
        self.uses = {}
        self.multiplier = 1

    # ---- values ----

    def dur_ms(self, lo=MIN_DURATION_MS, hi=120000):
        """A duration from lo: lo itself (the smallest the checker takes), short or long."""
        r = self.rnd
        if self.want_min_ms and r.random() < 0.3:
            return lo
        pick = r.random()
        if pick < 0.4:
            ms = r.randint(1, 50) * 100
        elif pick < 0.8:
            ms = r.randint(1, 60) * 1000
        elif pick < 0.95:
            ms = r.randint(1, 5) * 60000
        else:
            ms = r.randint(lo, 9999)
        return min(max(ms, lo), max(hi, lo))

    def speed(self):
        """An immersion speed within the lift's limit, its limit included."""
        r = self.rnd
        if r.random() < 0.15:
            return self.lift_max
        return float(r.choice([1, 2, 5, 10, 20, 25])) if r.random() < 0.7 else \
            round(r.uniform(0.5, self.lift_max), 1)

    def depth(self, station):
        top = self.rig.max_depth_mm(station)
        if top is None:
            return None
        r = self.rnd
        return top if r.random() < 0.2 else float(r.randint(1, int(top)))

    def use(self, sol, dips=1):
        self.uses[sol] = self.uses.get(sol, 0) + dips * self.multiplier

    # ---- solutions ----

    def solutions(self):
        rig, r = self.rig, self.rnd
        sols = {}
        self.coatings, self.rinses = [], []
        if rig.process == "spray":
            for nz, spec in rig.nozzles.items():
                name = "s-" + nz
                is_rinse = "rinse" in nz
                sols[name] = {"nozzle": nz}
                if is_rinse:
                    sols[name]["rinse"] = True
                (self.rinses if is_rinse else self.coatings).append(name)
            if len(self.coatings) < 2:
                # a rig whose nozzles are all called rinse: coat with the first two
                self.coatings = [n for n in sols][:2]
                for n in self.coatings:
                    sols[n].pop("rinse", None)
                self.rinses = [n for n in sols if n not in self.coatings]
        else:
            baths = rig.stations_of("beaker", "bath")
            rinses = rig.stations_of("rinse")
            r.shuffle(baths)
            n = r.randint(2, min(4, len(baths)))
            for st in baths[:n]:
                sols["c-" + st] = {"station": st}
                self.coatings.append("c-" + st)
            for st in rinses:
                sols["r-" + st] = {"station": st, "rinse": True}
                self.rinses.append("r-" + st)
            # a rinse in a beaker with a stirrer: quick dips beside a stirrer
            stirred = [s for s in baths[n:] if rig.stations[s].get("stirrer")]
            if stirred and r.random() < (0.8 if self.want_qd100 else 0.3):
                sols["r-" + stirred[0]] = {"station": stirred[0], "rinse": True}
                self.rinses.append("r-" + stirred[0])
        for name, s in sols.items():
            if r.random() < 0.5:
                s["chemistry"] = r.choice(["AgNO3", "trithiocyanuric acid", "PDDA", "PSS"])
                s["concentration"] = "%d mM" % r.randint(1, 20)
                s["solvent"] = r.choice(["water", "ethanol"])
            if r.random() < 0.2:
                s["ph"] = round(r.uniform(0, 14), 1)
            if r.random() < 0.2:
                s["lot"] = "lot-%d" % r.randint(1, 999)
            if r.random() < 0.15:
                s["shelf_life"] = "48h"
            if rig.process != "spray" and rig.process != "roll" and r.random() < 0.35:
                limit = r.choice(["dips", "cycles", "area"])
                if limit == "dips":
                    s["change_after"] = {"dips": r.randint(1, 6)}
                elif limit == "cycles":
                    s["change_after"] = {"cycles": r.randint(1, 2)}
                else:
                    s["change_after"] = {"area": "%d cm2" % r.randint(5, 40)}
            elif rig.process == "spray" and r.random() < 0.15:
                s["change_after"] = {"dips": r.randint(2, 6)}
            if rig.process == "roll" and r.random() < 0.3:
                s["top_up"] = "%s mL/min" % num(r.uniform(0.5, 5))
        self.sols = sols
        return sols

    def fix_volumes(self):
        """A volume where it cannot run dry: within the station, above what is used."""
        r = self.rnd
        for name, s in self.sols.items():
            if r.random() < 0.5 or "top_up" in s:
                continue
            cap = self.rig.volume_ml(s["station"]) if "station" in s else None
            need = self.uses.get(name, 0) * self.per_use_ml(name) + 1
            vol = max(need * 2, 50.0)
            if cap is not None:
                if need > cap:
                    continue
                vol = min(vol, cap)
            s["volume"] = "%d mL" % int(vol + 0.999)

    def per_use_ml(self, name):
        if self.rig.process == "spray":
            return self.max_spray_ml
        return self.dragout_ml

    # ---- steps ----

    def dip(self, where):
        r, rig = self.rnd, self.rig
        sol = r.choice(self.coatings)
        st = self.sols[sol]["station"]
        step = {"solution": sol, "dwell": duration(self.dur_ms())}
        if r.random() < 0.6:
            step["speed_in"] = "%s mm/s" % num(self.speed())
        if r.random() < 0.6:
            step["speed_out"] = "%s mm/s" % num(self.speed())
        if r.random() < 0.6:
            d = self.depth(st)
            if d is not None:
                step["depth"] = "%s mm" % num(d)
        if r.random() < 0.3:
            step["drip"] = duration(self.dur_ms(hi=20000))
        if rig.stations[st].get("stirrer") and r.random() < 0.6:
            step["agitation"] = "%d rpm" % self.rpm(rig.stations[st]["stirrer"])
        if where == "cycle" and r.random() < 0.35:
            first = {"dwell": duration(self.dur_ms())}
            if r.random() < 0.3:
                first["speed_in"] = "%s mm/s" % num(self.speed())
            step["first_cycle"] = first
        self.use(sol)
        return {"dip": step}

    def rpm(self, stirrer):
        """Agitation: up to the stirrer's limit, the limit itself at times."""
        top = self.rig.max_rpm(stirrer) or self.rig.max_flow(stirrer) or 10
        r = self.rnd
        return int(top) if r.random() < 0.25 else r.randint(1, max(1, int(top)))

    def quick_dips(self):
        r = self.rnd
        if self.want_qd100 and not self.qd100_done:
            self.qd100_done = True
            return MAX_QUICK_DIPS
        return r.choice([None, None, 1, 2, 3, 5, r.randint(1, 12)])

    def rinse(self, where):
        r, rig = self.rnd, self.rig
        if rig.process == "roll":
            step = {"solution": r.choice(self.rinses)}
            if r.random() < 0.3:
                step["path"] = "%d mm" % r.randint(50, 800)
            self.use(step["solution"])
            return {"rinse": step}
        step = {}
        if r.random() < 0.25 and len(self.rinses) >= 1:
            baths = []
            for _ in range(r.randint(1, 3)):
                sol = r.choice(self.rinses)
                b = {"solution": sol, "dwell": duration(self.dur_ms())}
                q = self.quick_dips()
                if q:
                    b["quick_dips"] = q
                self.use(sol, q or 1)
                baths.append(b)
            step["baths"] = baths
            stations = [self.sols[b["solution"]]["station"] for b in baths]
        else:
            sol = r.choice(self.rinses)
            step["solution"] = sol
            step["dwell"] = duration(self.dur_ms(hi=60000))
            q = self.quick_dips()
            if q:
                step["quick_dips"] = q
            self.use(sol, q or 1)
            stations = [self.sols[sol]["station"]]
            stirrer = rig.stations[stations[0]].get("stirrer")
            if stirrer and r.random() < 0.6:
                step["agitation"] = "%d rpm" % self.rpm(stirrer)
        if r.random() < 0.5:
            step["speed_in"] = "%s mm/s" % num(self.speed())
        if r.random() < 0.5:
            step["speed_out"] = "%s mm/s" % num(self.speed())
        if r.random() < 0.4:
            depths = [self.rig.max_depth_mm(s) for s in stations]
            if all(d is not None for d in depths):
                step["depth"] = "%d mm" % r.randint(1, int(min(depths)))
        if r.random() < 0.3:
            step["drip"] = duration(self.dur_ms(hi=20000))
        if where == "cycle" and "solution" in step and r.random() < 0.3:
            first = {"dwell": duration(self.dur_ms(hi=60000))}
            if r.random() < 0.5:
                first["quick_dips"] = r.randint(1, 5)
            step["first_cycle"] = first
        return {"rinse": step}

    def dry(self, where, after_immersion):
        r, rig = self.rnd, self.rig
        if rig.process == "roll":
            step = {"station": r.choice(rig.stations_of("dryer"))}
            valves = rig.role("valve")
            if valves and r.random() < 0.5:
                step["valve"] = r.choice(valves)
            if r.random() < 0.3:
                step["path"] = "%d mm" % r.randint(50, 1000)
            return {"dry": step}
        if after_immersion and rig.lift and r.random() < 0.35:
            step = {"slow_withdrawal": "%s mm/s" % num(min(self.lift_max,
                                                            r.choice([0.5, 1, 2, 5])))}
            if where == "cycle" and r.random() < 0.3:
                step["first_cycle"] = {"slow_withdrawal": "%s mm/s" % num(
                    min(self.lift_max, r.choice([0.5, 1, 3])))}
            return {"dry": step}
        step = {}
        valves = rig.role("valve")
        dryers = rig.stations_of("dryer", "spray")
        pick = r.random()
        if valves and (pick < 0.5 or not dryers):
            step["valve"] = r.choice(valves)
            if dryers and r.random() < 0.4:
                step["station"] = r.choice(dryers)
        else:
            step["station"] = r.choice(dryers)
        step["time"] = duration(self.dur_ms(MIN_STEP_MS, hi=60000))
        if where == "cycle" and r.random() < 0.25:
            step["first_cycle"] = {"time": duration(self.dur_ms(MIN_STEP_MS, hi=60000))}
        return {"dry": step}

    def spray(self, where):
        r, rig = self.rnd, self.rig
        step = {}
        if r.random() < 0.25 and len(self.sols) >= 2:
            names = r.sample(list(self.sols), r.randint(2, min(4, len(self.sols))))
            step["solutions"] = names
        else:
            names = [r.choice(self.coatings if r.random() < 0.7 else
                              (self.rinses or self.coatings))]
            step["solution"] = names[0]
        step["time"] = duration(self.dur_ms(MIN_STEP_MS, hi=30000))
        flows = [rig.max_flow(rig.nozzles[self.sols[n]["nozzle"]]["pump"]) for n in names]
        if r.random() < 0.7:
            top = min(flows)
            flow = top if r.random() < 0.2 else round(r.uniform(0.5, top), 2)
            step["flow"] = "%s mL/min" % num(flow)
        if r.random() < 0.6:
            step["drain"] = duration(self.dur_ms(hi=20000))
        if where == "cycle" and r.random() < 0.3:
            first = {"time": duration(self.dur_ms(MIN_STEP_MS, hi=30000))}
            if r.random() < 0.4:
                first["drain"] = duration(self.dur_ms(hi=20000))
            step["first_cycle"] = first
        for n in names:
            self.use(n)
        return {"spray": step}

    def bath(self):
        r = self.rnd
        step = {"solution": r.choice(self.coatings)}
        if r.random() < 0.3:
            step["path"] = "%d mm" % r.randint(50, 1000)
        self.use(step["solution"])
        return {"bath": step}

    def wait(self, where):
        r = self.rnd
        ms = self.dur_ms(MIN_STEP_MS, hi=60000)
        if r.random() < 0.5:
            return {"wait": duration(ms)}
        step = {"time": duration(ms)}
        if where == "cycle" and r.random() < 0.3:
            step["first_cycle"] = {"time": duration(self.dur_ms(MIN_STEP_MS, hi=60000))}
        return {"wait": step}

    def prompt(self):
        self.prompts += 1
        msg = self.rnd.choice(["Load the substrate", "Check the baths",
                               "Turn the sample \"face\" up: 90 degrees", "Close the door"])
        return {"prompt": msg} if self.rnd.random() < 0.5 else {"prompt": {"message": msg}}

    def measure(self):
        r = self.rnd
        sensors = [(n, k) for n, k in self.rig.sensors() if k in ("qcm", "thickness")]
        if not sensors:
            return None
        name, kind = r.choice(sensors)
        step = {"sensor": name}
        if kind == "qcm":
            step["method"] = "sauerbrey"
            step["film_density"] = "%s g/cm3" % num(r.uniform(0.8, 2.5))
        else:
            step["method"] = "gauge"
        if r.random() < 0.6:
            step["settle"] = duration(self.dur_ms(MIN_STEP_MS, hi=30000))
        if self.stop_at_target_ok and r.random() < 0.3:
            step["stop_at_target"] = True
        return {"measure": step}

    def set_pair(self):
        """A set step and the one that undoes it, so nothing is left running."""
        r, rig = self.rnd, self.rig
        outputs = rig.role("valve") + rig.role("pump")
        if not outputs:
            return None
        dev = r.choice(outputs)
        if rig.devices[dev]["role"] == "pump":
            top = rig.max_flow(dev) or 10
            on = top if r.random() < 0.2 else round(r.uniform(0.1, top), 2)
            return ({"set": {"output": dev, "value": "%s mL/min" % num(on)}},
                    {"set": {"output": dev, "value": "off" if r.random() < 0.5 else
                             "0 mL/min"}})
        return ({"set": {"output": dev, "value": "on"}},
                {"set": {"output": dev, "value": "off"}})

    def coating(self, where):
        """A coating step of the rig's process: a dip, a spray or a roll bath."""
        if self.rig.process == "spray":
            return self.spray(where)
        if self.rig.process == "roll":
            return self.bath()
        return self.dip(where)

    def random_step(self, where, depth, prev):
        """One step of any kind the process allows, prev the step before it."""
        r, p = self.rnd, self.rig.process
        kinds = ["coat", "rinse", "dry", "wait", "measure", "set", "repeat", "prompt"]
        weights = [4, 3, 2, 2, 1, 1, 1 if depth < MAX_NESTING else 0, 0.3]
        if p == "roll":
            weights[3] = weights[6] = 0     # no wait, no repeat on a line
        if p == "spray":
            weights[1] = 0                  # rinses are sprays there
        if self.prompts >= 1:
            weights[7] = 0
        kind = r.choices(kinds, weights)[0]
        after_immersion = prev is not None and ("dip" in prev or "rinse" in prev)
        if kind == "coat":
            return [self.coating(where)]
        if kind == "rinse":
            return [self.rinse(where)]
        if kind == "dry":
            return [self.dry(where, after_immersion)]
        if kind == "wait":
            return [self.wait(where)]
        if kind == "prompt":
            return [self.prompt()]
        if kind == "measure":
            m = self.measure()
            return [m] if m else [self.wait(where)] if p != "roll" else []
        if kind == "set":
            pair = self.set_pair()
            return list(pair) if pair else []
        return [self.repeat(depth + 1)]

    def repeat(self, depth, chain=False):
        """A repeat at nesting depth (1 outermost); chain: nest to the limit."""
        r = self.rnd
        times = 1 if chain and r.random() < 0.7 else r.randint(1, 3)
        saved = self.multiplier
        self.multiplier *= times
        steps = []
        if chain and depth < MAX_NESTING:
            if r.random() < 0.5:
                steps += self.random_step("repeat", MAX_NESTING, None)
            steps.append(self.repeat(depth + 1, chain=True))
        else:
            prev = None
            for _ in range(r.randint(1, 3)):
                new = self.random_step("repeat", depth, prev)
                steps += new
                prev = new[-1] if new else prev
            if not steps:
                steps = [self.coating("repeat")]
        self.multiplier = saved
        return {"repeat": {"times": times, "steps": steps}}

    def step_list(self, where, n):
        steps, prev = [], None
        for _ in range(n):
            new = self.random_step(where, 0, prev)
            steps += new
            prev = new[-1] if new else prev
        return steps

    def cycle(self):
        """Two coatings that bind, each with its rinse and dry at times, and extras."""
        r, p = self.rnd, self.rig.process
        steps = []
        first, second = r.sample(self.coatings, 2)
        for sol in (first, second):
            if p == "spray":
                s = self.spray("cycle")
                s["spray"].pop("solutions", None)
                s["spray"]["solution"] = sol
                # flows were drawn for another nozzle: redraw within this one's pump
                top = self.rig.max_flow(self.rig.nozzles[self.sols[sol]["nozzle"]]["pump"])
                if "flow" in s["spray"]:
                    s["spray"]["flow"] = "%s mL/min" % num(min(top, float(
                        s["spray"]["flow"].split()[0])))
                self.use(sol)
            elif p == "roll":
                s = {"bath": {"solution": sol}}
                self.use(sol)
            else:
                s = self.dip("cycle")
                s["dip"]["solution"] = sol
                st = self.sols[sol]["station"]
                if "agitation" in s["dip"] and not self.rig.stations[st].get("stirrer"):
                    del s["dip"]["agitation"]
                elif self.rig.stations[st].get("stirrer") and r.random() < 0.5:
                    s["dip"]["agitation"] = "%d rpm" % self.rpm(self.rig.stations[st]["stirrer"])
                if "depth" in s["dip"]:
                    s["dip"]["depth"] = "%s mm" % num(min(float(s["dip"]["depth"].split()[0]),
                                                          self.rig.max_depth_mm(st)))
                self.use(sol)
            steps.append(s)
            if self.rinses and r.random() < 0.8:
                steps.append(self.rinse_spray() if p == "spray" else self.rinse("cycle"))
            if r.random() < 0.4:
                steps.append(self.dry("cycle", "dip" in steps[-1] or "rinse" in steps[-1]))
        extra = self.step_list("cycle", r.randint(0, 3))
        at = r.randint(0, len(steps))
        steps[at:at] = extra
        return self.mend_slow_withdrawal(steps)

    def rinse_spray(self):
        s = self.spray("cycle")
        sol = self.rnd.choice(self.rinses)
        s["spray"].pop("solutions", None)
        s["spray"]["solution"] = sol
        top = self.rig.max_flow(self.rig.nozzles[self.sols[sol]["nozzle"]]["pump"])
        if "flow" in s["spray"]:
            s["spray"]["flow"] = "%s mL/min" % num(min(top, float(s["spray"]["flow"].split()[0])))
        self.use(sol)
        return s

    def mend_slow_withdrawal(self, steps):
        """A slow withdrawal dries as the last bath is left: only right after one."""
        out = []
        for s in steps:
            if "dry" in s and "slow_withdrawal" in s["dry"] and \
                    not (out and ("dip" in out[-1] or "rinse" in out[-1])):
                continue
            if "repeat" in s:
                s["repeat"]["steps"] = self.mend_slow_withdrawal(s["repeat"]["steps"]) or \
                    [self.coating("repeat")]
            out.append(s)
        return out

    # ---- the recipe ----

    def recipe(self):
        r, rig, p = self.rnd, self.rig, self.rig.process
        self.qd100_done = False
        self.dragout_ml = r.choice([0, 0.01, 0.02, 0.05])
        bilayers = r.choices([1, 2, 3], [3, 4, 2])[0]
        per_bilayer = round(r.uniform(1, 20), 1)
        target = {"bilayers": bilayers}
        self.stop_at_target_ok = False
        if r.random() < 0.2:
            # a thickness no measure reaches: stop_at_target never fires, even on a
            # simulator whose film grows on from batch to batch (3.9 nm a coating dip;
            # test_generated.sh restarts it every GEN_CHUNK recipes), below the
            # thickness gauge's plausible range (1 mm, lbl_limits.h)
            target = {"thickness": "900000 nm", "max_bilayers": bilayers}
            self.stop_at_target_ok = True
        doc = {"name": "gen-%s-%d" % (p, self.seed), "version": str(r.randint(1, 9)),
               "process": p}
        if r.random() < 0.3:
            doc["description"] = "generated, seed %d on %s" % (self.seed, rig.name)
        if r.random() < 0.2:
            doc["substrate"] = "glass slide %d" % self.seed
            self.area = 0
        else:
            self.area = r.randint(1, 20)
            doc["substrate"] = {"name": "slide %d" % self.seed, "area": "%d cm2" % self.area}
            if p == "dip" and self.dragout_ml:
                doc["substrate"]["dragout"] = "%s mL" % num(self.dragout_ml)
        if p != "dip":
            self.dragout_ml = 0
        doc["target"] = target
        if r.random() < 0.8:
            doc["growth"] = {"model": "linear", "per_bilayer": "%s nm" % num(per_bilayer)}
        else:
            doc["growth"] = {"model": "exponential", "a": "1 nm", "b": "2 nm",
                             "k": round(r.uniform(0.05, 1), 2), "linear_after": 2,
                             "per_bilayer": "%s nm" % num(per_bilayer)}
        doc["resume"] = r.choice(["allowed", "forbidden", {"allowed": True, "within": "30min"}])
        if p == "dip" and r.random() < 0.5:
            doc["drip"] = duration(self.dur_ms(hi=20000))
        if p == "roll":
            top = quantity(rig.devices[rig.line]["max_speed"])
            speed = top if r.random() < 0.2 else round(r.uniform(0.2, top), 2)
            doc["line"] = {"speed": "%s mm/s" % num(speed),
                           "web_length": "%d mm" % r.randint(100, 2000)}
            if r.random() < 0.5:
                doc["line"]["web_width"] = "%d mm" % r.randint(10, 300)
            if r.random() < 0.5:
                doc["line"]["rewind"] = duration(self.dur_ms(MIN_STEP_MS, hi=120000))
        if p == "spray" and r.random() < 0.5:
            doc["spray"] = {"nozzle_distance": "%d mm" % r.randint(50, 200)}
        doc["solutions"] = self.solutions()
        self.max_spray_ml = 0
        if p == "spray":
            flows = [rig.max_flow(s["pump"]) for s in rig.nozzles.values()]
            self.max_spray_ml = max(flows) * 30000 / 60000.0   # time is at most 30 s
        if r.random() < 0.6:
            self.multiplier = 1
            pre = self.step_list("pre", r.randint(1, 3))
            if self.want_nest8:
                pre.append(self.repeat(1, chain=True))
            doc["pre"] = self.mend_slow_withdrawal(pre) or [self.coating("pre")]
        self.multiplier = bilayers
        doc["cycle"] = self.cycle()
        if self.want_qd100 and not self.qd100_done and p == "dip":
            q = self.rinse("cycle")
            q["rinse"].pop("baths", None)
            q["rinse"].pop("first_cycle", None)
            # beside a stirrer where the rig has one: the executor's longest step
            stirred = [n for n in self.rinses
                       if rig.stations[self.sols[n]["station"]].get("stirrer")]
            sol = r.choice(stirred or self.rinses)
            q["rinse"]["solution"] = sol
            q["rinse"]["dwell"] = q["rinse"].get("dwell", "1s")
            q["rinse"]["quick_dips"] = MAX_QUICK_DIPS
            q["rinse"].pop("agitation", None)
            q["rinse"].pop("depth", None)
            if stirred:
                q["rinse"]["agitation"] = "%d rpm" % self.rpm(
                    rig.stations[self.sols[sol]["station"]]["stirrer"])
            self.use(sol, MAX_QUICK_DIPS)
            doc["cycle"].append(q)
        if r.random() < 0.4:
            every = []
            for _ in range(r.randint(1, 2)):
                do = []
                for _ in range(r.randint(1, 2)):
                    pick = r.random()
                    m = self.measure() if pick < 0.6 else None
                    if m is None and p != "roll":
                        m = self.wait("every")
                    if m is None and self.prompts == 0:
                        m = self.prompt()
                    if m is not None:
                        do.append(m)
                if do:
                    every.append({"bilayers": r.randint(1, bilayers), "do": do})
            if every:
                doc["every"] = every
        if r.random() < 0.5:
            self.multiplier = 1
            doc["post"] = self.mend_slow_withdrawal(self.step_list("post", r.randint(1, 3))) \
                or [self.coating("post")]
        if self.want_max_solutions:
            # spare solutions, unused, up to the limit: the record keeps a row each
            bound = [(k, v) for k, v in self.sols.items()]
            i = 0
            while len(self.sols) < MAX_SOLUTIONS:
                k, v = bound[i % len(bound)]
                spare = {key: v[key] for key in ("station", "nozzle") if key in v}
                spare["rinse"] = True
                self.sols["spare-%d" % i] = spare
                i += 1
        self.fix_volumes()
        return doc

    def text(self):
        doc = self.recipe()
        head = "# generated by tests/integration/gen_recipes.py --seed %d for rig %s\n" % (
            self.seed, self.rig.name)
        return head + yaml.dump(doc, Dumper=NoAliasDumper, sort_keys=False,
                                default_flow_style=False, allow_unicode=True, width=100)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rig", required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out")
    a = ap.parse_args()
    text = Gen(Rig(a.rig), a.seed).text()
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
