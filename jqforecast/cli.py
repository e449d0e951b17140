"""The ``jqforecast`` command line (typer).

Exit codes (all commands): 0 success; 1 invalid input data (the problems are listed on
stderr); 2 model failure or poor convergence diagnostics; 3 output error.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from jqforecast.data.errors import DataWarning, ValidationError
from jqforecast.data.units import format_as_written, format_quantity
from jqforecast.models.ensemble import COMBINE, COMBINE_METHODS
from jqforecast.pipeline.run import EXIT_DATA, EXIT_OK, EXIT_OUTPUT

app = typer.Typer(
    name="jqforecast",
    help=__doc__,
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Build and inspect the bundled dataset.", no_args_is_help=True)
app.add_typer(data_app, name="data")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _report_invalid(exc: ValidationError) -> None:
    err.print(f"[bold red]invalid input data[/]: {len(exc.problems)} problem(s)")
    for problem in exc.problems:
        err.print(f"  - {problem}", markup=False, highlight=False)


@contextlib.contextmanager
def _data_warnings_to_stderr() -> Iterator[None]:
    """Show data warnings as one clean line each on stderr (not Python's warning format)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        try:
            yield
        finally:
            for w in caught:
                if issubclass(w.category, DataWarning):
                    err.print(f"[yellow]warning[/]: {w.message}", highlight=False)


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="CSV/XLSX files or folders to check.")],
) -> None:
    """Validate data files; exit 0 if valid, 1 if not (every problem listed on stderr)."""
    from jqforecast.data import load

    with _data_warnings_to_stderr():
        try:
            table = load(paths)
        except ValidationError as exc:
            _report_invalid(exc)
            raise typer.Exit(EXIT_DATA) from None
        except FileNotFoundError as exc:
            err.print(f"[bold red]{exc}[/]")
            raise typer.Exit(EXIT_DATA) from None
    out.print(
        f"valid: {len(table)} rows, {table.groupby(['metric', 'industry']).ngroups} series, "
        f"status {table['status'].value_counts().to_dict()}"
    )


@data_app.command("build")
def data_build(
    raw: Annotated[Path | None, typer.Option(help="Raw data folder (default data/raw).")] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Output folder (default data/processed).")
    ] = None,
) -> None:
    """Validate data/raw and write data/processed/observations.parquet (atomically)."""
    from jqforecast.data.store import build

    try:
        with _data_warnings_to_stderr():
            table, path = build(raw, out_dir)
    except ValidationError as exc:
        _report_invalid(exc)
        err.print("data/processed was left unchanged")
        raise typer.Exit(EXIT_DATA) from None
    except OSError as exc:
        err.print(f"[bold red]output error[/]: {exc}")
        raise typer.Exit(EXIT_OUTPUT) from None
    out.print(f"wrote {path} ({len(table)} rows)")


@data_app.command("derive")
def data_derive(
    check: Annotated[
        bool, typer.Option(help="Only check that data/raw/jinqiao_park.csv is up to date.")
    ] = False,
) -> None:
    """Re-derive data/raw/jinqiao_park.csv from data/raw/inputs (figures + assumptions)."""
    import pandas as pd

    from jqforecast._io import write_csv
    from jqforecast.data.derive import derive_default
    from jqforecast.paths import default_data_file

    derived = derive_default()
    target = default_data_file()
    if check:
        current = pd.read_csv(target)
        same = (
            len(current) == len(derived)
            and current["value"].round(6).tolist() == derived["value"].round(6).tolist()
        )
        out.print("up to date" if same else "OUT OF DATE: run `jqforecast data derive`")
        raise typer.Exit(EXIT_OK if same else EXIT_DATA)
    write_csv(target, derived)
    out.print(f"wrote {target} ({len(derived)} rows)")


@data_app.command("show")
def data_show(
    paths: Annotated[list[Path] | None, typer.Argument(help="Files (default: bundled).")] = None,
) -> None:
    """Print the series in a dataset: points, years, status."""
    import jqforecast

    table = jqforecast.load(paths) if paths else jqforecast.load_default()
    grid = Table("series", "unit", "years", "points", "status")
    for (metric, industry), g in table.groupby(["metric", "industry"]):
        grid.add_row(
            f"{metric}/{industry}",
            g["unit"].iloc[0],
            f"{g['year'].min()}–{g['year'].max()}",
            str(len(g)),
            ", ".join(sorted(set(g["status"]))),
        )
    out.print(grid)


@app.command("targets")
def list_targets(
    file: Annotated[Path | None, typer.Option(help="Extra targets YAML file.")] = None,
    lang: Annotated[str, typer.Option(help="zh or en")] = "zh",
) -> None:
    """List the targets (default: the seven of 浦府〔2025〕43号, plus any from --file)."""
    from jqforecast import targets

    grid = Table("id", "target", "measure", "firmness", "kind")
    for t in targets.load(file).values():
        grid.add_row(
            t.id,
            t.describe(lang),
            str(t.measure),
            t.firmness,
            "modelled" if t.modelled else "elicited",
        )
    out.print(grid)


