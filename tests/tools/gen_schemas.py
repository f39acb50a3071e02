#!/usr/bin/env python3
"""
The JSON Schemas of lbl's recipes and rig files (draft 2020-12), written from
their parsers (recipes/recipe.c, hw/rig/rig.c, hw/rig/profile.c, the units of
base/units.c). This is their one source: the .json files are its output,
installed to /usr/share/lbl/schema/ for YAML editors; test_schema.sh checks
that they match it and validates the examples and the bad-recipe corpus.
When a parser gains a key, add it here and run: tests/tools/gen_schemas.py .

Structure only: what needs the rig, the clock or the plan is lblctl check's.
"""
import json
import os
import re
import sys

N = r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
def units(names): return "(?:" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + ")"
U = {
 "length": (["mm","cm","m","um","µm"], "a length such as 40 mm (mm, cm, m, um)"),
 "speed": (["mm/s","mm/min","cm/s","cm/min","m/min","m/s","um/s"], "a speed such as 10 mm/s (mm/s, mm/min, cm/s, cm/min, m/min, m/s, um/s)"),
 "accel": (["mm/s2","mm/s^2","mm/s²","m/s2","m/s^2","m/s²"], "an acceleration such as 500 mm/s2 (mm/s2, m/s2)"),
 "flow": (["mL/min","ml/min","mL/s","ml/s","mL/h","ml/h","uL/min","µL/min","uL/s","µL/s","L/min","L/h"], "a flow such as 20 mL/min (mL/min, mL/s, mL/h, uL/s, uL/min, L/min, L/h)"),
 "volume": (["mL","ml","uL","µL","L"], "a volume such as 250 mL (mL, uL, L)"),
 "area": (["cm2","cm²","mm2","mm²","m2","m²"], "an area such as 25 cm2 (cm2, mm2, m2)"),
 "thickness": (["nm","um","µm","A","Å"], "a thickness such as 39 nm (nm, um, A)"),
 "frequency": (["Hz","kHz","MHz"], "a frequency such as 5 MHz (Hz, kHz, MHz)"),
 "rotation": (["rpm"], "a rotation speed such as 60 rpm"),
 "density": (["g/cm3","g/cm³","g/mL","kg/m3"], "a density such as 1.2 g/cm3 (g/cm3, g/mL, kg/m3)"),
}
def qdefs(kinds):
    d = {}
    for k in kinds:
        names, desc = U[k]
        u = units(names)
        d[k] = {"type": "string", "description": desc, "pattern": "^ *[+-]?" + N + " *" + u + "$"}
        d[k + "Positive"] = {"type": "string", "description": desc + ", greater than zero",
            "pattern": "^ *\\+?" + N + " *" + u + "$",
            "not": {"pattern": "^ *\\+?(?:0+\\.?0*|\\.0+)(?:[eE][+-]?[0-9]+)? *" + u + "$"}}
        d[k + "NonNegative"] = {"type": "string", "description": desc + ", zero or more",
            "pattern": "^ *\\+?" + N + " *" + u + "$"}
    return d
DUR = {"type": "string",
    "description": "a duration such as 90s, 10min or 1h30m (parts h, min or m, s, ms, from hours down; longer than zero, at most a year)",
    "pattern": "^ *(?=[^ ])(?:" + N + " *h *)?(?:" + N + " *(?:min|m) *)?(?:" + N + " *s *)?(?:" + N + " *ms *)?$",
    "not": {"pattern": "^ *(?:(?:0+\\.?0*|\\.0+) *(?:h|min|m|s|ms) *)+$"}}
TEXT = {"type": ["string", "number"], "description": "a non-empty text (a number is taken as its text)", "minLength": 1}
def ref(n): return {"$ref": "#/$defs/" + n}
def obj(props, required=(), desc=None, extra=None):
    o = {"type": "object", "properties": props, "additionalProperties": False}
    if required: o["required"] = list(required)
    if desc: o["description"] = desc
    if extra: o.update(extra)
    return o
def with_desc(r, d):
    x = dict(r); x["description"] = d; return x

