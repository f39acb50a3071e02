#!/bin/sh
# The JSON Schemas (recipes/lbl-recipe.schema.json, hw/lbl-rig.schema.json,
# made by tests/tools/gen_schemas.py) with python3-jsonschema: each is a
# valid draft 2020-12 schema and what its generator makes; every example
# recipe and rig file validates; every recipe of the bad-recipe corpus
# (tests/bad) is rejected by the YAML loader or the schema, except those
# listed below that only 'lblctl check' can judge, which the schema must
# accept (so the list stays exact); a few broken rig files are rejected by
# both the schema and lblctl check-rig.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
ctl="$LBL_BUILD/lblctl"

if ! /usr/bin/python3 -c 'import jsonschema, yaml' 2>/dev/null; then
	fail "python3-jsonschema and python3-yaml" "not installed (make deps installs them)"
	exit 1
fi
/usr/bin/python3 "$LBL_TOP/tests/tools/gen_schemas.py" --check "$LBL_TOP" &&
    pass "the schemas are what tests/tools/gen_schemas.py makes" ||
    fail "the schemas match their generator" "see above"

# Broken rig files: the schema and lblctl check-rig both refuse them.
rigs="$LBL_TMP/rigs"
mkdir -p "$rigs"
base="$LBL_TOP/hw/examples/spray-rig.yaml"
sed 's/max_flow: 60 mL\/min}/max_flow: 60}/' "$base" >"$rigs/pump-bare-flow.yaml"
sed 's/host: 127.0.0.1, //' "$base" >"$rigs/tcp-without-host.yaml"
sed 's/kind: peristaltic/kind: peristaltik/' "$base" >"$rigs/unknown-kind.yaml"
sed 's/^stations:/statoins:/' "$base" >"$rigs/typo-section.yaml"
{ cat "$base"; printf 'notify:\n  failed: [curl, -d, x, https://example.org]\n'; } >"$rigs/notify-relative.yaml"
{ cat "$base"; printf 'notify:\n  failed: [/bin/true]\n  timeout: 30\n'; } >"$rigs/notify-bare-timeout.yaml"
sed 's/unit: 5, profile: generic-valve}/unit: 5, profile: generic-valve, gpio: {chip: x, line: y}}/' \
    "$base" >"$rigs/bus-and-gpio.yaml"
