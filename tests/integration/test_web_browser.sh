#!/bin/sh
# lbl-web's pages in a real browser: Debian's headless chromium, driven
# through the DevTools protocol (tests/integration/web_cdp.py, over
# --remote-debugging-pipe). Against lbld and lbl-simrig: the rig page shows
# the prompt, refuses Continue without a login, logs in and answers it
# (lbld's event of it then among the recent events, live); the bilayer
# count advances on the page during the run; the history page lists the
# finished batch and its detail shows the thickness chart, the timeline and
# steps planned against actual, and the events; back on the rig page, the
# run form starts a batch; two batches compared side by side; the recipes
# page shows a stored recipe and its plan.
# LBL_SCREENSHOTS=DIR keeps a screenshot of each page.
set -u
. "$LBL_TOP/tests/integration/lib.sh"
chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
	echo "info: no chromium (apt-get install chromium): the browser test is skipped"
	exit 0
fi
make_rig dip-rig.yaml "$LBL_TMP/rig.yaml"
start_simrig "$LBL_TMP/rig.yaml" --time-scale 50 || exit 1
start_lbld "$LBL_TMP/rig.yaml" "$LBL_TMP/lbl.db" --time-scale 50 || exit 1
hash=$(echo 'correct horse' | "$LBL_BUILD/lbl-web" --hash-password)
port=$(free_port)
cat >"$LBL_TMP/web.yaml" <<EOY
listen: "127.0.0.1:$port"
socket: $LBL_SOCKET
users:
  alice: "$hash"
EOY
"$LBL_BUILD/lbl-web" --config "$LBL_TMP/web.yaml" >"$LBL_TMP/web.out" 2>"$LBL_TMP/web.err" &
LBL_PIDS="$LBL_PIDS $!"
wait_for 10 grep -q '^ready' "$LBL_TMP/web.out" || { fail "lbl-web starts" "$(cat "$LBL_TMP/web.err")"; exit 1; }

# four short bilayers behind a prompt: about 16 s at time scale 50
cat >"$LBL_TMP/fast.yaml" <<'EOR'
name: web-fast
version: "1"
process: dip
substrate: {name: test coupon, area: 18 cm2, dragout: 0.1 mL}
target: {bilayers: 4}
growth: {model: linear, per_bilayer: 20 nm}
resume: allowed
drip: 1s
solutions:
  taa: {station: taa, volume: 200 mL}
  cnt: {station: cnt, volume: 200 mL}
  water: {station: rinse-2, rinse: true, volume: 250 mL}
pre:
  - prompt: Clamp the coupon in the holder
cycle:
  - dip: {solution: taa, dwell: 60s, speed_in: 20 mm/s, speed_out: 20 mm/s}
  - rinse: {solution: water, dwell: 20s}
  - dip: {solution: cnt, dwell: 60s, speed_in: 20 mm/s, speed_out: 20 mm/s}
  - rinse: {solution: water, dwell: 20s}
every:
  - bilayers: 1
    do:
      - measure: {sensor: gauge, method: gauge, settle: 5s}
EOR
"$LBL_BUILD/lblctl" run "$LBL_TMP/fast.yaml" --operator ci >/dev/null || { fail "run" "refused"; exit 1; }

PYTHONPATH="$LBL_TOP/tests/integration" /usr/bin/python3 - "$chromium" "$port" "$LBL_TMP" \
    "${LBL_SCREENSHOTS:-}" "$LBL_TMP/lbl.db" <<'PY'
import os, sqlite3, sys, time
from web_cdp import Browser
chromium, port, tmp, shots, db = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
url = "http://127.0.0.1:%d" % port
def ok(name, cond, why=""):
    print(("PASS %s" % name) if cond else ("FAIL %s: %s" % (name, why)), flush=True)
def shot(name):
    if shots:
        os.makedirs(shots, exist_ok=True)
        b.screenshot(os.path.join(shots, name + ".png"))