# ---------------- recipe ----------------
def step_bodies(process, first):
    """The step kinds of a process; first: cycle steps may carry first_cycle."""
    b = {}
    def fc(props, kind):
        if first:
            props = dict(props)
            props["first_cycle"] = {"description": "overrides of this step's fields for the first bilayer only (cycle steps only; no key required, none nested)",
                "$ref": "#/$defs/first_" + process + "_" + kind}
        return props
    imm = {"speed_in": with_desc(ref("speedPositive"), "immersion speed (at most the lift's max_speed)"),
           "speed_out": with_desc(ref("speedPositive"), "withdrawal speed"),
           "depth": with_desc(ref("lengthPositive"), "immersion depth below the surface (at most the station's max_depth)"),
           "agitation": with_desc(ref("rotationPositive"), "stirrer speed during the dwell (the station needs a stirrer)"),
           "drip": with_desc(ref("duration"), "drip time above the bath after withdrawal (default: the recipe's drip)")}
    if process == "dip":
        b["dip"] = obj(fc(dict({"solution": with_desc(ref("name"), "a solution of 'solutions'"), "dwell": with_desc(ref("duration"), "time immersed")}, **imm), "dip"), ["solution", "dwell"], "immerse in a solution")
        bath = obj({"solution": with_desc(ref("name"), "a rinse solution"), "dwell": ref("duration"),
                    "quick_dips": {"type": "integer", "minimum": 1, "maximum": 100, "description": "dips of the dwell each"}}, ["solution", "dwell"])
        rp = dict({"solution": with_desc(ref("name"), "a rinse solution (rinse: true)"), "dwell": ref("duration"),
                   "quick_dips": {"type": "integer", "minimum": 1, "maximum": 100},
                   "baths": {"type": "array", "minItems": 1, "items": bath, "description": "a cascade of rinse baths, in order"}}, **imm)
        b["rinse"] = obj(fc(rp, "rinse"), (), "rinse: one bath (solution, dwell) or a cascade (baths)",
            {"oneOf": [{"required": ["baths"], "not": {"anyOf": [{"required": ["solution"]}, {"required": ["dwell"]}, {"required": ["quick_dips"]}]}},
                       {"required": ["solution", "dwell"], "not": {"required": ["baths"]}}]} if not first else
            {"oneOf": [{"required": ["baths"], "not": {"anyOf": [{"required": ["solution"]}, {"required": ["dwell"]}, {"required": ["quick_dips"]}]}},
                       {"required": ["solution", "dwell"], "not": {"required": ["baths"]}}]})
    if process == "spray":
        b["spray"] = obj(fc({"solution": with_desc(ref("name"), "one solution (its nozzle)"),
            "solutions": {"type": "array", "minItems": 2, "maxItems": 4, "items": ref("name"), "description": "2 to 4 solutions sprayed together"},
            "time": with_desc(ref("duration"), "spray time"),
            "flow": with_desc(ref("flowPositive"), "pump flow (pump-fed nozzles; at most the pump's max_flow)"),
            "drain": with_desc(ref("duration"), "drain time after spraying")}, "spray"), ["time"], "spray one solution or several together",
            {"oneOf": [{"required": ["solution"], "not": {"required": ["solutions"]}}, {"required": ["solutions"], "not": {"required": ["solution"]}}]})
    if process in ("dip", "spray"):
        b["dry"] = obj(fc({"valve": with_desc(ref("name"), "the air or N2 valve"), "station": with_desc(ref("name"), "the dryer station"),
            "time": with_desc(ref("duration"), "drying time"),
            "slow_withdrawal": with_desc(ref("speedPositive"), "dry by withdrawing slowly from the last bath (no valve or station)")}, "dry"), (),
            "dry by gas flow (time with a valve or station) or by slow withdrawal",
            {"anyOf": [{"required": ["time"], "anyOf": [{"required": ["valve"]}, {"required": ["station"]}]}, {"required": ["slow_withdrawal"]}],
             "not": {"required": ["slow_withdrawal"], "anyOf": [{"required": ["valve"]}, {"required": ["station"]}]}})
        b["wait"] = {"oneOf": [ref("duration"), obj(fc({"time": ref("duration")}, "wait"), ["time"])], "description": "wait: '- wait: 30s' or '- wait: {time: 30s}'"}
    if process == "roll":
        b["bath"] = obj({"solution": ref("name"), "path": with_desc(ref("lengthPositive"), "web path through the bath (default: the station's path_length)")}, ["solution"], "the web runs through a coating bath")
        b["rinse"] = obj({"solution": ref("name"), "path": ref("length")}, ["solution"], "the web runs through a rinse bath")
        b["dry"] = obj({"valve": ref("name"), "station": ref("name"), "path": ref("lengthPositive"), "time": ref("duration")}, ["station"], "the web runs through a dryer or air knife")
    b["prompt"] = {"oneOf": [{"type": "string", "minLength": 1, "maxLength": 1024}, obj({"message": {"type": ["string", "number"], "minLength": 1, "maxLength": 1024}}, ["message"])],
                   "description": "wait for the operator ('lblctl continue'): '- prompt: text' (at most 1024 bytes)"}
    b["measure"] = obj({"sensor": ref("name"), "method": {"enum": ["sauerbrey", "gauge", "absorbance"]},
        "settle": ref("duration"), "film_density": with_desc(ref("densityPositive"), "sauerbrey: the film's density (required but for a baseline)"),
        "nm_per_absorbance": {"type": "number", "exclusiveMinimum": 0, "description": "absorbance: the calibration (required)"},
        "stop_at_target": {"type": "boolean"}, "baseline": {"type": "boolean", "description": "sauerbrey: measure the bare crystal (in pre only)"}},
        ["sensor", "method"], "measure the film",
        {"allOf": [
            {"if": {"properties": {"method": {"const": "sauerbrey"}}, "required": ["method"]},
             "then": {"if": {"properties": {"baseline": {"const": True}}, "required": ["baseline"]}, "then": {"not": {"properties": {"stop_at_target": {"const": True}}, "required": ["stop_at_target"]}}, "else": {"required": ["film_density"]}},
             "else": {"not": {"anyOf": [{"required": ["film_density"]}, {"required": ["baseline"]}]}}},
            {"if": {"properties": {"method": {"const": "absorbance"}}, "required": ["method"]},
             "then": {"required": ["nm_per_absorbance"]}, "else": {"not": {"required": ["nm_per_absorbance"]}}}]})
    b["set"] = obj({"output": with_desc(ref("name"), "a valve or pump of the rig"),
        "value": {"description": "on, off, or a pump's flow", "anyOf": [{"type": "boolean"}, {"enum": ["on", "off", "true", "false"]}, ref("flowNonNegative")]}},
        ["output", "value"], "switch an output")
    if process != "roll":
        b["repeat"] = obj({"times": {"type": "integer", "minimum": 1, "maximum": 10000},
            "steps": {"type": "array", "minItems": 1, "items": ref("step_" + process)}}, ["times", "steps"], "repeat steps (nested at most 8 deep)")
    return b

