"""Reads wsdissect's Parquet and Arrow output with pyarrow and DuckDB, as users will.

    python3 columnar.py DIR

DIR holds messages.jsonl, messages.parquet, messages.arrow, flows.jsonl and
flows.parquet of one run. Checks that pyarrow reads every message back equal to its
JSON Lines record (payload compared after base64, times in nanoseconds), then runs the
README's DuckDB recipe over the Parquet files and over the JSON Lines files and checks
that both give the same answers. Exits 0 on success; prints what differs otherwise.
"""

import base64
import datetime
import json
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq


def ns(rfc3339):
    """Nanoseconds since the epoch of an RFC 3339 UTC time, at full precision."""
    whole, _, frac = rfc3339.rstrip("Z").partition(".")
    t = datetime.datetime.fromisoformat(whole).replace(tzinfo=datetime.timezone.utc)
    return int(t.timestamp()) * 1_000_000_000 + int((frac + "000000000")[:9])


def columnar_rows(table):
    """Rows in the JSON contract's shape: nulls left out, packets, data_b64."""
    table = table.set_column(
        table.schema.get_field_index("timestamp"),
        "timestamp",
        table.column("timestamp").cast(pa.int64()),
    )
    rows = []
    for r in table.to_pylist():
        r = {k: v for k, v in r.items() if v is not None}
        r["packets"] = [r.pop("packet_first"), r.pop("packet_last")]
        if "data" in r:
            r["data_b64"] = base64.b64encode(r.pop("data")).decode()
        rows.append(r)
    return rows


def json_rows(path):
    rows = []
    for line in path.read_text().splitlines():
        r = json.loads(line)
        del r["record"]
        r["timestamp"] = ns(r["timestamp"])
        r.setdefault("undecodable", False)
        r.setdefault("truncated", False)
        rows.append(r)
    return rows


def same(what, ours, truth):
    if len(ours) != len(truth):
        sys.exit(f"{what}: {len(ours)} records, JSON Lines has {len(truth)}")
    for i, (a, b) in enumerate(zip(ours, truth)):
        if a != b:
            sys.exit(f"{what}: record {i} differs\n  columnar {a}\n  json     {b}")


# The README's DuckDB recipe; {messages} and {flows} are the tables to read.
RECIPE = {
    "by opcode and direction": """
        SELECT opcode, direction, count(*) AS n, sum(length) AS bytes
        FROM {messages} GROUP BY ALL ORDER BY ALL""",
    "text search": """
        SELECT flow, packet_first, text FROM {messages}
        WHERE text ILIKE '%from server%' ORDER BY flow, packet_first LIMIT 5""",
    "flows joined to messages": """
        SELECT f.flow, f.state, f.path, count(m.flow) AS messages
        FROM {flows} f LEFT JOIN {messages} m USING (flow)
        GROUP BY ALL ORDER BY ALL""",
}


def main(d):
    d = Path(d)
    truth = json_rows(d / "messages.jsonl")
    same("parquet (pyarrow)", columnar_rows(pq.read_table(d / "messages.parquet")), truth)
    with pa.ipc.open_stream(d / "messages.arrow") as r:
        same("arrow (pyarrow)", columnar_rows(r.read_all()), truth)

    con = duckdb.connect()
    # JSON Lines: `packets` is an array; the Parquet columns name its ends.
    con.execute(
        f"""CREATE VIEW jm AS SELECT *, packets[1] AS packet_first
            FROM read_json('{d / "messages.jsonl"}', format='newline_delimited')"""
    )
    con.execute(f"CREATE VIEW jf AS SELECT * FROM read_json('{d / 'flows.jsonl'}')")
    for name, sql in RECIPE.items():
        pq_rows = con.execute(
            sql.format(
                messages=f"'{d / 'messages.parquet'}'", flows=f"'{d / 'flows.parquet'}'"
            )
        ).fetchall()
        js_rows = con.execute(sql.format(messages="jm", flows="jf")).fetchall()
        if not pq_rows or pq_rows != js_rows:
            sys.exit(f"DuckDB {name}: parquet {pq_rows} vs JSON Lines {js_rows}")
    print(f"{len(truth)} messages read back; DuckDB recipe agrees on Parquet and JSON Lines")


if __name__ == "__main__":
    main(sys.argv[1])