text = lambda id: "(document.getElementById(%r) || {}).textContent" % id
b = Browser(chromium, os.path.join(tmp, "chromium"))
try:
    b.open(url + "/")
    v = b.wait("document.getElementById('state') && document.getElementById('state').textContent"
               " === 'prompt' && !document.getElementById('prompt-box').classList.contains('hidden')"
               " && " + text("prompt"), 30)
    ok("rig page: the prompt shown", v and "Clamp the coupon" in v, repr(b.js(text("state"))))
    ok("rig page: the recipe and bilayers", "web-fast" in (b.js(text("title")) or "") and
       "/ 4" in (b.js(text("bilayers")) or ""), repr(b.js(text("title"))))
    shot("rig-prompt")
    # without a login: the page says so, and lbl-web refuses it too
    b.js("document.getElementById('continue').click()")
    v = b.wait(text("error"), 5)
    ok("continue without a login: the page asks for one", v and "Log in" in v, repr(v))
    code = b.js("fetch('/api/v1/continue', {method: 'POST'}).then(r => r.status)")
    ok("continue without a login: lbl-web refuses (401)", code == 401, repr(code))
    time.sleep(0.5)
    ok("the prompt still waits", b.js(text("state")) == "prompt", b.js(text("state")))
    # log in through the form, then Continue
    b.js("document.getElementById('user').value = 'alice';"
         "document.getElementById('password').value = 'correct horse';"
         "document.getElementById('login-button').click()")
    v = b.wait(text("who"), 15)
    ok("login through the form", v and "alice" in v, repr(v) + " " + repr(b.js(text("error"))))
    b.js("document.getElementById('continue').click()")
    v = b.wait("['running','waiting'].includes(" + text("state") + ") && "
               "document.getElementById('prompt-box').classList.contains('hidden')", 15)
    ok("Continue answers the prompt", v, repr(b.js(text("state"))) + " " + repr(b.js(text("error"))))
    # lbld's event of that continue appears on the page as it is recorded, no reload
    v = b.wait("[...document.querySelectorAll('#recent li')].map(l => l.textContent)"
               ".find(t => t.includes('continue') && t.includes('alice via lbl-web'))", 15)
    ok("rig page: the continue by alice among the recent events, live", v, repr(b.js(text("recent")))[:300])
    ok("rig page: the prompt's event before it", "prompt" in (b.js(text("recent")) or "") or
       "Clamp" in (b.js(text("recent")) or ""), repr(b.js(text("recent")))[:300])
    # the bilayer count advances on the page
    seen = []
    end = time.time() + 90
    while time.time() < end:
        t = b.js(text("bilayers")) or ""
        if t.startswith("bilayer ") and (not seen or seen[-1] != t):
            seen.append(t)
        if b.js(text("state")) == "idle":
            break
        time.sleep(0.05)
        if len(seen) == 3:
            shot("rig-running")
    nums = [int(s.split()[1]) for s in seen]
    ok("rig page: the bilayer count advances", len(set(nums)) >= 2 and nums == sorted(nums) and
       max(nums) >= 3, repr(seen))
    ok("rig page: the thickness chart drawn", b.js("document.querySelectorAll('#chart polyline').length") == 1,
       repr(b.js("document.getElementById('chart').innerHTML")))
    ok("the batch completed", b.wait(text("state") + " === 'idle'", 30) is not None, b.js(text("state")))
    con = sqlite3.connect(db)
    row = con.execute("select state from batches where id=1").fetchone()
    ev = con.execute("select message from events where batch_id=1 and kind='continue'").fetchall()
    ok("recorded: completed, continued by alice via lbl-web", row == ("completed",) and ev and
       "alice via lbl-web" in ev[0][0], repr(row) + repr(ev))
    # history: the finished batch and its detail
    b.navigate(url + "/history")
    v = b.wait("document.querySelector('#batches tbody tr') && "
               "document.querySelector('#batches tbody tr').textContent", 20)
    ok("history page: the batch listed", v and v.startswith("1web-fast") and "completed" in v, repr(v))
    shot("history")
    b.js("document.querySelector('#batches tbody tr').click()")
    v = b.wait("!document.getElementById('detail').classList.contains('hidden') && "
               "document.querySelectorAll('#steps tbody tr').length", 20)
    ok("history: the batch's steps", v and v > 8, repr(v))
    ok("history: the timeline, each step planned and as it ran",
       b.js("document.querySelectorAll('#timeline rect').length") == 2 * v,
       repr(b.js("document.querySelectorAll('#timeline rect').length")))
    ok("history: the thickness chart", b.js("document.querySelectorAll('#detail-chart polyline').length") == 1
       and b.js("document.querySelectorAll('#detail-chart circle').length") == 4,
       repr(b.js("document.getElementById('detail-chart').innerHTML")[:300]))
    ok("history: the events", "alice via lbl-web" in (b.js(text("events")) or ""), repr(b.js(text("events")))[:300])
    ok("history: export links", b.js("document.getElementById('export-csv').href").endswith(
       "/api/v1/batches/1/export?format=csv"))
    b.js("document.getElementById('detail').scrollIntoView()")
    shot("history-detail")
    # back on the rig page, idle and logged in: a batch started from the form
    b.navigate(url + "/")
    v = b.wait("!document.getElementById('run-box').classList.contains('hidden') && "
               "document.querySelectorAll('#run-recipe option').length", 20)
    ok("rig page: the run form, with the stored recipes", v == 1, repr(v))
    # the note is markup meant to run (an operator's text reaches every page as text only)
    b.js("document.querySelector('#run input[name=substrate]').value = 'coupon 2';"
         "document.querySelector('#run input[name=note]').value = "
         "'<img src=x onerror=\"window.pwned=1\"><script>window.pwned=2</script>';"
         "document.querySelector('#run button').click()")
    v = b.wait(text("state") + " === 'prompt' && " + text("batch"), 30)
    ok("rig page: the run form starts a batch", v and v.startswith("2"), repr(v) + " " + repr(b.js(text("error"))))
    row = con.execute("select operator, substrate from batches where id=2").fetchone()
    ok("recorded: started by alice via lbl-web", row == ("alice via lbl-web", "coupon 2"), repr(row))
    shot("rig-run-started")
    # compare the two batches; the recipes page
    b.navigate(url + "/history")
    v = b.wait("document.querySelectorAll('#batches tbody input[type=checkbox]').length", 20)
    ok("history: two batches to tick", v == 2, repr(v))
    b.js("document.querySelectorAll('#batches tbody input[type=checkbox]').forEach(c => c.click());"
         "document.getElementById('compare-button').click()")
    v = b.wait("!document.getElementById('compare-box').classList.contains('hidden') && "
               + text("compare"), 20)
    ok("history: compare shows lbld's comparison", v and "web-fast" in v, repr(v)[:300] + " " +
       repr(b.js(text("error"))))
    v = b.js("[...document.querySelectorAll('#compare-table tbody tr')].map(r => r.textContent).join('|')")
    ok("history: compare side by side, the two batches' facts in columns",
       v and "Operatoralice via lbl-webci" in v and "Substratecoupon 2test coupon" in v, repr(v)[:300])
    ok("history: compare charts both batches' thickness",
       b.js("document.querySelectorAll('#compare-chart polyline.est2').length") == 1 and
       b.js("document.querySelectorAll('#compare-chart circle.meas2').length") == 4,
       repr(b.js("document.getElementById('compare-chart').innerHTML"))[:300])
    b.js("document.getElementById('compare-box').scrollIntoView()")
    shot("compare")
    # the batch whose note is markup: shown as its text, nothing of it run or made an element
    b.navigate(url + "/history?batch=2")
    v = b.wait("[...document.querySelectorAll('#detail-facts dd')].map(d => d.textContent)"
               ".find(t => t.indexOf('onerror') >= 0)", 20)
    ok("history: a note of markup shown as text",
       v == '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>', repr(v))
    ok("history: nothing of it made an element or ran",
       b.js("document.querySelectorAll('img, #detail-facts script').length") == 0 and
       b.js("typeof window.pwned") == "undefined", repr(b.js("typeof window.pwned")))
    b.navigate(url + "/recipes")
    v = b.wait("document.querySelector('#recipes tbody tr') && "
               "(document.querySelector('#recipes tbody tr').click(), " + text("recipe-text") + ")", 20)
    ok("recipes page: a stored recipe's text", v and "name: web-fast" in v, repr(v)[:200])
    v = b.wait("!document.getElementById('plan-box').classList.contains('hidden') && "
               "document.querySelectorAll('#plan-steps tbody tr').length", 20)
    ok("recipes page: its plan, step by step", v and v >= 17, repr(v) + " " + repr(b.js(text("plan-error"))))
    facts = b.js(text("plan-facts")) or ""
    ok("recipes page: the plan's total time and volume", "Total time" in facts and "Volume used" in facts and
       "Bilayers4" in facts, repr(facts))
    ok("recipes page: the solutions' volumes", "taa" in (b.js(text("plan-solutions")) or ""),
       repr(b.js(text("plan-solutions"))))
    b.js("document.getElementById('plan-box').scrollIntoView()")
    shot("recipes")
finally:
    b.close()
PY
sanitizer_clean "$LBL_TMP/web.err" "lbl-web"
