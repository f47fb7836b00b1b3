"""The embedded demo's settings (the `demo` config section)."""

from __future__ import annotations

from dataclasses import dataclass

from dcgan.commands import option, positive


@dataclass(frozen=True)
class DemoSettings:
    out: str = "resources/demo"
    seed: int = 0
    bedroom_entries: int = option(2000, type=positive)
    web_images: int = option(150, type=positive)
    folder_images: int = option(20, type=positive)