def first_override(body):
    """A first_cycle block: the same keys, none required, no first_cycle, no oneOf/anyOf demands."""
    if "oneOf" in body and "properties" not in body:   # wait
        o = [x for x in body["oneOf"] if x.get("type") == "object"][0]
        body = o
    props = {k: v for k, v in body["properties"].items() if k != "first_cycle"}
    return {"type": "object", "properties": props, "additionalProperties": False}

def step_def(bodies, kinds):
    alts = []
    for k in kinds:
        alts.append({"type": "object", "properties": {k: bodies[k]}, "required": [k], "additionalProperties": False})
    return {"description": "a step: one key naming its kind, its fields below it", "oneOf": alts}

defs = {"duration": DUR, "name": TEXT}
defs.update(qdefs(["length", "speed", "flow", "volume", "area", "thickness", "rotation", "density"]))
kinds = {"dip": ["dip", "rinse", "dry", "wait", "prompt", "measure", "set", "repeat"],
         "spray": ["spray", "dry", "wait", "prompt", "measure", "set", "repeat"],
         "roll": ["bath", "rinse", "dry", "prompt", "measure", "set"]}
for proc in ("dip", "spray", "roll"):
    plain = step_bodies(proc, False)
    withfirst = step_bodies(proc, True)
    defs["step_" + proc] = step_def(plain, kinds[proc])
    defs["cycleStep_" + proc] = step_def(withfirst, kinds[proc])
    for k in kinds[proc]:
        if "first_cycle" in json.dumps(withfirst[k]):
            defs["first_" + proc + "_" + k] = first_override(plain[k])
