"""`dcgan demo-data`: the embedded demo's datasets."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from dcgan.commands import add_command, add_settings, option, positive, settings_from


@dataclass(frozen=True)
class DemoSettings:
    out: str = "resources/demo"
    seed: int = 0
    bedroom_entries: int = option(2000, type=positive)
    web_images: int = option(150, type=positive)
    folder_images: int = option(20, type=positive)


def _demo_data(args: argparse.Namespace) -> None:
    from dcgan.demo import make_demo

    settings = settings_from(DemoSettings, args)
    make_demo(
        settings.out,
        seed=settings.seed,
        bedroom_entries=settings.bedroom_entries,
        web_images=settings.web_images,
        folder_images=settings.folder_images,
    )
    print(f"demo data written to {settings.out}")


def add_demo_commands(sub) -> None:
    p = add_command(sub, "demo-data", "make the embedded demo datasets from photos shipped in packages", _demo_data)
    add_settings(p, DemoSettings, "demo")
