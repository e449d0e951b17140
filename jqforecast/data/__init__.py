"""Data layer: schema, units, loaders, validation, the default derivation and processed store."""

from jqforecast.data.errors import DataWarning, Problem, ValidationError
from jqforecast.data.loaders import load, read_table
from jqforecast.data.metrics import INDUSTRIES, METRICS, Kind, Metric, get_metric
from jqforecast.data.schema import COLUMNS, observation_schema
from jqforecast.data.validate import validate

__all__ = [
    "COLUMNS",
    "INDUSTRIES",
    "METRICS",
    "DataWarning",
    "Kind",
    "Metric",
    "Problem",
    "ValidationError",
    "get_metric",
    "load",
    "observation_schema",
    "read_table",
    "validate",
]