every_step = {"oneOf": [{"type": "object", "properties": {"measure": {"$ref": "#/$defs/step_dip/oneOf/5/properties/measure"}}, "required": ["measure"], "additionalProperties": False},
                        {"type": "object", "properties": {"prompt": {"$ref": "#/$defs/step_dip/oneOf/4/properties/prompt"}}, "required": ["prompt"], "additionalProperties": False},
                        {"type": "object", "properties": {"wait": {"$ref": "#/$defs/step_dip/oneOf/3/properties/wait"}}, "required": ["wait"], "additionalProperties": False}]}
solution = obj({
    "station": with_desc(ref("name"), "dip and roll: the rig's station holding it"),
    "nozzle": with_desc(ref("name"), "spray: the rig's nozzle spraying it"),
    "rinse": {"type": "boolean", "description": "a rinse, not a coating solution"},
    "chemistry": ref("name"), "concentration": ref("name"), "solvent": ref("name"), "lot": ref("name"),
    "ph": {"type": "number", "minimum": 0, "maximum": 14},
    "volume": with_desc(ref("volumePositive"), "volume in the vessel (at most the station's volume)"),
    "prepared_at": {"type": ["string"], "description": "when it was made: 2026-11-24, 2026-11-24T08:00[:00][Z] or 2026-11-24 08:00",
        "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2})?)?Z?$"},
    "shelf_life": with_desc(ref("duration"), "how long after prepared_at it may be used"),
    "change_after": obj({"dips": {"type": "integer", "minimum": 1, "maximum": 1000000}, "area": ref("areaPositive"),
                         "cycles": {"type": "integer", "minimum": 1, "maximum": 10000}}, (), "replace it after this much use"),
    "top_up": with_desc(ref("flowPositive"), "roll-to-roll baths: the top-up flow"),
    "description": ref("name")}, (), "a solution or rinse")
