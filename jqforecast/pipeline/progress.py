"""Stage-by-stage progress for ``jqforecast run``: rich on a terminal, plain lines under cron.

On a terminal a spinner names the running stage and a ``✓`` line with its duration is left
behind when it ends. When output is not a terminal (cron, systemd, a pipe) every line is a
plain, timestamped log line that greps well::

    2026-11-25T18:02:11Z jqforecast stage forecast done 21.38 s
"""

from __future__ import annotations

import datetime as _dt
import logging
import sys

from rich.console import Console
from rich.logging import RichHandler


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class StageProgress:
    """Callable for :func:`jqforecast.pipeline.run.run`'s ``on_stage``.

    ``on_stage(name, None)`` marks a stage's start, ``on_stage(name, seconds)`` its end.

    Parameters
    ----------
    console : rich Console
        Where progress goes (stdout by default).
    verbose : bool
        Also announce each stage's start in plain mode, and log the engine's INFO messages
        (skipped members, backtest origins, convergence) to stderr.
    quiet : bool
        Print nothing (errors are printed by the caller).

    Examples
    --------
    >>> import io
    >>> from rich.console import Console
    >>> progress = StageProgress(Console(file=io.StringIO()))  # not a terminal: plain lines
    >>> progress("forecast", None); progress("forecast", 1.5)
    >>> "stage forecast done 1.50 s" in progress.console.file.getvalue()
    True
    """

    def __init__(self, console: Console | None = None, verbose: bool = False, quiet: bool = False):
        self.console = console or Console(soft_wrap=True)
        self.verbose = verbose
        self.quiet = quiet
        self._status = None

    @property
    def plain(self) -> bool:
        """True when output is not a terminal (cron, systemd, a pipe or a file)."""
        return not self.console.is_terminal

    def __call__(self, name: str, seconds: float | None) -> None:
        if self.quiet:
            return
        if self.plain:
            if seconds is None:
                if self.verbose:
                    self.console.print(f"{_now()} jqforecast stage {name} started", markup=False)
            else:
                line = f"{_now()} jqforecast stage {name} done {seconds:.2f} s"
                self.console.print(line, markup=False, highlight=False)
            return
        if seconds is None:
            self._status = self.console.status(f"{name} …")
            self._status.start()
            return
        if self._status is not None:
            self._status.stop()
            self._status = None
        self.console.print(f"[green]✓[/] {name:<18} {seconds:6.2f} s", highlight=False)

    def configure_logging(self) -> None:
        """With ``verbose``, send jqforecast's log messages to stderr (rich or plain)."""
        if not self.verbose:
            return
        if self.plain:
            handler: logging.Handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(
                logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
            )
        else:
            handler = RichHandler(console=Console(stderr=True), show_path=False)
        logger = logging.getLogger("jqforecast")
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
