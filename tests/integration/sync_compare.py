#!/usr/bin/python3
"""Compares a rig's local record with its copy in the central database, row
for row and column for column, every table of the local schema:

    sync_compare.py LOCAL.db RIG_UUID PSQL_COMMAND... [-- --batches-present]

PSQL_COMMAND is how to run psql on the central database (e.g. runuser -u
nobody -- psql -h DIR -p PORT -U lbl -d lab). Values are compared as what
they are: integers as integers, REAL columns as the same double (PostgreSQL
prints the shortest text that reads back exactly), text byte for byte,
NULL as NULL. With --batches-present only the batches the central database
holds are compared (after a copy stopped mid-way: each must be whole), and
of the tables of no batch (recipes, rigs) only the rows it holds.
Prints "equal: N rows in T tables" and exits 0, or the first differences
and exits 1.
"""
import sqlite3
import subprocess
import sys

CENTRAL = {"rigs": "rig_files"}


def copy_unescape(field):
    if field == "\\N":
        return None
    out, i = [], 0
    esc = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\", "b": "\b", "f": "\f", "v": "\v"}
    while i < len(field):
        c = field[i]
        if c == "\\" and i + 1 < len(field):
            n = field[i + 1]
            if n in esc:
                out.append(esc[n])
                i += 2
                continue
            if n.isdigit():
                j = i + 1
                while j < len(field) and j < i + 4 and field[j] in "01234567":
                    j += 1
                out.append(chr(int(field[i + 1:j], 8)))
                i = j
                continue
        out.append(c)
        i += 1
    return "".join(out)


def canon(value, decl):
    if value is None:
        return None
    if decl == "INTEGER":
        return int(value)
    if decl == "REAL":
        return repr(float(value))
    return str(value)


def main():
    args = sys.argv[1:]
    present_only = "--batches-present" in args
    args = [a for a in args if a != "--batches-present"]
    local, rig, psql = args[0], args[1], args[2:]
    db = sqlite3.connect("file:%s?mode=ro" % local, uri=True)
    tables = [r[0] for r in db.execute(
        "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY rowid")]

    def central_rows(sql):
        out = subprocess.run(psql + ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                             "COPY (%s) TO STDOUT" % sql], capture_output=True, check=True)
        text = out.stdout.decode("utf-8")
        return [[copy_unescape(f) for f in line.split("\t")] for line in text.split("\n") if line != ""]

    present = None
    if present_only:
        present = {int(r[0]) for r in central_rows(
            "SELECT id FROM batches WHERE rig = '%s'" % rig)}
    total, bad = 0, []
    for t in tables:
        info = list(db.execute("PRAGMA table_info(%s)" % t))
        cols = [c[1] for c in info]
        decl = [c[2] for c in info]
        pk = [c[1] for c in sorted(info, key=lambda c: c[5]) if c[5] > 0]
        order = ", ".join(pk)
        lrows = [[canon(v, decl[i]) for i, v in enumerate(r)]
                 for r in db.execute("SELECT %s FROM %s ORDER BY %s" % (", ".join(cols), t, order))]
        crows = [[canon(v, decl[i]) for i, v in enumerate(r)]
                 for r in central_rows("SELECT %s FROM %s WHERE rig = '%s' ORDER BY %s" % (
                     ", ".join(cols), CENTRAL.get(t, t), rig, order))]
        if present is not None and "batch_id" in cols or (present is not None and t == "batches"):
            k = cols.index("batch_id") if "batch_id" in cols else cols.index("id")
            lrows = [r for r in lrows if r[k] in present]
            crows = [r for r in crows if r[k] in present]
        elif present is not None:
            # a table of no batch (recipes, rigs): a copy stopped before it
            # reached some rows holds fewer, each whole (killed before its
            # first chunk on a busy machine, it holds none)
            keys = [cols.index(c) for c in pk]
            held = {tuple(r[i] for i in keys) for r in crows}
            lrows = [r for r in lrows if tuple(r[i] for i in keys) in held]
        total += len(lrows)
        if lrows != crows:
            lset = {tuple(r) for r in lrows}
            cset = {tuple(r) for r in crows}
            only_l = sorted(lset - cset, key=str)[:3]
            only_c = sorted(cset - lset, key=str)[:3]
            bad.append("%s: %d local rows, %d central; local only: %s; central only: %s" % (
                t, len(lrows), len(crows), only_l, only_c))
    if bad:
        print("differ:", " | ".join(bad)[:3000])
        sys.exit(1)
    print("equal: %d rows in %d tables" % (total, len(tables)))


main()
