"""One pipeline run: ingest → validate → forecast → targets → outputs, with a manifest.

Each run writes ``<out>/runs/<UTC timestamp>/``. Only a run whose every stage succeeded moves
``<out>/latest`` (a symlink swapped atomically); a failed run keeps its error and partial
manifest in its own folder and leaves ``latest`` untouched. A lock file stops two runs from
overlapping; a lock left by a process that no longer exists is cleared.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pandas as pd

from jqforecast import __version__
from jqforecast._io import file_sha256, write_csv, write_json, write_text
from jqforecast.briefing import write_html, write_pptx
from jqforecast.data.errors import DataWarning, ValidationError
from jqforecast.paths import default_data_file, reports_dir
from jqforecast.presentation import checkpoint_row
from jqforecast.scenarios import evaluate_scenarios, gap_closing, load_scenarios, sensitivity
from jqforecast.targets.checkpoints import checkpoints

EXIT_OK, EXIT_DATA, EXIT_MODEL, EXIT_OUTPUT = 0, 1, 2, 3
DEPENDENCIES = ("numpy", "pandas", "scipy", "statsmodels", "pymc", "xarray", "pandera")


# Documented keys of manifest.json (README, "Run folder"); a test checks every run has them.
MANIFEST_KEYS = (
    "status",
    "exit_code",
    "started_at",
    "finished_at",
    "seed",
    "draws",
    "quick",
    "inputs",
    "targets_file",
    "scenarios_file",
    "lang",
    "versions",
    "machine",
    "stages",
    "warnings",
    "models",
    "p_all_modelled",
    "data_summary",
    "charts",
)


class RunLocked(RuntimeError):
    """Another run holds the lock."""


@dataclass
class RunResult:
    """What a run did: exit code, folder, the target table and the manifest."""

    exit_code: int
    run_dir: Path
    manifest: dict
    report: object | None = None
    error: str | None = None
    stages: list[tuple[str, float]] = field(default_factory=list)


class Lock:
    """An exclusive lock on a file (``fcntl.flock``), which names the holder's pid.

    The kernel holds the lock for the open file and drops it when the holder exits or is
    killed, so a killed run never blocks the next one and there is no stale-lock guessing.
    (The earlier pid-file lock had two races: a second run could read the file between its
    creation and the pid being written, take it for stale and delete it; and two runs
    clearing the same stale lock could delete each other's fresh one. Both then ran.)
    The file stays in place and is emptied on release.
    """

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> Lock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RunLocked(f"another jqforecast run (pid {holder}) holds {self.path}") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the file releases the flock
            self._fd = None


def source_fingerprint(package: Path | None = None) -> str:
    """SHA-256 (first 16 hex digits) over the package's own files (code, shipped weights,
    default targets), path by path.

    Why: the version number changes only at a release, so two nightly runs of different
    code would otherwise look like the same software and a moved P(hit) would be put down
    to nothing (session 12's cumulative-stock rule moved one by 0.18). Hashing the files
    works whether or not the package sits in a git checkout.

    Examples
    --------
    >>> len(source_fingerprint()), source_fingerprint() == source_fingerprint()
    (16, True)
    """
    package = package or Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.suffix in {".py", ".json", ".yaml"} and "__pycache__" not in path.parts:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0")
            digest.update(file_sha256(path).encode())
    return digest.hexdigest()[:16]


def machine_fingerprint() -> dict[str, str]:
    """What the machine contributes to a run's numbers: architecture, CPU model, the
    instruction set PyTensor compiles the models for and the kernels the BLAS picked.

    Why: the same inputs, seed and software give the same numbers to the byte on one
    machine, but not across processors. PyTensor compiles the MCMC models for the host
    (``-march=…``) and OpenBLAS picks its kernels at run time, so floating-point rounding
    differs and NUTS trajectories part after enough steps: on an AMD EPYC (znver3) host the
    bundled data's PCT P(hit) was 0.819 where an earlier host gave 0.824, within its Monte
    Carlo error 0.006 (``benchmarks/RESULTS.md``, session 22). Recorded so that
    :func:`changes_since` can name the machine as a cause.

    Examples
    --------
    >>> sorted(machine_fingerprint())
    ['architecture', 'blas', 'compiled_for', 'cpu']
    """
    from pytensor.link.c.cmodule import GCC_compiler
    from threadpoolctl import threadpool_info

    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():  # Linux: the model name platform.processor() does not give
        names = [ln for ln in cpuinfo.read_text().splitlines() if ln.startswith("model name")]
        cpu = names[0].split(":", 1)[1].strip() if names else cpu
    try:
        target = [f for f in GCC_compiler.compile_args() if f.startswith(("-march", "-mtune"))]
    except Exception:  # noqa: BLE001 - no C compiler: PyTensor falls back to Python code
        target = []
    blas = sorted(  # sorted: the libraries are listed in the order they were loaded
        f"{i.get('internal_api')} {i.get('version')} {i.get('architecture', '')}".strip()
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    )
    return {
        "architecture": platform.machine(),
        "cpu": cpu or "unknown",
        "compiled_for": " ".join(target) or "no native flags",
        "blas": "; ".join(blas) or "unknown",
    }


def _versions() -> dict[str, str]:
    out = {
        "jqforecast": __version__,
        "jqforecast_source": source_fingerprint(),
        "python": platform.python_version(),
    }
    for dep in DEPENDENCIES:
        try:
            out[dep] = metadata.version(dep)
        except metadata.PackageNotFoundError:
            out[dep] = "not installed"
    return out


def _new_run_dir(out: Path) -> Path:
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir = out / "runs" / stamp
    suffix = 1
    while run_dir.exists():
        run_dir = out / "runs" / f"{stamp}-{suffix}"
        suffix += 1
    run_dir.mkdir(parents=True)
    return run_dir


def _point_latest(out: Path, run_dir: Path) -> None:
    """Atomically point ``out/latest`` at ``run_dir`` (relative symlink, swapped by rename)."""
    tmp = out / f".latest.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(run_dir.relative_to(out))
    os.replace(tmp, out / "latest")


def run(
    data: Sequence[str | Path] | None = None,
    targets_file: str | Path | None = None,
    out: str | Path | None = None,
    seed: int = 0,
    draws: int = 4000,
    quick: bool = False,
    scenarios_file: str | Path | None = None,
    lang: str = "zh",
    on_poor_convergence: str = "fail",
    on_stage: Callable[[str, float | None], None] | None = None,
) -> RunResult:
    """Run the pipeline once; never raises for data/model/output errors (see ``exit_code``).

    ``quick=True`` uses the statistical models only (no MCMC) and at most 1000 draws, for
    smoke tests and previews; the manifest records it. ``on_poor_convergence="fail"`` makes
    poor MCMC diagnostics exit code 2; ``"warn"`` records them as warnings instead.
    ``on_stage(name, None)`` is called when a stage starts and ``on_stage(name, seconds)``
    when it ends (:class:`jqforecast.pipeline.progress.StageProgress` prints them).
    """
    import jqforecast
    from jqforecast import targets as targets_mod

    out = Path(out) if out else reports_dir()
    inputs = [Path(p) for p in data] if data else [default_data_file()]
    with Lock(out / ".lock"):
        run_dir = _new_run_dir(out)
        manifest: dict = {
            "status": "running",
            "started_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "seed": seed,
            "draws": min(draws, 1000) if quick else draws,
            "quick": quick,
            "inputs": {},
            "targets_file": str(targets_file) if targets_file else "default",
            "scenarios_file": str(scenarios_file) if scenarios_file else None,
            "lang": lang,
            "versions": _versions(),
            "machine": machine_fingerprint(),
            "stages": {},
            "warnings": [],
        }
        result = RunResult(EXIT_OK, run_dir, manifest)

        def stage(name: str, fn: Callable[[], object]) -> object:
            if on_stage:
                on_stage(name, None)
            t0 = time.perf_counter()
            value = fn()
            elapsed = time.perf_counter() - t0
            manifest["stages"][name] = round(elapsed, 3)
            result.stages.append((name, elapsed))
            if on_stage:
                on_stage(name, elapsed)
            return value

        def stage_noting_data_warnings(name: str, fn: Callable[[], object]) -> object:
            """:func:`stage`, the data warnings it raises added to the manifest's."""
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", DataWarning)
                value = stage(name, fn)
            manifest["warnings"] += [
                str(w.message) for w in caught if issubclass(w.category, DataWarning)
            ]
            return value

        def fail(code: int, message: str) -> RunResult:
            manifest["status"] = "failed"
            manifest["exit_code"] = code
            manifest["error"] = message
            write_text(run_dir / "error.txt", message + "\n")
            write_json(run_dir / "manifest.json", manifest)
            result.exit_code, result.error = code, message
            return result

        try:
            table = stage_noting_data_warnings("ingest+validate", lambda: jqforecast.load(inputs))
            manifest["inputs"] = {
                str(f): file_sha256(f)
                for p in inputs
                for f in (
                    [p] if p.is_file() else sorted(p.glob("*.csv")) + sorted(p.glob("*.xlsx"))
                )
            }
            target_set = stage("targets config", lambda: targets_mod.load(targets_file))
            scenario_list = load_scenarios(scenarios_file) if scenarios_file else []
        except (ValidationError, FileNotFoundError, ValueError, KeyError) as exc:
            return fail(EXIT_DATA, f"invalid input data:\n{exc}")
        try:
            models = "statistical" if quick else "auto"
            n_draws = manifest["draws"]
            fc = stage_noting_data_warnings(
                "forecast",
                lambda: jqforecast.forecast(table, draws=n_draws, seed=seed, models=models),
            )
            report = stage("targets", lambda: jqforecast.evaluate_targets(fc, target_set))
            scenario_table = stage(
                "scenarios", lambda: evaluate_scenarios(fc, scenario_list, target_set, seed)
            )
            gap_table = stage("gap closing", lambda: gap_closing(fc, target_set))
            sensitivity_table = stage("sensitivity", lambda: sensitivity(fc, target_set))
            checkpoint_table = stage("checkpoints", lambda: checkpoints(fc, target_set))
        except Exception:  # noqa: BLE001 - any model failure is exit code 2, with its traceback
            return fail(EXIT_MODEL, "model failure:\n" + traceback.format_exc())
        manifest["models"] = {
            k: fc.meta[k]
            for k in (
                "models",
                "weights",
                "weights_info",
                "calibration",
                "cumulative_raised",
                "stocks_from_additions",
                "members_used",
                "skipped",
                "assumption_sd",
                "assumption_posterior",
                "diagnostics",
            )
        }
        manifest["p_all_modelled"] = report.p_all
        poor = {k: d for k, d in fc.meta.get("diagnostics", {}).items() if not d["ok"]}
        if poor:
            message = f"poor MCMC convergence (R-hat > 1.05, ESS < 100 or divergences): {poor}"
            if on_poor_convergence == "fail":
                return fail(EXIT_MODEL, message)
            manifest["warnings"].append(message)
        try:

            def write_outputs() -> None:
                fc.to_netcdf(run_dir / "forecast.nc")
                write_csv(run_dir / "forecast.csv", fc.to_frame())
                write_csv(run_dir / "targets.csv", report.table)
                write_csv(run_dir / "targets_by_member.csv", report.by_member)
                write_csv(run_dir / "scenarios.csv", scenario_table)
                write_csv(run_dir / "gap_closing.csv", gap_table)
                write_csv(run_dir / "sensitivity.csv", sensitivity_table)
                write_csv(run_dir / "checkpoints.csv", checkpoint_table)

            stage("write outputs", write_outputs)
            stage(
                "changes",
                lambda: write_csv(
                    run_dir / "changes.csv", changes_since(out / "latest", report.table, manifest)
                ),
            )
            manifest["charts"] = stage(
                "charts",
                lambda: write_charts(
                    fc,
                    report,
                    target_set,
                    scenario_table,
                    run_dir / "charts",
                    lang,
                    sensitivity_table,
                    checkpoint_table,
                ),
            )
            manifest["data_summary"] = {
                f"{m}/{i}": {
                    "points": len(g),
                    "years": f"{g['year'].min()}-{g['year'].max()}",
                    "status": ", ".join(sorted(set(g["status"]))),
                }
                for (m, i), g in table.groupby(["metric", "industry"])
            }
            write_json(run_dir / "manifest.json", manifest)
            stage("report.html", lambda: write_html(run_dir, lang))
            stage("briefing.pptx", lambda: write_pptx(run_dir, lang))
            manifest["status"] = "success"
            manifest["exit_code"] = EXIT_OK
            manifest["finished_at"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
            write_json(run_dir / "manifest.json", manifest)
            _point_latest(out, run_dir)
        except OSError as exc:
            return fail(EXIT_OUTPUT, f"output error: {exc}")
        except Exception:  # noqa: BLE001 - a chart or report that fails is an output error too
            return fail(EXIT_OUTPUT, "output error:\n" + traceback.format_exc())
        result.report = report
        return result


def changes_since(previous: Path, table: pd.DataFrame, manifest: dict) -> pd.DataFrame:
    """How each P(hit) moved since the previous successful run, and what may have caused it.

    A move counts as real when it exceeds twice the combined Monte Carlo standard error.
    The cause names what differs between the runs' manifests: input data, targets or
    scenario configuration, package versions, the machine (:func:`machine_fingerprint`),
    seed or draws; a record the previous manifest predates is not named.
    """
    columns = ["target", "p_hit_previous", "p_hit", "change", "mc_se", "significant", "cause"]
    if not (previous / "targets.csv").exists() or not (previous / "manifest.json").exists():
        return pd.DataFrame(columns=columns)
    old = pd.read_csv(previous / "targets.csv").set_index("id")
    old_manifest = load_manifest(previous)
    causes = [
        name
        for name, key in (
            ("data", "inputs"),
            ("targets config", "targets_file"),
            ("scenarios config", "scenarios_file"),
            ("software", "versions"),
            ("machine", "machine"),
            ("seed", "seed"),
            ("draws", "draws"),
            ("quick mode", "quick"),
        )
        # a record the previous manifest does not have (older code) shows no change
        if key in old_manifest and old_manifest[key] != manifest.get(key)
    ]
    rows = []
    for r in table.itertuples():
        if r.kind != "modelled" or r.id not in old.index or old.loc[r.id, "kind"] != "modelled":
            continue
        before = float(old.loc[r.id, "p_hit"])
        se = float((old.loc[r.id, "p_hit_mcse"] ** 2 + r.p_hit_mcse**2) ** 0.5)
        change = float(r.p_hit) - before
        significant = abs(change) > 2 * se
        cause = ", ".join(causes) if causes else "none (same inputs and settings)"
        rows.append(
            {
                "target": r.id,
                "p_hit_previous": before,
                "p_hit": r.p_hit,
                "change": change,
                "mc_se": se,
                "significant": significant,
                "cause": cause if significant else "within Monte Carlo error",
            }
        )
    return pd.DataFrame(rows, columns=columns)


def write_charts(
    fc,
    report,
    target_set,
    scenario_table,
    folder: Path,
    lang: str,
    sensitivity_table=None,
    checkpoint_table=None,
) -> list[str]:
    """Every chart of a run as PNG + SVG; returns the file names written. A fan chart shows
    its target's 80 % checkpoint when there is one."""
    from jqforecast import plots

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    rows = report.table.set_index("id")
    for t in target_set.values():
        if rows.loc[t.id, "kind"] == "modelled":
            mark = checkpoint_row(checkpoint_table, t.id)
            fig = plots.fan_chart(fc, t, rows.loc[t.id], lang, mark)
            written += plots.save(fig, folder / f"fan_{t.id}")
    written += plots.save(plots.summary_chart(report.table, lang), folder / "summary")
    if scenario_table["scenario"].nunique() > 1:
        labels = dict(zip(report.table["id"], report.table[f"label_{lang}"], strict=True))
        written += plots.save(
            plots.scenario_chart(scenario_table, labels, lang), folder / "scenarios"
        )
    if sensitivity_table is not None and not sensitivity_table.empty:
        labels = dict(zip(report.table["id"], report.table[f"label_{lang}"], strict=True))
        written += plots.save(
            plots.tornado_chart(sensitivity_table, labels, lang), folder / "tornado"
        )
    return sorted(p.name for p in written)


def load_manifest(run_dir: str | Path) -> dict:
    """Read a run's manifest."""
    return json.loads((Path(run_dir) / "manifest.json").read_text(encoding="utf-8"))
