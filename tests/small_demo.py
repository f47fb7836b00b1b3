"""The small demo that workflow tests run (the embedded demo, shrunk to seconds), through the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SMALL_DEMO = {"demo": {"bedroom_entries": 150, "web_images": 6, "folder_images": 4},
              "train": {"max_steps": 12, "batch_size": 16, "ngf": 8, "ndf": 8, "sample_every": 6, "checkpoint_every": 6,
                        "processes": 2, "threads": 2,  # every workflow test trains with DDP under torchrun (gloo)
                        "log_every": 4, "fid_every": 8, "fid_samples": 10},
              "dedup": {"autoencoder": {"min_steps": 200}},  # the demo's tiny tables: a usable hash in seconds
              "evaluate": {"samples": 20, "reference": 20, "kid_subset_size": 10, "kid_subsets": 10, "svm_per_class": 10,
                           "walk_rows": 2, "walk_steps": 4, "memorisation": 4}}


def merge(config: dict, changes: dict) -> None:
    """`changes` merged into `config` in place; a key whose value is None is removed."""
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        elif isinstance(value, dict) and isinstance(config.get(key), dict):
            merge(config[key], value)
        else:
            config[key] = value


def write_config(path: Path, overrides: dict | None = None) -> Path:
    """The demo config with SMALL_DEMO and then `overrides` merged into it."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    for changes in (SMALL_DEMO, overrides or {}):
        merge(config, changes)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    return path


def snakemake_command(workdir: Path, *args: str, overrides: dict | None = None) -> list[str]:
    """`snakemake ARGS` on the small demo in `workdir` (the command line loads the default profile)."""
    config = write_config(workdir / "small.yaml", overrides)
    # ARGS first: --configfile and --cache take several values, so targets after them would be read as theirs
    return [sys.executable, "-m", "snakemake", *args, "-s", str(REPO / "Snakefile"), "-d", str(workdir),
            "--configfile", str(config)]


def snakemake(workdir: Path, *args: str, overrides: dict | None = None, env: dict | None = None,
              timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(snakemake_command(workdir, *args, overrides=overrides), env=env, capture_output=True,
                          text=True, timeout=timeout)
