"""The small demo that workflow tests run (`.test/config/config.yaml`: the embedded demo shrunk to seconds)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings

REPO = Path(__file__).resolve().parents[1]
TEST_CONFIG = REPO / ".test" / "config" / "config.yaml"  # the catalog's test config: the demo shrunk to seconds
SMALL_DEMO = yaml.safe_load(TEST_CONFIG.read_text())


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
    """The test config with `overrides` merged into it."""
    config = yaml.safe_load(TEST_CONFIG.read_text())
    merge(config, overrides or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config))
    return path


def snakemake_command(workdir: Path, *args: str, overrides: dict | None = None) -> list[str]:
    """`snakemake ARGS` on the small demo in `workdir` (the command line loads the default profile)."""
    config = write_config(workdir / "small.yaml", overrides)
    # ARGS first: --configfile and --cache take several values, so targets after them would be read as theirs
    return [
        sys.executable,
        "-m",
        "snakemake",
        *args,
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(workdir),
        "--configfile",
        str(config),
    ]


def snakemake(
    workdir: Path, *args: str, overrides: dict | None = None, env: dict | None = None, timeout: int = 900
) -> subprocess.CompletedProcess:
    return subprocess.run(
        snakemake_command(workdir, *args, overrides=overrides), env=env, capture_output=True, text=True, timeout=timeout
    )


def run_workflow(
    workdir: Path, targets: list[str], *, dryrun: bool, config: dict | None = None, forcerun: frozenset = frozenset()
) -> list[str]:
    """Run (or dry-run) the targets; return the rule names of the jobs that had to run, sorted."""
    cwd = os.getcwd()
    try:
        with SnakemakeApi(OutputSettings(quiet=None)) as api:
            workflow = api.workflow(
                resource_settings=ResourceSettings(cores=2),
                config_settings=ConfigSettings(configfiles=[REPO / "config" / "config.yaml"], config=config or {}),
                snakefile=REPO / "Snakefile",
                workdir=workdir,
            )
            dag = workflow.dag(DAGSettings(targets=targets, forcerun=forcerun))
            dag.execute_workflow(executor="local", pseudo_executor="dryrun" if dryrun else None)
            return sorted(job.rule.name for job in workflow._workflow.dag.needrun_jobs(exclude_finished=False))
    finally:
        os.chdir(cwd)
