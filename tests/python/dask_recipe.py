"""The README's Dask recipe, run on small capture sets: one wsdissect run per set on a
local cluster, each writing a Parquet part, then one dataframe over the parts.

    python3 dask_recipe.py WSDISSECT OUT_DIR SET...

Each SET is a directory of capture files (one capture, as wsdissect reads a directory).
Checks that the dataframe holds every message of every set (counted with JSON Lines)
and prints the messages per opcode. Exits 0 on success.
"""

import subprocess
import sys
from pathlib import Path

import dask.dataframe as dd
from distributed import Client, LocalCluster


def dissect(wsdissect, capture_set, out_dir):
    """The map step: one capture set to one Parquet part, named after the set."""
    part = Path(out_dir) / f"{Path(capture_set).name}.parquet"
    subprocess.run(
        [wsdissect, "-q", capture_set, "--format", "parquet", "--output", str(part)],
        check=True,
    )
    return str(part)


def main(wsdissect, out_dir, *sets):
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False) as cluster:
        with Client(cluster) as client:
            futures = client.map(dissect, [wsdissect] * len(sets), sets, [out_dir] * len(sets))
            parts = client.gather(futures)
            df = dd.read_parquet(parts)
            by_opcode = df.groupby("opcode", observed=True).size().compute()
            total = len(df)
    expected = 0
    for s in sets:
        out = subprocess.run(
            [wsdissect, "-q", s, "--format", "jsonl"], check=True, capture_output=True
        ).stdout
        expected += out.count(b"\n")
    if total != expected or total == 0:
        sys.exit(f"dask read {total} messages, JSON Lines has {expected}")
    print(by_opcode.to_string())


if __name__ == "__main__":
    main(*sys.argv[1:])
