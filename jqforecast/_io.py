"""Atomic file writes: a temp file in the target's folder, then ``os.replace``.

A crash or a bad input never leaves a half-written file where a good one stood: readers see
either the old file or the new one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success rename it onto ``target``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "x.txt") as tmp:
    ...     _ = tmp.write_text("hello")
    >>> (d / "x.txt").read_text()
    'hello'
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    umask = os.umask(0)
    os.umask(umask)
    try:
        yield tmp
        tmp.chmod(0o666 & ~umask)  # mkstemp creates 0600; outputs are for everyone to read
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(target: str | os.PathLike[str], writer: Callable[[Path], object]) -> Path:
    """Call ``writer(tmp_path)`` and atomically move the result to ``target``."""
    with atomic_path(target) as tmp:
        writer(tmp)
    return Path(target)


def write_text(target: str | os.PathLike[str], text: str) -> Path:
    """Atomically write UTF-8 text."""
    return write_atomic(target, lambda p: p.write_text(text, encoding="utf-8"))


def write_json(target: str | os.PathLike[str], obj: object) -> Path:
    """Atomically write JSON (UTF-8, Chinese kept readable, sorted keys)."""
    return write_text(
        target, json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n"
    )


def write_parquet(target: str | os.PathLike[str], frame: pd.DataFrame) -> Path:
    """Atomically write a DataFrame as Parquet (no index)."""
    return write_atomic(target, lambda p: frame.to_parquet(p, index=False))


def write_csv(target: str | os.PathLike[str], frame: pd.DataFrame) -> Path:
    """Atomically write a DataFrame as UTF-8 CSV (no index)."""
    return write_atomic(target, lambda p: frame.to_csv(p, index=False, encoding="utf-8"))


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes (for manifests and provenance)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
