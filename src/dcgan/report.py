"""The run's HTML report: Snakemake's own (`--report`) from the run's metadata, and text pages for it."""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from dcgan.errors import UserError
from dcgan.files import temporary_beside, write_bytes


def text_page(source: str | Path, out: str | Path) -> None:
    """A text file (e.g. docs/benchmarks.md) as a plain HTML page the report can show."""
    text = html.escape(Path(source).read_text())
    write_bytes(out, f"<!doctype html><meta charset=utf-8><pre style='white-space:pre-wrap'>{text}</pre>\n".encode())


def write_report(out: str | Path, *, snakefile: str | Path, config: dict, target: str = "results") -> None:
    """Run `snakemake TARGET --report OUT` on the current directory with exactly `config` (typed, from a
    YAML file: --config on a command line would turn nested numbers into strings). No lock: the run
    that asks for the report holds it. The report is written beside `out` and renamed into place."""
    out = Path(out).resolve()
    folder = temporary_beside(out, folder=True)
    try:
        config_file = folder / "config.yaml"
        config_file.write_text(yaml.safe_dump(config))
        draft = folder / out.name
        command = [
            sys.executable,
            "-m",
            "snakemake",
            target,
            "--nolock",
            "--snakefile",
            str(snakefile),
            "--directory",
            ".",
            "--configfile",
            str(config_file),
            "--report",
            str(draft),
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0 or not draft.is_file():
            raise UserError(f"snakemake --report failed: {result.stderr.strip()[-2000:]}")
        os.replace(draft, out)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
