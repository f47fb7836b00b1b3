"""Progress bars that stay readable in log files as well as terminals."""

from __future__ import annotations

import sys

from tqdm import tqdm


def progress(iterable=None, *, total=None, desc: str = "", unit: str = "img", initial: int = 0, disable: bool = False):
    """A tqdm bar; in a log file (no TTY) it updates every 10 s instead of redrawing."""
    interactive = sys.stderr.isatty()
    return tqdm(
        iterable,
        total=total,
        initial=initial,
        desc=desc,
        unit=unit,
        unit_scale=True,
        dynamic_ncols=interactive,
        mininterval=0.2 if interactive else 10.0,
        file=sys.stderr,
        disable=disable,
    )