recipe = {
 "$schema": "https://json-schema.org/draft/2020-12/schema",
 "title": "lbl recipe",
 "description": "A layer-by-layer coating recipe for lbl (lbl-recipe(5)). Structure only: what depends on the rig (stations, nozzles, devices, speeds and depths within their limits), on time (shelf life), on the plan (bath volumes, step lengths, plan size) and on YAML details this schema cannot see (anchors, tags, duplicate keys) is checked by 'lblctl check RECIPE --rig RIG'.",
 "type": "object",
 "additionalProperties": False,
 "required": ["name", "version", "process", "substrate", "target", "growth", "resume", "solutions", "cycle"],
 "properties": {
  "name": with_desc(ref("name"), "the recipe's name (lblctl run NAME)"),
  "version": with_desc(ref("name"), "its version, quoted: \"1\""),
  "process": {"enum": ["dip", "spray", "roll"], "description": "dip (lift and transfer), spray (nozzles in a booth) or roll (roll-to-roll line)"},
  "description": ref("name"),
  "substrate": {"description": "the substrate: its name, or name, area and dragout", "oneOf": [ref("name"),
     obj({"name": ref("name"), "area": ref("areaPositive"), "dragout": with_desc(ref("volumeNonNegative"), "liquid carried out of each bath"), "description": ref("name")}, ["name"])]},
  "target": obj({"bilayers": {"type": "integer", "minimum": 1, "maximum": 10000}, "thickness": ref("thicknessPositive"),
      "max_bilayers": {"type": "integer", "minimum": 1, "maximum": 10000, "description": "caps a thickness target"}}, (),
      "bilayers, a thickness (with max_bilayers or bilayers as its cap), or both",
      {"anyOf": [{"required": ["bilayers"]}, {"required": ["thickness", "max_bilayers"]}],
       "dependentRequired": {"max_bilayers": ["thickness"]}}),
  "growth": {"description": "the growth model: linear (per_bilayer) or exponential (a, b, k, optionally linear_after with per_bilayer)",
     "type": "object", "required": ["model"],
     "properties": {"model": {"enum": ["linear", "exponential"]}, "per_bilayer": ref("thicknessPositive"), "a": ref("thickness"),
                    "b": ref("thicknessPositive"), "k": {"type": "number", "exclusiveMinimum": 0, "maximum": 5},
                    "linear_after": {"type": "integer", "minimum": 1, "maximum": 10000}},
     "additionalProperties": False,
     "if": {"properties": {"model": {"const": "linear"}}},
     "then": {"required": ["per_bilayer"], "not": {"anyOf": [{"required": ["a"]}, {"required": ["b"]}, {"required": ["k"]}, {"required": ["linear_after"]}]}},
     "else": {"required": ["a", "b", "k"], "dependentRequired": {"linear_after": ["per_bilayer"], "per_bilayer": ["linear_after"]}}},
  "resume": {"description": "whether an interrupted batch may be continued (lblctl resume-batch): allowed, forbidden, or {allowed, within}",
     "oneOf": [{"enum": ["allowed", "forbidden"]}, obj({"allowed": {"type": "boolean"}, "within": ref("duration")}, ["allowed"], None,
        {"if": {"properties": {"allowed": {"const": False}}}, "then": {"not": {"required": ["within"]}}})]},
  "drip": with_desc(ref("duration"), "default drip time after each withdrawal (5s)"),
  "line": obj({"speed": ref("speedPositive"), "web_length": ref("lengthPositive"), "web_width": ref("lengthPositive"), "rewind": ref("duration")},
      ["speed", "web_length"], "roll-to-roll: the web"),
  "spray": obj({"nozzle_distance": ref("lengthPositive")}, (), "spray settings"),
  "solutions": {"type": "object", "minProperties": 1, "maxProperties": 64, "additionalProperties": ref("solution"),
                "description": "the solutions and rinses by name (at most 64)"},
  "pre": {"type": "array", "minItems": 1, "description": "steps before the first bilayer"},
  "cycle": {"type": "array", "minItems": 1, "description": "the steps of one bilayer"},
  "post": {"type": "array", "minItems": 1, "description": "steps after the last bilayer"},
  "every": {"type": "array", "items": obj({"bilayers": {"type": "integer", "minimum": 1, "maximum": 10000},
      "do": {"type": "array", "minItems": 1, "items": ref("everyStep")}}, ["bilayers", "do"]),
      "description": "checkpoints: measure, prompt or wait steps every N bilayers"}},
 "allOf": [],
 "$defs": defs}
defs["solution"] = solution
defs["everyStep"] = every_step
for proc in ("dip", "spray", "roll"):
    cond = {"if": {"properties": {"process": {"const": proc}}, "required": ["process"]},
            "then": {"properties": {"pre": {"items": ref("step_" + proc)}, "post": {"items": ref("step_" + proc)},
                                    "cycle": {"items": ref("cycleStep_" + proc)}}}}
    sol_not = {"dip": ["nozzle", "top_up"], "spray": ["top_up"], "roll": ["nozzle"]}[proc]
    sol = {"not": {"anyOf": [{"required": [k]} for k in sol_not]}}
    if proc != "spray":
        sol["required"] = ["station"]
    else:
        sol["required"] = ["nozzle"]
    cond["then"]["properties"]["solutions"] = {"additionalProperties": sol}
    if proc == "roll":
        cond["then"]["required"] = ["line"]
    else:
        cond["then"]["not"] = {"required": ["line"]}
    if proc != "spray":
        cond["then"]["allOf"] = [{"not": {"required": ["spray"]}}]
    recipe["allOf"].append(cond)
RECIPE_SCHEMA = recipe

# ---------------- rig ----------------
rdefs = {"duration": DUR, "name": TEXT}
rdefs.update(qdefs(["length", "speed", "accel", "flow", "volume", "frequency", "rotation"]))
HEXINT = lambda lo, hi: {"anyOf": [{"type": "integer", "minimum": lo, "maximum": hi}, {"type": "string", "pattern": "^(?:0[xX][0-9a-fA-F]+|-?[0-9]+)$"}],
                         "description": "an integer from %d to %d, decimal or 0x hex" % (lo, hi)}
