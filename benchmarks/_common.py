"""Shared bits of the benchmark scripts (run them from the repository root)."""

from __future__ import annotations

import os
import platform


def machine() -> dict:
    """Where a measurement ran: CPU count, platform and Python version."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
