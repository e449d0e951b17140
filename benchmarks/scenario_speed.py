"""Time to evaluate one scenario on 4000 joint draws for every modelled target (goal ≤ 50 ms).

Usage: python benchmarks/scenario_speed.py [--out benchmarks/out/scenario_speed.json]
A scenario only transforms the existing sample paths (no refitting), then P(hit) is computed
for every modelled target that has data (4 of the 7 on the bundled data: unicorns and new
floor space have no series, the incubator is elicited). Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import jqforecast
from jqforecast.scenarios import LevelShift, Scenario, Uplift, evaluable, p_hit

SCENARIOS = [
    Scenario("uplift_all", (Uplift(("revenue/ic", "revenue/biomed", "revenue/ai"), 5.0, 2025),)),
    Scenario("new_plant", (LevelShift("revenue/ic", 200.0, 2026, 0.6, 0.25),)),
    Scenario(
        "combined",
        (
            Uplift(("revenue/ai",), 3.0, 2025),
            LevelShift("pct_filings/park_total", 100.0, 2026, persist=False),
            Uplift(("smart_factories/park_total",), 10.0, 2025),
        ),
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="benchmarks/out/scenario_speed.json")
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    fc = jqforecast.forecast(jqforecast.load_default(), draws=4000, seed=0, models="statistical")
    usable = evaluable(fc)
    n_targets = len(usable)
    rows = {}
    for sc in SCENARIOS:
        timings = []
        for _ in range(args.reps + 1):  # the first repetition is a warm-up
            t0 = time.perf_counter()
            out = sc.apply(fc)
            [p_hit(out, t) for t in usable]
            timings.append(time.perf_counter() - t0)
        rows[sc.name] = 1000 * sum(timings[1:]) / args.reps
    print(f"{'scenario':<14}{'ms per scenario':>18}   ({fc.n_draws} draws × {n_targets} targets)")
    for name, ms in rows.items():
        print(f"{name:<14}{ms:>18.2f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {"draws": fc.n_draws, "targets": n_targets, "ms_per_scenario": rows, "goal_ms": 50},
            indent=2,
        )
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
