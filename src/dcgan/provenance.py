"""What produced an output: package versions, arguments and timing, recorded beside it."""

from __future__ import annotations

import platform
import sys
from importlib import metadata

_PACKAGES = ("dcgan-workflow", "numpy", "opencv-python-headless", "lmdb", "pillow", "torch", "snakemake")


def versions() -> dict[str, str]:
    found = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def record(stage: str, settings: dict, **results) -> dict:
    """The provenance block every stage writes as JSON beside its outputs."""
    return {"stage": stage, "settings": settings, "versions": versions(), **results}