rng = obj({"min": {"type": "number"}, "max": {"type": "number"}}, ["min", "max"], "the plausible range of readings, engineering units (min below max)")
op = obj({"table": {"enum": ["coil", "discrete", "input", "holding"]}, "address": HEXINT(0, 65535),
          "type": {"enum": ["bit", "uint16", "int16", "uint32", "int32", "float32"]},
          "word_order": {"enum": ["high-first", "low-first"]}, "scale": {"type": "number"}, "offset": {"type": "number"},
          "bit": HEXINT(0, 15), "write": HEXINT(-2147483648, 2147483647), "description": ref("name")}, ["address"],
         "one operation: where it lives (table, address, type, word order, bit) and how values scale; 'write' is a command's value")
OPS = ["target", "speed", "accel", "go", "home", "stop", "enable", "position", "busy", "in_position", "alarm", "flow", "run", "direction", "volume",
       "running", "on", "off", "state", "active", "value", "length", "watchdog", "rpm", "homed", "reset"]
ROLES = ["axis", "pump", "valve", "input", "sensor", "line"]
KINDS = {"axis": ["lift", "transfer", "rotation"], "pump": ["peristaltic", "syringe", "stirrer"], "valve": ["valve", "relay"],
         "input": ["estop", "interlock", "limit", "level"], "sensor": ["temperature", "qcm", "thickness", "absorbance", "encoder"], "line": ["web"]}
profile = obj({"role": {"enum": ROLES}, "base": with_desc(ref("name"), "a built-in profile or one defined above, whose operations this one changes"),
    "word_order": {"enum": ["high-first", "low-first"]}, "tolerance": with_desc(ref("lengthPositive"), "axes: how close counts as in position"),
    "ops": {"type": "object", "propertyNames": {"enum": OPS}, "additionalProperties": op, "description": "the operations by name (which a role takes and needs: lbl-rig(5), PROFILES)"},
    "range": rng, "description": ref("name")}, (), "a device profile: a register map as data",
    {"anyOf": [{"required": ["base"]}, {"required": ["role", "ops"]}]})
role_only = {"travel": ["axis"], "max_accel": ["axis"], "home": ["axis"], "max_speed": ["axis", "line"], "max_flow": ["pump"], "max_rpm": ["pump"],
             "f0": ["sensor"], "range": ["sensor"], "volume_tolerance": ["pump"], "comm_timeout": ["axis", "pump", "valve", "line"],
             "poll_period": ["axis", "pump", "valve", "line", "sensor"]}
dev_all = []
for role in ROLES:
    then = {"properties": {"kind": {"enum": KINDS[role]}}}
    banned = [k for k, rs in role_only.items() if role not in rs]
    if banned:
        then["not"] = {"anyOf": [{"required": [k]} for k in banned]}
    req = {"axis": ["travel", "max_speed"], "line": ["max_speed"]}.get(role)
    if req: then["required"] = req
    if role not in ("valve", "input"):
        then["required"] = (then.get("required") or []) + ["bus"]
    dev_all.append({"if": {"properties": {"role": {"const": role}}, "required": ["role"]}, "then": then})
dev_all.append({"if": {"properties": {"role": {"const": "pump"}, "kind": {"const": "stirrer"}}, "required": ["role", "kind"]},
                "then": {"required": ["max_rpm"], "not": {"anyOf": [{"required": ["max_flow"]}, {"required": ["volume_tolerance"]}]}},
                "else": {"if": {"properties": {"role": {"const": "pump"}}, "required": ["role"]}, "then": {"required": ["max_flow"], "not": {"required": ["max_rpm"]}}}})
dev_all.append({"oneOf": [{"required": ["bus", "unit", "profile"], "not": {"required": ["gpio"]}},
                          {"required": ["gpio"], "not": {"anyOf": [{"required": ["bus"]}, {"required": ["unit"]}, {"required": ["profile"]}, {"required": ["comm_timeout"]}, {"required": ["poll_period"]}]}}]})
