"""Targets as configuration: load, check and merge target definitions from YAML."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from jqforecast.data.metrics import INDUSTRIES, METRICS
from jqforecast.data.units import conversion_factor, format_as_written, parse_unit
from jqforecast.targets.expression import Expression, ExpressionError

DEFAULT_FILE = Path(__file__).with_name("default.yaml")
COMPARATORS = {">=": np.greater_equal, ">": np.greater, "<=": np.less_equal, "<": np.less}
FIRMNESS = {
    "力争": "stretch (strive for)",
    "达到": "firm (reach)",
    "超过": "strict (exceed)",
}


class TargetConfigError(ValueError):
    """A targets file is invalid; the message names the file, the target and the field."""


@dataclass(frozen=True)
class Elicited:
    """An analyst's judgement for a target that cannot be forecast from data."""

    probability: float | None
    status: str = "not assessed"
    by: str | None = None


@dataclass(frozen=True)
class Target:
    """One numeric target: what is measured, how it is compared, and against what.

    ``threshold`` is in the canonical unit of the measured metric (``unit``);
    ``threshold_as_written`` and ``unit_as_written`` keep what the configuration said.
    """

    id: str
    label_zh: str
    label_en: str
    wording_zh: str
    wording_en: str
    measure: Expression
    comparator: str
    threshold: float
    unit: str
    firmness: str
    threshold_as_written: float
    unit_as_written: str
    elicited: Elicited | None = None
    source: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def year(self) -> int:
        """The last year the measure refers to (the target year)."""
        return max(self.measure.years)

    @property
    def series(self) -> tuple[str, ...]:
        """Series ids (``metric/industry``) the measure needs."""
        return tuple(dict.fromkeys(t.series for t in self.measure.terms))

    @property
    def modelled(self) -> bool:
        """``False`` for elicited targets (milestones with an analyst's probability)."""
        return self.elicited is None

    def hit(self, values: np.ndarray) -> np.ndarray:
        """Boolean array: does each value meet the target (honouring ``>=`` vs ``>``)?

        Examples
        --------
        >>> import numpy as np
        >>> t = load()["new_space"]
        >>> t.hit(np.array([199.0, 200.0, 201.0])).tolist()
        [False, False, True]
        """
        return COMPARATORS[self.comparator](values, self.threshold)

    def describe(self, lang: str = "zh") -> str:
        """One line: label, comparator, threshold and unit as written."""
        label = self.label_zh if lang == "zh" else self.label_en
        return f"{label} {self.comparator} {self.as_written()}"

    def as_written(self) -> str:
        """The threshold and unit as the plan writes them (``3,000 亿元``, ``5.5 %``)."""
        return format_as_written(self.threshold_as_written, self.unit_as_written)


class TargetSet(dict[str, Target]):
    """Targets by id, in file order."""

    def modelled(self) -> list[Target]:
        """Targets forecast from data."""
        return [t for t in self.values() if t.modelled]


