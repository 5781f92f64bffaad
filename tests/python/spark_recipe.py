"""The README's PySpark recipe, run in local mode on small capture sets: one wsdissect
run per set as a Spark task, each writing a Parquet part, then one Spark dataframe over
the parts.

    python3 spark_recipe.py WSDISSECT OUT_DIR SET...

Each SET is a directory of capture files (one capture, as wsdissect reads a directory).
Checks that the dataframe holds every message of every set (counted with JSON Lines)
and prints the messages per opcode and direction. Exits 0 on success.

Spark reads our `TIMESTAMP(ns)` columns only with
`spark.sql.legacy.parquet.nanosAsLong` (as nanoseconds since the epoch, a long), and
our `UINT64` columns as `DECIMAL(20,0)`.
"""

import subprocess
import sys
import time
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def dissect(args):
    """The map step: one capture set to one Parquet part, named after the set."""
    wsdissect, capture_set, out_dir = args
    part = Path(out_dir) / f"{Path(capture_set).name}.parquet"
    subprocess.run(
        [wsdissect, "-q", capture_set, "--format", "parquet", "--output", str(part)],
        check=True,
    )
    return str(part)


def main(wsdissect, out_dir, *sets):
    started = time.monotonic()
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("wsdissect")
        .config("spark.sql.legacy.parquet.nanosAsLong", "true")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    ready = time.monotonic()
    tasks = [(wsdissect, s, out_dir) for s in sets]
    parts = spark.sparkContext.parallelize(tasks, len(tasks)).map(dissect).collect()
    df = spark.read.parquet(*parts)
    by = df.groupBy("opcode", "direction").count().orderBy("opcode", "direction").collect()
    total = df.count()
    seconds = F.col("timestamp") / F.lit(1_000_000_000)
    first = df.select(F.min(seconds).cast("timestamp").alias("t")).first()["t"]
    done = time.monotonic()
    spark.stop()
    expected = 0
    for s in sets:
        out = subprocess.run(
            [wsdissect, "-q", s, "--format", "jsonl"], check=True, capture_output=True
        ).stdout
        expected += out.count(b"\n")
    if total != expected or total == 0:
        sys.exit(f"spark read {total} messages, JSON Lines has {expected}")
    for row in by:
        print(row["opcode"], row["direction"], row["count"])
    print(f"first message at {first}")
    print(f"session start {ready - started:.1f} s, map and queries {done - ready:.1f} s")


if __name__ == "__main__":
    main(*sys.argv[1:])