@app.command("run")
def run_command(
    data: Annotated[
        list[Path] | None, typer.Option("--data", help="Data files/folders (default: bundled).")
    ] = None,
    targets_file: Annotated[
        Path | None, typer.Option("--targets", help="Extra targets YAML.")
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Reports folder.")] = None,
    seed: Annotated[int, typer.Option(help="The one random seed.")] = 0,
    draws: Annotated[int, typer.Option(help="Joint sample paths.")] = 4000,
    lang: Annotated[str, typer.Option(help="zh or en labels in the summary.")] = "zh",
    quiet: Annotated[bool, typer.Option("--quiet", help="Print only errors.")] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", help="Log the engine's messages and print weights and diagnostics."
        ),
    ] = False,
    quick: Annotated[
        bool, typer.Option("--quick", help="Statistical models only, ≤1000 draws (preview).")
    ] = False,
    scenarios_file: Annotated[
        Path | None, typer.Option("--scenarios", help="Scenarios YAML (levers to evaluate).")
    ] = None,
    on_poor_convergence: Annotated[
        str, typer.Option(help="fail (exit 2) or warn when MCMC diagnostics are poor.")
    ] = "fail",
) -> None:
    """Run the main job: validate → forecast → target probabilities → reports/runs/<time>/.

    Writes forecast.nc (sample paths), forecast.csv, targets.csv, scenarios.csv,
    gap_closing.csv, changes.csv, charts/, report.html, briefing.pptx and manifest.json, then
    points reports/latest at the run.

    Exit codes: 0 success; 1 invalid input data; 2 model failure or poor MCMC convergence
    (R-hat > 1.05, ESS < 100, divergences, after one automatic stricter refit;
    --on-poor-convergence warn records them instead);
    3 output error or another run holds the lock. A failed run leaves reports/latest untouched.
    """
    from jqforecast.pipeline.progress import StageProgress
    from jqforecast.pipeline.run import RunLocked, run

    on_stage = StageProgress(out, verbose=verbose, quiet=quiet)
    on_stage.configure_logging()

    try:
        result = run(
            data,
            targets_file,
            out_dir,
            seed=seed,
            draws=draws,
            quick=quick,
            scenarios_file=scenarios_file,
            lang=lang,
            on_poor_convergence=on_poor_convergence,
            on_stage=on_stage,
        )
    except RunLocked as exc:
        err.print(f"[bold red]{exc}[/]")
        raise typer.Exit(EXIT_OUTPUT) from None
    if result.exit_code != EXIT_OK:
        err.print(f"[bold red]run failed[/] (exit {result.exit_code}); see {result.run_dir}")
        err.print(result.error or "", markup=False, highlight=False)
        raise typer.Exit(result.exit_code)
    if not quiet:
        table = result.report.table
        grid = Table("target", "P(hit)", "median", "threshold", "verdict")
        for row in table.itertuples():
            label = row.label_zh if lang == "zh" else row.label_en
            p = (
                "—"
                if row.p_hit != row.p_hit
                else f"{row.p_hit:.2f} [{row.p_hit_lo:.2f}–{row.p_hit_hi:.2f}]"
                if row.kind == "modelled"
                else f"{row.p_hit:.2f} (elicited)"
            )
            median = "—" if row.kind != "modelled" else format_quantity(row.median, row.unit)
            threshold = format_as_written(row.threshold_as_written, row.unit_as_written)
            grid.add_row(
                label,
                p if row.kind != "no data" else "no data",
                median,
                f"{row.comparator} {threshold}",
                row.verdict_zh if lang == "zh" else row.verdict_en,
            )
        out.print(grid)
        out.print("Bundled data are derived, not official: read data/raw/SOURCES.md.")
        if verbose:
            _print_models(result.manifest)
        out.print(f"outputs: {result.run_dir}")


def _print_models(manifest: dict) -> None:
    """Members used per series with their draw shares, MCMC diagnostics and data warnings."""
    models = manifest.get("models", {})
    grid = Table("series", "members (share of draws)", "skipped")
    for sid, used in sorted(models.get("members_used", {}).items()):
        # one member a line: a narrow log (cron, 80 columns) never splits a name from its share
        shares = "\n".join(f"{k} {v:.2f}" for k, v in used.items()) or "observed"
        grid.add_row(sid, shares, ", ".join(sorted(models.get("skipped", {}).get(sid, {}))))
    out.print(grid)
    diag = Table("MCMC fit", "R-hat max", "ESS min", "divergences", "ok")
    for key, d in sorted(models.get("diagnostics", {}).items()):
        diag.add_row(
            key,
            f"{d['rhat_max']:.3f}",
            f"{d['ess_bulk_min']:.0f}",
            str(d["divergences"]),
            "yes" if d["ok"] else "NO",
        )
    if diag.row_count:
        out.print(diag)
    for warning in manifest.get("warnings", []):
        out.print(f"warning: {warning}", markup=False, highlight=False)


