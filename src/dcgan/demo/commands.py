"""`dcgan demo-data`: the embedded demo's datasets."""

from __future__ import annotations

import argparse

from dcgan.commands import add_command, add_settings
from dcgan.demo.settings import DemoSettings


def _demo_data(args: argparse.Namespace) -> None:
    from dcgan.demo import make_demo

    make_demo(
        args.out,
        seed=args.seed,
        bedroom_entries=args.bedroom_entries,
        web_images=args.web_images,
        folder_images=args.folder_images,
    )
    print(f"demo data written to {args.out}")


def add_demo_commands(sub) -> None:
    p = add_command(sub, "demo-data", "make the embedded demo datasets from photos shipped in packages", _demo_data)
    add_settings(p, DemoSettings, "demo")
