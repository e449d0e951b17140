"""jqforecast: will Zhangjiang Hi-tech Zone Jinqiao Park hit its 2026 targets?

Data flow: ``load`` → ``forecast`` (joint sample paths) → ``evaluate_targets`` → reports.
"""

from __future__ import annotations

__version__ = "0.1.0"

from jqforecast.data import ValidationError, load  # noqa: E402
from jqforecast.paths import default_data_file  # noqa: E402


def load_default(warn: bool = False):
    """Load the bundled default dataset (``data/raw/jinqiao_park.csv``), validated.

    Short-series warnings are off by default: every bundled series is short and derived,
    which ``data/raw/SOURCES.md`` documents.

    Examples
    --------
    >>> import jqforecast
    >>> df = jqforecast.load_default()
    >>> set(df["status"]) == {"derived"}
    True
    """
    return load(default_data_file(), warn=warn)


__all__ = ["ValidationError", "__version__", "load", "load_default"]

from jqforecast.engine import forecast  # noqa: E402
from jqforecast.result import Forecast  # noqa: E402

__all__ += ["Forecast", "forecast"]

from jqforecast.targets.evaluate import TargetReport, evaluate_targets  # noqa: E402

__all__ += ["TargetReport", "evaluate_targets"]
