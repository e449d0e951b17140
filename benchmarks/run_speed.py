"""Wall time of the full default nightly run (``jqforecast run``), cold and warm.

Usage: python benchmarks/run_speed.py [--repeat 2] [--out benchmarks/out/run_speed.json]

Each measurement is the whole command ``jqforecast run --out <tmp>`` in a fresh process, as
cron would start it (interpreter start, imports, validation, every model including MCMC, the
targets, scenarios, gap closing, sensitivity, charts, HTML and PPTX). "Cold" uses an empty
PyTensor compile directory, so it includes compiling the PyMC models; "warm" keeps it. The
per-stage times come from each run's manifest. Prints a table and writes JSON.
Goal (issue #6): warm <= 30 s, cold <= 90 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine


def measure(compiledir: str, out: Path) -> dict:
    """One run in a fresh process: wall seconds, exit code and the manifest's stage times."""
    env = dict(os.environ, PYTENSOR_FLAGS=f"compiledir={compiledir}")
    exe = Path(sys.executable).with_name("jqforecast")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(exe), "run", "--quiet", "--out", str(out)], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"run failed (exit {proc.returncode}):\n{proc.stderr}")
    manifest = json.loads((out / "latest" / "manifest.json").read_text(encoding="utf-8"))
    return {"wall_s": round(wall, 2), "stages_s": manifest["stages"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=2, help="warm runs after the cold one")
    parser.add_argument("--out", default="benchmarks/out/run_speed.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as reports:
        runs = []
        for i in range(1 + args.repeat):
            runs.append(measure(cache, Path(reports) / str(i)))
            shutil.rmtree(Path(reports) / str(i))
    cold, warm = runs[0], runs[1:]
    stages = list(cold["stages_s"])
    print(
        f"{'stage':<18}{'cold s':>9}" + "".join(f"{f'warm{i + 1} s':>9}" for i in range(len(warm)))
    )
    for name in stages:
        row = [cold["stages_s"][name]] + [w["stages_s"][name] for w in warm]
        print(f"{name:<18}" + "".join(f"{v:>9.2f}" for v in row))
    print(f"{'WALL (process)':<18}" + "".join(f"{r['wall_s']:>9.2f}" for r in runs))
    result = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "command": "jqforecast run --quiet --out <tmp>  (bundled data, 4000 draws, seed 0)",
        "cold": cold,
        "warm": warm,
        "goal": {"warm_wall_s": 30, "cold_wall_s": 90},
        "met": {
            "warm": min(w["wall_s"] for w in warm) <= 30 if warm else None,
            "cold": cold["wall_s"] <= 90,
        },
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