for f in "$rigs"/*.yaml; do
	"$ctl" check-rig "$f" >/dev/null 2>&1 && fail "lblctl check-rig refuses $(basename "$f")" "accepted" ||
	    pass "lblctl check-rig refuses $(basename "$f")"
done

# The man pages' own examples: lbl-recipe(5)'s SYNOPSIS recipe passes
# lblctl check on the example dip rig, lbl-rig(5)'s notify section passes
# check-rig on a copy of the spray rig; both are validated below too.
man="$LBL_TMP/man"
mkdir -p "$man"
sed -n '/^\.SH SYNOPSIS/,/^\.SH/p' "$LBL_TOP/recipes/lbl-recipe.5" | sed '1,2d;$d' | sed '$d' >"$man/synopsis.yaml"
"$ctl" check "$man/synopsis.yaml" --rig "$LBL_TOP/hw/examples/dip-rig.yaml" >"$man/check.out" 2>&1 &&
    pass "lbl-recipe(5)'s SYNOPSIS recipe passes lblctl check" ||
    fail "lbl-recipe(5)'s SYNOPSIS recipe passes lblctl check" "$(head -3 "$man/check.out")"
{ cat "$LBL_TOP/hw/examples/spray-rig.yaml"
  sed -n '/^\.SH NOTIFICATIONS/,/^\.EE/p' "$LBL_TOP/hw/lbl-rig.5" | sed -n '/^\.EX/,/^\.EE/p' | sed '1d;$d'
} >"$man/notify-rig.yaml"
"$ctl" check-rig "$man/notify-rig.yaml" >"$man/check-rig.out" 2>&1 &&
    grep -q '^notify:' "$man/notify-rig.yaml" &&
    pass "lbl-rig(5)'s notify example passes lblctl check-rig" ||
    fail "lbl-rig(5)'s notify example passes lblctl check-rig" "$(head -3 "$man/check-rig.out")"

# Valid recipes of every step kind and boundary value (those of test_generated,
# which lblctl check accepts by construction): the schema must accept each.
gen="$LBL_TMP/gen"
mkdir -p "$gen"
for rig in hw/examples/dip-rig.yaml hw/examples/spray-rig.yaml hw/examples/roll-rig.yaml \
    tests/data/rig-devices.yaml; do
	for seed in $(seq 1 25); do
		/usr/bin/python3 "$LBL_TOP/tests/integration/gen_recipes.py" --rig "$LBL_TOP/$rig" \
		    --seed "$seed" --out "$gen/$(basename "$rig" .yaml)-$seed.yaml" ||
		    fail "gen_recipes.py --rig $rig --seed $seed" "no recipe"
	done
done

/usr/bin/python3 - "$LBL_TOP" "$rigs" "$gen" "$man" <<'PY' || LBL_FAILED=1
import glob, json, os, sys
import jsonschema, yaml

top, rigs, gen, man = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]

# YAML 1.1 timestamps stay text, as lbl reads them (prepared_at: 2026-11-24)
class Loader(yaml.SafeLoader):
    pass
Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}

failed = False
def check(name, ok, why=""):
    global failed
    print(("PASS %s" % name) if ok else ("FAIL %s: %s" % (name, why)))
    failed = failed or not ok

schemas = {}
for kind, path in (("recipe", "recipes/lbl-recipe.schema.json"), ("rig", "hw/lbl-rig.schema.json")):
    with open(os.path.join(top, path), encoding="utf-8") as f:
        schema = json.load(f)
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
        check("%s is a valid draft 2020-12 schema" % path, True)
    except jsonschema.SchemaError as e:
        check("%s is a valid draft 2020-12 schema" % path, False, e.message)
    schemas[kind] = jsonschema.Draft202012Validator(schema)

def errors(kind, path):
    """The YAML loader's refusal, or the schema's errors ([] when valid)."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = yaml.load(f, Loader=Loader)
    except yaml.YAMLError as e:
        return ["YAML: " + str(e).splitlines()[0]]
    return ["%s: %s" % ("/".join(map(str, e.absolute_path)) or "(top)", e.message[:200])
            for e in schemas[kind].iter_errors(doc)]

for path in sorted(glob.glob(os.path.join(top, "recipes/examples/*.yaml"))):
    e = errors("recipe", path)
    check("example %s validates" % os.path.basename(path), not e, "; ".join(e[:3]))
for kind, name in (("recipe", "synopsis.yaml"), ("rig", "notify-rig.yaml")):
    e = errors(kind, os.path.join(man, name))
    check("the man page example %s validates" % name, not e, "; ".join(e[:3]))
generated = sorted(glob.glob(os.path.join(gen, "*.yaml")))
refused = [(os.path.basename(p), errors("recipe", p)) for p in generated]
refused = [(p, e) for p, e in refused if e]
check("%d generated valid recipes (every step kind, boundary values) validate" % len(generated),
      len(generated) >= 100 and not refused,
      "%d files; %s" % (len(generated), "; ".join("%s: %s" % (p, e[0]) for p, e in refused[:3])))
for path in sorted(glob.glob(os.path.join(top, "hw/examples/*.yaml")) +
                   glob.glob(os.path.join(top, "tests/data/rig-*.yaml"))):
    e = errors("rig", path)
    check("rig %s validates" % os.path.relpath(path, top), not e, "; ".join(e[:3]))

# The bad recipes only lblctl check can judge, and why: the schema sees one
# file's structure, not the rig, the clock, the plan, references between
# keys, or YAML the loader has already resolved. lbl-recipe(5) lists them.
CHECK_ONLY = {
    "07-unknown-solution": "a reference to a solution by name",
    "09-anchor": "YAML anchors: the loader resolves them, lbl refuses them",
    "15-depth-beyond-station": "the rig's station depth",
    "16-speed-beyond-lift": "the rig's lift speed",
    "17-unknown-station": "the rig's stations",
    "18-rinse-not-rinse": "a reference to a solution that is not a rinse",
    "19-one-coating-solution": "what the cycle coats with",
    "25-expired-solution": "the clock (shelf life)",
    "26-bath-runs-dry": "the plan (volumes used)",
    "29-duplicate-key": "duplicate keys: the loader keeps the last",
    "32-method-sensor-mismatch": "the rig's sensor kind",
    "33-repeat-too-deep": "nesting depth of repeat blocks",
    "34-slow-withdrawal-first": "the step before a slow withdrawal",
    "35-stop-at-target-no-thickness": "a step against the target section",
    "36-agitation-no-stirrer": "the rig's stirrers",
    "38-yaml-tag": "YAML tags: the loader resolves them, lbl refuses them",
    "43-unknown-dry-valve": "the rig's valves",
    "44-set-output-is-sensor": "the rig's device roles",
    "46-plan-too-big": "the plan's size",
    "48-agitation-beyond-max-rpm": "the rig's stirrer speed",
    "49-step-shorter-than-shortest": "the rig's buses (the shortest step)",
    "50-rinse-agitation-no-stirrer": "the rig's stirrers",
}
bad = sorted(glob.glob(os.path.join(top, "tests/bad/*.yaml")))
check("the bad-recipe corpus is there (%d files)" % len(bad), len(bad) >= 40, "%d" % len(bad))
rejected = 0
for path in bad:
    name = os.path.basename(path)[:-5]
    e = errors("recipe", path)
    if name in CHECK_ONLY:
        check("bad %s: the schema accepts it, only lblctl check can tell (%s)" %
              (name, CHECK_ONLY[name]), not e,
              "the schema rejects it now (%s): move it out of CHECK_ONLY and out of "
              "lbl-recipe(5)'s list" % "; ".join(e[:2]))
    else:
        rejected += bool(e)
        check("bad %s: rejected (%s)" % (name, (e[0] if e else "")[:90]), bool(e),
              "the schema accepts it")
print("info: %d of %d bad recipes rejected by the YAML loader or the schema, %d need lblctl check"
      % (rejected, len(bad), len(CHECK_ONLY)))
for path in sorted(glob.glob(os.path.join(rigs, "*.yaml"))):
    e = errors("rig", path)
    check("broken rig %s: rejected (%s)" % (os.path.basename(path), (e[0] if e else "")[:90]),
          bool(e), "the schema accepts it")
sys.exit(1 if failed else 0)
PY
[ -z "${LBL_FAILED:-}" ]