@app.command("benchmark")
def benchmark_command(
    train: Annotated[Path, typer.Option(help="Training CSV: unique_id, t, y.")],
    test: Annotated[Path, typer.Option(help="Test CSV: unique_id, h, y.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")],
    horizon: Annotated[int, typer.Option(help="Forecast horizon.")] = 6,
    max_history: Annotated[
        int | None, typer.Option(help="Keep only the last N training points per series.")
    ] = None,
    models: Annotated[
        list[str] | None, typer.Option(help="jqforecast models (default: ensemble + members).")
    ] = None,
    jobs: Annotated[int | None, typer.Option(help="Parallel workers (default: all cores).")] = None,
    backend: Annotated[str, typer.Option(help="local or dask.")] = "local",
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Address of a running Dask scheduler (tcp://host:8786) to run on, over as "
            "many machines as its cluster has; implies --backend dask, and --jobs defaults "
            "to the cluster's worker threads (its workers need jqforecast and the same "
            "dependency set installed). Without it --backend dask starts a local cluster of "
            "--jobs processes."
        ),
    ] = None,
    draws: Annotated[
        int, typer.Option(help="Sample paths per series (default: forecast()'s default).")
    ] = 4000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    weight_series: Annotated[
        int,
        typer.Option(
            min=1,
            help="Series (chosen at random) whose training backtests learn the ensemble "
            "weights and recalibration.",
        ),
    ] = 100,
    bayes: Annotated[
        bool,
        typer.Option(
            "--bayes/--no-bayes",
            help="Include the pooled Bayesian growth member (MCMC, chunks of 50 series).",
        ),
    ] = True,
    members: Annotated[
        list[str] | None,
        typer.Option(
            "--member",
            help="Statistical members of the jqforecast ensemble (repeat; default: all).",
        ),
    ] = None,
    combine: Annotated[
        str,
        typer.Option(help="How the ensemble combines members: mixture or quantile."),
    ] = COMBINE,
    weights: Annotated[
        str,
        typer.Option(
            help="Ensemble weights: learned (from the training backtests) or reference (the "
            "ones shipped for series too short to backtest, as the park's forecast uses)."
        ),
    ] = "learned",
) -> None:
    """Backtest jqforecast against Naive, Naive2, RWD, AutoETS, AutoTheta, AutoARIMA.

    Writes metrics.json, forecasts.csv, reliability.csv and reliability.png to --out and prints
    the metrics table (sMAPE, MASE, OWA, scaled CRPS, coverage, MSIS, Brier, log score, time)
    and the time in all and per series. Every model, baselines included, runs on the --jobs
    workers or the Dask cluster, in chunks of series that come back as summaries.
    """
    from jqforecast.backtest.benchmark import WEIGHTS_FROM, format_table, run_benchmark

    if backend not in ("local", "dask"):
        err.print("--backend must be local or dask")
        raise typer.Exit(EXIT_DATA)
    if combine not in COMBINE_METHODS:
        err.print(f"--combine must be one of {', '.join(COMBINE_METHODS)}")
        raise typer.Exit(EXIT_DATA)
    if weights not in WEIGHTS_FROM:
        err.print(f"--weights must be one of {', '.join(WEIGHTS_FROM)}")
        raise typer.Exit(EXIT_DATA)
    client = None
    if scheduler:
        from dask.distributed import Client

        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, ValueError) as exc:  # unreachable, or not an address
            err.print(f"[bold red]cannot reach the Dask scheduler[/] {scheduler}: {exc}")
            raise typer.Exit(EXIT_DATA) from None
    try:
        result = run_benchmark(
            train,
            test,
            horizon,
            out_dir,
            max_history=max_history,
            models=models,
            jobs=jobs,
            backend=backend,
            draws=draws,
            seed=seed,
            weight_series=weight_series,
            bayes=bayes,
            members=members,
            combine=combine,
            weights_from=weights,
            dask_client=client,
        )
    except (ValueError, FileNotFoundError) as exc:
        err.print(f"[bold red]invalid benchmark input[/]: {exc}")
        raise typer.Exit(EXIT_DATA) from None
    finally:
        if client is not None:
            client.close()
    out.print(format_table(result), markup=False, highlight=False)
    out.print(f"{result['series']} series; weights {result['weights']}")
    out.print(
        f"time: {result['total_seconds'] / 60:.1f} min in all, "
        f"{result['seconds_per_series']:.3f} s a series (weight learning "
        f"{result['weight_learning_seconds']:.0f} s, jqforecast models "
        f"{result['jq_wall_seconds']:.0f} s, baselines {result['baselines_wall_seconds']:.0f} s)"
    )
    out.print(f"wrote {out_dir}/metrics.json, forecasts.csv, reliability.csv, reliability.png")