def _target(spec: dict, where: str, source: str) -> Target:
    def need(key: str) -> object:
        if key not in spec or spec[key] is None:
            raise TargetConfigError(f"{where}: missing field {key!r}")
        return spec[key]

    tid = str(need("id"))
    where = f"{where} (id {tid!r})"
    try:
        measure = Expression.parse(str(need("measure")))
    except ExpressionError as err:
        raise TargetConfigError(f"{where}: {err}") from None
    for term in measure.terms:
        if term.metric not in METRICS:
            raise TargetConfigError(
                f"{where}: measure uses unknown metric {term.metric!r}; known: "
                + ", ".join(sorted(METRICS))
            )
        if term.industry not in INDUSTRIES:
            raise TargetConfigError(
                f"{where}: measure uses unknown industry {term.industry!r}; known: "
                + ", ".join(sorted(INDUSTRIES))
            )
    comparator = str(need("comparator"))
    if comparator not in COMPARATORS:
        raise TargetConfigError(f"{where}: comparator {comparator!r} is not one of >=, >, <=, <")
    firmness = str(spec.get("firmness", "达到"))
    if firmness not in FIRMNESS:
        raise TargetConfigError(f"{where}: firmness {firmness!r} is not one of 力争, 达到, 超过")
    if firmness == "超过" and comparator != ">":
        raise TargetConfigError(f"{where}: firmness 超过 (exceed) needs comparator '>'")
    units = {METRICS[t.metric].unit for t in measure.terms}
    mixed_sum = len(units) > 1 and any(op in measure.text for op in "+-")
    unit_written = str(need("unit"))
    threshold_written = float(need("threshold"))  # type: ignore[arg-type]
    # A quotient of same-unit quantities (R&D spend / revenue) is a dimensionless ratio.
    canon = (
        "ratio"
        if "/" in measure.text and len(units) == 1
        else units.pop()
        if len(units) == 1
        else METRICS[measure.terms[0].metric].unit
    )
    try:
        parse_unit(unit_written)
        factor = conversion_factor(unit_written, canon)
    except (KeyError, ValueError):
        raise TargetConfigError(
            f"{where}: unit {unit_written!r} cannot be converted to {canon} "
            f"(the unit of {measure.terms[0].metric})"
        ) from None
    if mixed_sum:
        raise TargetConfigError(f"{where}: measure adds metrics with different units {units}")
    elicited = None
    if "elicited" in spec and spec["elicited"] is not None:
        e = spec["elicited"]
        p = e.get("probability")
        if p is not None and not (0.0 <= float(p) <= 1.0 and math.isfinite(float(p))):
            raise TargetConfigError(f"{where}: elicited probability {p!r} is not in [0, 1]")
        elicited = Elicited(None if p is None else float(p), str(e.get("status", "")), e.get("by"))
    known = {
        "id",
        "label_zh",
        "label_en",
        "wording_zh",
        "wording_en",
        "measure",
        "comparator",
        "threshold",
        "unit",
        "firmness",
        "elicited",
    }
    return Target(
        id=tid,
        label_zh=str(spec.get("label_zh", tid)),
        label_en=str(spec.get("label_en", tid)),
        wording_zh=str(spec.get("wording_zh", "")),
        wording_en=str(spec.get("wording_en", "")),
        measure=measure,
        comparator=comparator,
        threshold=threshold_written * factor,
        unit=canon,
        firmness=firmness,
        threshold_as_written=threshold_written,
        unit_as_written=unit_written,
        elicited=elicited,
        source=source,
        extra={k: v for k, v in spec.items() if k not in known},
    )


def _read(path: Path) -> list[Target]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise TargetConfigError(f"{path}: not valid YAML: {err}") from None
    specs = doc.get("targets") if isinstance(doc, dict) else None
    if not isinstance(specs, list):
        raise TargetConfigError(f"{path}: expected a top-level 'targets:' list")
    source = str(doc.get("source", path.name))
    targets = [_target(s, f"{path}, target {i + 1}", source) for i, s in enumerate(specs)]
    ids = [t.id for t in targets]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise TargetConfigError(f"{path}: duplicate target ids {dup}")
    return targets


def load(path: str | Path | None = None, include_default: bool = True) -> TargetSet:
    """Load target definitions.

    Parameters
    ----------
    path : path, optional
        A user YAML file with a ``targets:`` list in the same format as
        ``jqforecast/targets/default.yaml``. Its targets are added to the seven default
        ones; a target with the same ``id`` replaces the default.
    include_default : bool
        Start from the seven targets of 浦府〔2025〕43号 (default) or from none.

    Examples
    --------
    >>> from jqforecast import targets
    >>> ts = targets.load()
    >>> len(ts), ts["rd_intensity"].threshold, ts["rd_intensity"].unit
    (7, 0.055, 'ratio')
    """
    merged = TargetSet()
    files = ([DEFAULT_FILE] if include_default else []) + ([Path(path)] if path else [])
    for file in files:
        for target in _read(file):
            merged[target.id] = target
    return merged