dev_all.append({"if": {"properties": {"role": {"const": "input"}}, "required": ["role"]}, "then": {"not": {"required": ["poll_period"]}}})
device = obj({"role": {"enum": ROLES}, "kind": {"description": "by role: axis lift, transfer, rotation; pump peristaltic, syringe, stirrer; valve valve, relay; input estop, interlock, limit, level; sensor temperature, qcm, thickness, absorbance, encoder; line web",
                                                  "enum": sorted(set(sum(KINDS.values(), [])))},
    "bus": with_desc(ref("name"), "the bus it is on (a key of buses)"), "unit": {"type": "integer", "minimum": 1, "maximum": 247, "description": "its Modbus unit id"},
    "profile": with_desc(ref("name"), "its device profile: built-in or in profiles"),
    "gpio": obj({"chip": {"type": "string", "minLength": 1, "not": {"pattern": "^[0-9]+$"}, "description": "the chip's name or label (never its number)"},
                 "line": ref("name"), "active_low": {"type": "boolean"}, "bias": {"enum": ["as-is", "pull-up", "pull-down", "disabled"]},
                 "debounce": with_desc(ref("duration"), "at most 1s")}, ["chip", "line"], "a GPIO line (valves and inputs only)"),
    "travel": obj({"min": ref("length"), "max": ref("length")}, ["min", "max"], "axes: the travel (max above min)"),
    "max_speed": with_desc(ref("speedPositive"), "axes and line drives: the speed limit"),
    "max_accel": with_desc(ref("accelPositive"), "axes: the acceleration (none: constant speed)"),
    "max_flow": with_desc(ref("flowPositive"), "pumps: the flow limit"), "max_rpm": with_desc(ref("rotationPositive"), "stirrers: the speed limit"),
    "f0": with_desc(ref("frequencyPositive"), "qcm: the bare crystal's frequency"),
    "comm_timeout": with_desc(ref("duration"), "Modbus axes, pumps, valves, line drives: the device's own communication-loss timeout, 100ms to 60s"),
    "poll_period": with_desc(ref("duration"), "Modbus devices but inputs: how often polled while a batch runs, 20ms to 60s"),
    "params": {"description": "free parameters, not read by lbl"},
    "range": rng, "volume_tolerance": {"description": "pumps: how far short of the plan their own volume counter may come, a percentage above 0 and at most 50 (10% or 10)",
        "anyOf": [{"type": "number", "exclusiveMinimum": 0, "maximum": 50}, {"type": "string", "pattern": "^" + N + "%?$"}]},
    "home": {"enum": ["startup", "first-batch", "command"], "description": "axes: when it is homed"},
    "description": ref("name")}, ["role", "kind"], "a device", {"allOf": dev_all})
bus = obj({"type": {"enum": ["tcp", "rtu"]}, "host": ref("name"), "port": {"type": "integer", "minimum": 1, "maximum": 65535},
    "device": with_desc(ref("name"), "rtu: the serial device, e.g. /dev/ttyUSB0"), "baud": {"type": "integer", "minimum": 1200, "maximum": 4000000},
    "parity": {"enum": ["none", "even", "odd"]}, "data_bits": {"type": "integer", "minimum": 5, "maximum": 8}, "stop_bits": {"type": "integer", "minimum": 1, "maximum": 2},
    "timeout": with_desc(ref("duration"), "response timeout per transaction (500ms)"), "frame_delay": with_desc(ref("duration"), "rtu: extra quiet time between frames"),
    "retries": {"type": "integer", "minimum": 0, "maximum": 10}, "description": ref("name")}, ["type"], "a Modbus bus",
    {"if": {"properties": {"type": {"const": "tcp"}}}, "then": {"required": ["host", "port"], "not": {"anyOf": [{"required": [k]} for k in ["device", "baud", "parity", "data_bits", "stop_bits", "frame_delay"]]}},
     "else": {"required": ["device"], "not": {"anyOf": [{"required": ["host"]}, {"required": ["port"]}]}}})
