"""Targets: definitions loaded from YAML (see ``default.yaml``) and their measure expressions."""

from jqforecast.targets.definitions import (
    COMPARATORS,
    FIRMNESS,
    Elicited,
    Target,
    TargetConfigError,
    TargetSet,
    load,
)
from jqforecast.targets.expression import Expression, ExpressionError, Term

__all__ = [
    "COMPARATORS",
    "FIRMNESS",
    "Elicited",
    "Expression",
    "ExpressionError",
    "Target",
    "TargetConfigError",
    "TargetSet",
    "Term",
    "load",
]
