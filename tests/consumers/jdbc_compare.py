#!/usr/bin/env python3
"""Compare a source table with the Debezium JDBC sink's copy of it, row by row, column by column.

usage: jdbc_compare.py SOURCE_DSN SOURCE_TABLE TARGET_DSN TARGET_TABLE KEY [--quiet] [--strict-types]
Prints one line per difference:
  MISSING  key=...                    a source row the target lacks
  EXTRA    key=...                    a target row the source lacks
  COLUMN   missing|extra NAME         a column on one side only (extra: sink-added)
  TYPE     NAME source=T target=T     the auto-created column's type differs
  VALUE    key=... NAME source=... target=...   a value differs (after allowing the type change)
and a summary line. Exit 0 when no MISSING/EXTRA/missing COLUMN/VALUE line was printed
(TYPE lines alone do not fail, unless --strict-types: a pre-created target must keep every type),
1 otherwise, 2 when a table cannot be read.
"""
import datetime
import decimal
import json
import subprocess
import sys


def psql(dsn, sql):
    r = subprocess.run(["psql", dsn, "-XAt", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip())
    return r.stdout.strip()


def read(dsn, table, key):
    rows = json.loads(psql(dsn, f'SELECT coalesce(json_agg(to_jsonb(t) ORDER BY t."{key}"), \'[]\') FROM {table} t'))
    schema, name = table.replace('"', '').split('.', 1)
    types = json.loads(psql(dsn, "SELECT coalesce(json_object_agg(column_name, CASE WHEN data_type IN "
                                 "('ARRAY','USER-DEFINED') THEN udt_name ELSE data_type END), '{}') "
                                 f"FROM information_schema.columns WHERE table_schema='{schema}' "
                                 f"AND table_name='{name}'"))
    return {str(r[key]): r for r in rows}, types


def pg_array(s):
    """A one-dimensional Postgres array literal ('{a,"b,c",NULL}') as a list, or None."""
    if not (s.startswith("{") and s.endswith("}")):
        return None
    out, i, body = [], 0, s[1:-1]
    if body == "":
        return out
    while i <= len(body):
        if i < len(body) and body[i] == '"':
            j, buf = i + 1, []
            while j < len(body) and body[j] != '"':
                if body[j] == "\\":
                    j += 1
                buf.append(body[j])
                j += 1
            out.append("".join(buf))
            i = j + 1
        else:
            j = body.find(",", i)
            j = len(body) if j < 0 else j
            tok = body[i:j]
            if "{" in tok:
                return None  # nested: not handled
            out.append(None if tok == "NULL" else tok)
            i = j
        if i < len(body) and body[i] != ",":
            return None
        i += 1
    return out


def norm(v):
    """One comparable form for a value that a type change may have re-encoded."""
    if isinstance(v, str):
        s = v
        try:
            return ("ts", datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp())
        except ValueError:
            pass
        try:
            return ("num", decimal.Decimal(s))
        except decimal.InvalidOperation:
            pass
        if s[:1] in "[{":
            try:
                return norm(json.loads(s))
            except ValueError:
                pass
            a = pg_array(s)  # an array column the sink created as text: its literal
            if a is not None:
                return norm(a)
        return ("str", s)
    if isinstance(v, bool) or v is None:
        return ("lit", v)
    if isinstance(v, (int, float)):
        return ("num", decimal.Decimal(str(v)))
    if isinstance(v, list):
        return ("list", tuple(norm(x) for x in v))
    if isinstance(v, dict):
        return ("obj", tuple(sorted((k, norm(x)) for k, x in v.items())))
    return ("other", repr(v))


def show(v):
    s = json.dumps(v, ensure_ascii=False)
    return s if len(s) <= 70 else f"{s[:40]}...({len(s)} chars)...{s[-16:]}"


def main(argv):
    quiet = "--quiet" in argv
    strict_types = "--strict-types" in argv
    argv = [a for a in argv if a not in ("--quiet", "--strict-types")]
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    sdsn, stab, tdsn, ttab, key = argv
    out = (lambda *a: None) if quiet else print
    try:
        src, stypes = read(sdsn, stab, key)
        tgt, ttypes = read(tdsn, ttab, key)
    except (RuntimeError, ValueError) as e:
        out(f"cannot read: {e}")
        return 2
    fails = 0
    for c in stypes:
        if c not in ttypes:
            out(f"COLUMN   missing {c} ({stypes[c]})")
            fails += 1
        elif stypes[c] != ttypes[c]:
            out(f"TYPE     {c} source={stypes[c]} target={ttypes[c]}")
            fails += strict_types
    for c in ttypes:
        if c not in stypes:
            out(f"COLUMN   extra {c} ({ttypes[c]})")
    counts = {"missing": 0, "extra": 0, "values": 0, "rows_with_value_diffs": 0}
    for k in src:
        if k not in tgt:
            out(f"MISSING  {key}={k}")
            counts["missing"] += 1
            continue
        bad = False
        for c, sv in src[k].items():
            if c not in tgt[k]:
                continue
            tv = tgt[k][c]
            if sv != tv and norm(sv) != norm(tv):
                out(f"VALUE    {key}={k} {c}: source={show(sv)} target={show(tv)}")
                counts["values"] += 1
                bad = True
        counts["rows_with_value_diffs"] += bad
    for k in tgt:
        if k not in src:
            out(f"EXTRA    {key}={k}")
            counts["extra"] += 1
    fails += counts["missing"] + counts["extra"] + counts["values"]
    out(f"compared: source {len(src)} rows, target {len(tgt)} rows; missing {counts['missing']}, "
        f"extra {counts['extra']}, {counts['values']} differing values in "
        f"{counts['rows_with_value_diffs']} rows; "
        f"{sum(1 for c in stypes if c in ttypes and stypes[c] != ttypes[c])} column type changes")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