station = obj({"kind": {"enum": ["beaker", "rinse", "spray", "dryer", "park", "bath"]}, "x": with_desc(ref("length"), "transfer axis position (required with a transfer axis)"),
    "surface_z": with_desc(ref("length"), "the lift position at the liquid surface (below safe_z)"), "max_depth": with_desc(ref("lengthPositive"), "deepest immersion below the surface"),
    "path_length": with_desc(ref("lengthPositive"), "roll-to-roll: the web path through it"), "volume": with_desc(ref("volumePositive"), "the vessel's working volume"),
    "fill_pump": ref("name"), "drain_pump": ref("name"), "stirrer": with_desc(ref("name"), "a pump of kind stirrer"), "description": ref("name")}, ["kind"], "a station",
    {"dependentRequired": {"max_depth": ["surface_z"], "surface_z": ["max_depth"], "fill_pump": ["drain_pump"], "drain_pump": ["fill_pump"]}})
nozzle = obj({"valve": ref("name"), "pump": ref("name"), "station": with_desc(ref("name"), "a spray station"), "description": ref("name")}, ["station"],
    "a spray nozzle: through its valve (pressure-fed or with a pump), or straight from its pump", {"anyOf": [{"required": ["valve"]}, {"required": ["pump"]}]})
cmd = {"type": "array", "minItems": 1, "prefixItems": [{"type": "string", "pattern": "^/", "description": "the program, an absolute path"}],
       "items": {"type": ["string", "number", "boolean"]}, "description": "the program (absolute path) and its arguments, run without a shell"}
rdefs["notifyCommand"] = cmd
rig = {
 "$schema": "https://json-schema.org/draft/2020-12/schema",
 "title": "lbl rig file",
 "description": "The rig file of lbl (lbl-rig(5)): buses, profiles, devices, motion, stations, nozzles, manual control and notifications. Structure only: references between sections (a device's bus, a station's pumps, a nozzle's station), positions against the travel and safe height, profiles' operations per role and shared unit ids are checked by 'lblctl check-rig'.",
 "type": "object", "additionalProperties": False, "required": ["name", "devices"],
 "properties": {
  "name": with_desc(ref("name"), "the rig's name"), "description": ref("name"),
  "buses": {"type": "object", "additionalProperties": bus, "description": "Modbus buses by name"},
  "profiles": {"type": "object", "additionalProperties": profile, "description": "device profiles of this rig by name"},
  "devices": {"type": "object", "additionalProperties": device, "description": "the devices by name"},
  "motion": obj({"lift": ref("name"), "transfer": ref("name"), "safe_z": with_desc(ref("length"), "the lift position clear of every vessel"), "park": with_desc(ref("name"), "the station of kind park where the substrate parks (default: the first such station)")}, (),
      "the axes that move the substrate", {"dependentRequired": {"lift": ["safe_z"]}}),
  "stations": {"type": "object", "additionalProperties": station, "description": "the stations by name"},
  "nozzles": {"type": "object", "additionalProperties": nozzle, "description": "spray nozzles by name"},
  "manual": obj({"max_on": with_desc(ref("duration"), "how long an output switched on by hand may stay on, 1s to 4h (10min)")}, (), "manual control"),
  "notify": obj({"prompt": ref("notifyCommand"), "failed": ref("notifyCommand"), "completed": ref("notifyCommand"), "aborted": ref("notifyCommand"),
                 "estop": ref("notifyCommand"), "timeout": with_desc(ref("duration"), "how long a command may run before it is killed, 1s to 10min (30s)")}, (),
      "commands run on events (lbl-rig(5), NOTIFICATIONS)")},
 "$defs": rdefs}
RIG_SCHEMA = rig


def text(schema):
    return json.dumps(schema, indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    # gen_schemas.py [--check] TOP: writes (or compares) TOP/recipes/lbl-recipe.schema.json
    # and TOP/hw/lbl-rig.schema.json
    check = sys.argv[1] == "--check"
    top = sys.argv[-1]
    status = 0
    for path, schema in (("recipes/lbl-recipe.schema.json", RECIPE_SCHEMA),
                         ("hw/lbl-rig.schema.json", RIG_SCHEMA)):
        full = os.path.join(top, path)
        if check:
            with open(full, encoding="utf-8") as f:
                if f.read() != text(schema):
                    print("%s differs from what tests/tools/gen_schemas.py makes: edit the "
                          "generator and run it (tests/tools/gen_schemas.py .)" % path)
                    status = 1
        else:
            with open(full, "w", encoding="utf-8") as f:
                f.write(text(schema))
    sys.exit(status)
