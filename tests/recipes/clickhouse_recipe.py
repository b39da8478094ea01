#!/usr/bin/env python3
"""Runs the ClickHouse recipe of docs/consumers.md on chDB (in-process ClickHouse).

Usage: clickhouse_recipe.py RECORDS OUT [--doc docs/consumers.md] [--version-from-lsn]

RECORDS holds a topic's record values, one raw JSON value per line, in topic order. A tombstone
(null value) is an empty line or absent: the doc says the Kafka engine yields no row for an empty
payload, and the script drops empty lines for the same reason. The SQL comes from the doc itself,
the ```sql blocks of its "## ClickHouse" section, so the doc and this test cannot drift:
  1. the CREATE TABLE of the target table, run as written;
  2. the materialized view's SELECT, run as written except for its FROM: the Kafka queue table is
     replaced by file(RECORDS, 'JSONAsString', <the queue table's columns>), i.e. the rows the
     Kafka engine would hand the view, inserted with INSERT INTO <the view's TO table>.
--version-from-lsn is a negative control, not the recipe: the view's `_version` expression is
replaced by the change's `__lsn` as a number, the version the doc once advised, which a snapshot
read's watermark LSN can put above a later update of the same row.
Then it writes `SELECT * FROM <table> FINAL ORDER BY <its ORDER BY>` to OUT as JSON lines
(JSONEachRow) and prints a one-line summary on stdout.

Exit codes: 0 done; 2 chdb is not installed in this Python (scripts/install-deps installs it into
.tools/venv); 3 the doc's SQL could not be found (the section changed shape); 1 ClickHouse refused
a statement (its message on stderr).
"""
import argparse
import os
import re
import sys
import tempfile

try:
    from chdb import session as chdb_session
except ImportError as e:  # the test FAILs on this, it never skips
    sys.stderr.write(f"clickhouse_recipe: chdb is not importable by {sys.executable} ({e}); "
                     "run scripts/install-deps (it installs chdb into .tools/venv)\n")
    sys.exit(2)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def die(code, msg):
    sys.stderr.write(f"clickhouse_recipe: {msg}\n")
    sys.exit(code)


def clickhouse_section(doc_text):
    """The text from '## ClickHouse' up to the next level-2 heading."""
    m = re.search(r"^## ClickHouse\s*$(.*?)(?=^## )", doc_text, re.M | re.S)
    if not m:
        die(3, "no '## ClickHouse' section in the doc")
    return m.group(1)


def recipe_sql(section):
    """(create_table, target, order_by, view_select, queue_table, queue_columns) from the doc."""
    blocks = re.findall(r"^```sql\n(.*?)^```", section, re.M | re.S)
    sql = "\n".join(blocks)
    create = re.search(r"(CREATE TABLE\s+(\S+)\s*\(.*?ENGINE\s*=\s*ReplacingMergeTree.*?ORDER BY\s+([^;\s]+)[^;]*;)",
                       sql, re.S)
    queue = re.search(r"CREATE TABLE\s+(\S+)\s*\(([^)]*)\)\s*ENGINE\s*=\s*Kafka", sql, re.S)
    view = re.search(r"CREATE MATERIALIZED VIEW\s+\S+\s+TO\s+(\S+)\s+AS\s+(SELECT\b.*?);", sql, re.S)
    if not (create and queue and view):
        die(3, "the ClickHouse section lacks the ReplacingMergeTree CREATE TABLE, the Kafka queue "
               "table or the materialized view (found: create=%s queue=%s view=%s)"
            % (bool(create), bool(queue), bool(view)))
    if view.group(1) != create.group(2):
        die(3, f"the view writes to {view.group(1)}, the CREATE TABLE makes {create.group(2)}")
    return (create.group(1), create.group(2), create.group(3), view.group(2), queue.group(1),
            " ".join(queue.group(2).split()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("records")
    ap.add_argument("out")
    ap.add_argument("--doc", default=os.path.join(REPO, "docs", "consumers.md"))
    ap.add_argument("--version-from-lsn", action="store_true")
    args = ap.parse_args()
    with open(args.doc, encoding="utf-8") as f:
        create, target, order_by, select, queue, columns = recipe_sql(clickhouse_section(f.read()))
    if args.version_from_lsn:
        select = lsn_version(select)

    # The Kafka engine's rows: non-empty values only (a tombstone yields no row).
    records = tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8")
    kept = 0
    with open(args.records, encoding="utf-8") as f, records:
        for line in f:
            if line.strip():
                records.write(line if line.endswith("\n") else line + "\n")
                kept += 1
    from_queue = re.compile(r"\bFROM\s+" + re.escape(queue) + r"\b")
    if len(from_queue.findall(select)) != 1:
        die(3, f"the view's SELECT does not read FROM {queue} exactly once")
    source = "file('%s', 'JSONAsString', '%s')" % (records.name.replace("'", "\\'"), columns.replace("'", "\\'"))
    insert = f"INSERT INTO {target} " + from_queue.sub("FROM " + source, select)

    with tempfile.TemporaryDirectory(prefix="chdb-recipe-") as path:
        s = chdb_session.Session(path)  # on disk: the ReplacingMergeTree persists across statements
        try:
            database = target.split(".")[0] if "." in target else None
            for stmt in ([f"CREATE DATABASE IF NOT EXISTS {database}"] if database else []) + [create, insert]:
                run(s, stmt)
            rows = run(s, f"SELECT * FROM {target} FINAL ORDER BY {order_by}", "JSONEachRow")
            stored = run(s, f"SELECT count() FROM {target}", "TSV").strip()
        finally:
            s.close()
            os.unlink(records.name)
    with open(args.out, "w", encoding="utf-8") as out:
        out.write(rows)
    print(f"{kept} record values read, {stored} rows stored, {rows.count(chr(10))} rows in FINAL")


def lsn_version(select):
    """The view's SELECT with `... AS _version` computed from __lsn ("X/Y" hex) instead."""
    part = "reinterpretAsUInt64(reverse(unhex(leftPad(splitByChar('/', JSONExtractString(raw, '__lsn'))[%d], 16, '0'))))"
    expr = "toUInt128(bitShiftLeft(toUInt128(%s), 32) + %s)" % (part % 1, part % 2)
    out, n = re.subn(r"^(\s*).*\bAS\s+_version\b", lambda m: m.group(1) + expr + " AS _version", select, flags=re.M)
    if n != 1:
        die(3, "the view's SELECT has no single '... AS _version' line")
    return out


def run(s, stmt, fmt="CSV"):
    try:
        return s.query(stmt, fmt).bytes().decode("utf-8")
    except Exception as e:  # chdb raises its own error type with ClickHouse's message
        die(1, f"ClickHouse refused:\n{stmt[:2000]}\n-> {e}")


if __name__ == "__main__":
    main()
