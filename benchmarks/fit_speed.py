"""Time to fit every model on the bundled default data, cold (fresh compile cache) and warm.

Usage: python benchmarks/fit_speed.py [--out benchmarks/out/fit_speed.json]

"Cold" runs each measurement in a fresh process with an empty PyTensor compile directory, so
it includes compiling the PyMC models; "warm" repeats in a fresh process with the cache kept.
numba's on-disk cache (jqforecast's integrated-paths likelihood, statsforecast's models) is
kept in both, as on a machine that has run anything once; one more row, "full default, numba
cache empty too", runs the full job cold with an empty numba cache as well (``NUMBA_CACHE_DIR``).
Prints a table and writes JSON. Goal (issue #3): warm full default fit <= 15 s, cold <= 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine

CHILD = r"""
import json, sys, time, warnings, logging
warnings.simplefilter("ignore")
logging.getLogger("pymc").setLevel(logging.ERROR)
t0 = time.perf_counter()
import jqforecast
from jqforecast.engine import forecast
data = jqforecast.load_default()
t_import = time.perf_counter() - t0
out = {"import+load": t_import}
from jqforecast.engine import applies, prepare, resolve_models
series = prepare(data)
for name in sys.argv[1].split(","):
    if name == "full default (auto)":
        subset, models = data, "auto"
    else:
        (model,) = resolve_models([name])
        ok = {s.id for s in series if applies(model, s) and s.n_obs >= model.min_points}
        subset = data[(data["metric"] + "/" + data["industry"]).isin(ok)]
        models = [name]
    t = time.perf_counter()
    if len(subset):
        forecast(subset, draws=4000, seed=0, models=models)
    out[name] = time.perf_counter() - t
print(json.dumps(out))
"""

MODELS = [
    "rw_drift",
    "damped_drift",
    "theta",
    "ets",
    "arima",
    "local_linear_trend",
    "bayes_growth",
    "bayes_count",
    "full default (auto)",
]


def measure(compiledir: str, models: list[str], numba_cache: str | None = None) -> dict:
    env = dict(os.environ, PYTENSOR_FLAGS=f"compiledir={compiledir}")
    if numba_cache:
        env["NUMBA_CACHE_DIR"] = numba_cache
    res = subprocess.run(
        [sys.executable, "-c", CHILD, ",".join(models)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="benchmarks/out/fit_speed.json")
    args = parser.parse_args()
    full, members = MODELS[-1:], MODELS[:-1]
    cold, warm = {}, {}
    # The full default job alone, from an empty compile cache, then again with the cache;
    # then each member alone the same way (so no measurement profits from another's compile).
    for models in (full, members):
        with tempfile.TemporaryDirectory() as cache:
            cold |= measure(cache, models)  # empty compile cache: includes compilation
            warm |= measure(cache, models)  # same cache, new process
    with tempfile.TemporaryDirectory() as cache:
        name = f"{full[0]}, numba cache empty too"
        cold[name] = measure(cache, full, numba_cache=f"{cache}/numba")[full[0]]
        warm[name] = measure(cache, full, numba_cache=f"{cache}/numba")[full[0]]
    rows = [(k, cold[k], warm[k]) for k in cold]
    print(f"{'model':<24}{'cold s':>10}{'warm s':>10}")
    for name, c, w in rows:
        print(f"{name:<24}{c:>10.2f}{w:>10.2f}")
    result = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d"),
        "draws": 4000,
        "note": "each model alone fits only the series it applies to; 'full default' is "
        "jqforecast.forecast(load_default()) with every member",
        "cold_seconds": cold,
        "warm_seconds": warm,
        "goal": {"warm_full_default_s": 15, "cold_full_default_s": 60},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
