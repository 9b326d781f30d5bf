"""Progress bars that also read well in log files.

On a terminal this is plain tqdm. When stderr is not a terminal (a log file, a CI
job, ``nohup``), tqdm's carriage-return updates pile up into thousands of partial
lines; there the bar writes one whole line every :data:`LOG_SECONDS` instead.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from tqdm.auto import tqdm

LOG_SECONDS = 10.0
"""Seconds between lines when stderr is not a terminal."""


class _LineWriter:
    """A file wrapper that turns tqdm's ``\\r``-refreshed bar into whole lines."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, text: str) -> None:
        line = text.replace("\r", "").strip()
        if line:
            self.stream.write(line + "\n")

    def flush(self) -> None:
        self.stream.flush()


def progress_bar(*args: Any, **kwargs: Any) -> tqdm:
    """``tqdm(*args, **kwargs)``, logging one line every few seconds off a terminal.

    Call ``set_postfix(..., refresh=False)`` on it inside fast loops: a refresh on
    every call would defeat the interval.
    """
    stream = kwargs.get("file") or sys.stderr
    if not kwargs.get("disable") and not stream.isatty():
        kwargs.update(
            file=_LineWriter(stream),
            mininterval=LOG_SECONDS,
            maxinterval=LOG_SECONDS,
            dynamic_ncols=False,
            ncols=100,
        )
    return tqdm(*args, **kwargs)
