"""Peak memory and time of ``jqforecast benchmark`` as the number of series grows.

Usage::

    python benchmarks/memory_scale.py [--copies 1 5] [--out benchmarks/out/memory_scale.json]
        [-- extra jqforecast benchmark options, e.g. --no-bayes --models jqforecast]

Issue #5 asks that the harness scale to the 23 000 series of M4 Yearly on more machines, so
what the coordinating process holds must not grow with series × draws × models. Not having
M4 here, the script makes a larger set from M3 yearly: ``copies`` copies of every series,
copy k multiplied by 1 + k/100 (different numbers, the same shapes), written to a temporary
directory, and runs the benchmark on it in a child process. Reported per size: series,
wall seconds, the peak resident memory of the coordinating process
(``getrusage(RUSAGE_SELF)``) and of its largest worker (``RUSAGE_CHILDREN``), the
benchmark's own split of its time (weight learning, jqforecast models, baselines), and the
ensemble's OWA (the copies are forecast like the originals, so it should hardly move).
Prints a table and writes JSON (atomically).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from _common import machine

from jqforecast._io import write_json

M3 = Path("../shared/benchmarks/m3_yearly")

CHILD = """
import json, resource, sys
from jqforecast.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    kib = lambda who: resource.getrusage(who).ru_maxrss / 1024
    print("MEMORY " + json.dumps({"driver_mib": kib(resource.RUSAGE_SELF),
                                  "largest_worker_mib": kib(resource.RUSAGE_CHILDREN)}))
"""


def replicate(src: Path, copies: int, key: str) -> pd.DataFrame:
    """``copies`` copies of a long-format file: copy k's ids suffixed ``~k``, its values
    × (1 + k/100)."""
    frame = pd.read_csv(src)
    parts = []
    for k in range(copies):
        part = frame.copy()
        if k:
            part["unique_id"] = part["unique_id"].astype(str) + f"~{k}"
            part["y"] = part["y"] * (1 + k / 100)
        parts.append(part)
    return pd.concat(parts, ignore_index=True).sort_values(["unique_id", key], kind="stable")


def measure(copies: int, extra: list[str], workdir: Path) -> dict:
    """One benchmark run on ``copies`` copies of M3 yearly; its time, memory and OWA."""
    train, test = workdir / f"train_{copies}.csv", workdir / f"test_{copies}.csv"
    replicate(M3 / "m3_yearly_train.csv", copies, "t").to_csv(train, index=False)
    replicate(M3 / "m3_yearly_test.csv", copies, "h").to_csv(test, index=False)
    out = workdir / f"run_{copies}"
    cmd = [sys.executable, "-c", CHILD, "benchmark", "--train", str(train), "--test", str(test)]
    cmd += ["--horizon", "6", "--out", str(out), *extra]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    lines = [x for x in done.stdout.splitlines() if x.startswith("MEMORY ")]
    if done.returncode or not lines:
        raise SystemExit(f"benchmark on {copies} copies failed:\n{done.stdout}\n{done.stderr}")
    metrics = json.loads((out / "metrics.json").read_text())
    return {
        "copies": copies,
        "series": metrics["series"],
        "draws": metrics["draws"],
        "models": sorted(metrics["models"]),
        "wall_seconds": round(seconds, 1),
        **{k: round(v, 1) for k, v in json.loads(lines[-1][7:]).items()},
        "owa_jqforecast": metrics["models"].get("jqforecast", {}).get("owa"),
        "parts_seconds": {
            k: round(metrics[k], 1)
            for k in ("weight_learning_seconds", "jq_wall_seconds", "baselines_wall_seconds")
        },
        "benchmark_seconds": round(metrics["total_seconds"], 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--copies", type=int, nargs="+", default=[1, 5])
    ap.add_argument("--out", default="benchmarks/out/memory_scale.json")
    ap.add_argument("extra", nargs=argparse.REMAINDER, help="options for jqforecast benchmark")
    args = ap.parse_args()
    extra = [x for x in args.extra if x != "--"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for copies in args.copies:
            rows.append(measure(copies, extra, Path(tmp)))
            r = rows[-1]
            print(
                f"{r['series']:>7} series  {r['wall_seconds']:>7.1f} s  driver "
                f"{r['driver_mib']:>8.1f} MiB  largest worker {r['largest_worker_mib']:>8.1f} MiB"
                f"  OWA {r['owa_jqforecast']}  {r['parts_seconds']}",
                flush=True,
            )
    write_json(Path(args.out), {"machine": machine(), "options": extra, "runs": rows})


if __name__ == "__main__":
    main()
