"""The demo workflow on a real SLURM (one node on loopback, set up by tests/workflow/cluster/slurm_up.sh).

Needs root and Debian's apt (to install slurm-wlm and munge) or a SLURM already installed, and
snakemake-executor-plugin-slurm. Jobs go through sbatch with workflow/profiles/slurm and this test's
overrides for a 2-CPU node; the deterministic outputs must equal those of the local run of the same config
(the shared `small_run`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from helpers import REPO, snakemake

EVALUATION = ("evaluate_metrics", "evaluate_figures", "evaluate_svm")
FITS_ONE_SMALL_NODE = [
    "--set-resources",
    "dedup_train:cpus_per_task=1",
    "dedup_train:mem_mb=2000",
    "dedup_filter:mem_mb=2000",
    "shards:mem_mb=2000",
    "train:cpus_per_task=1",
    "train:mem_mb=4000",
    "train:runtime=30",
    "fid_reference:cpus_per_task=1",
    "fid_reference:mem_mb=2000",
    *(f"{job}:{resource}" for job in EVALUATION for resource in ("cpus_per_task=1", "mem_mb=2000")),
    "--set-threads",
    "train=1",
    "fid_reference=1",
    *(f"{job}=1" for job in EVALUATION),
]


def slurm_unavailable() -> str | None:
    """Why this machine cannot run the test, or None."""
    import importlib.util

    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm is not installed"
    if shutil.which("slurmctld") and shutil.which("munged"):
        return None if os.geteuid() == 0 else "starting slurmctld needs root"
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "SLURM is not installed and there is no root with apt-get to install it"
    return None


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(slurm_unavailable() is not None, reason=str(slurm_unavailable())),
]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    state = tmp_path_factory.mktemp("slurm")
    up = subprocess.run(
        ["bash", str(REPO / "tests/workflow/cluster/slurm_up.sh"), str(state)], capture_output=True, text=True
    )
    if up.returncode != 0:
        subprocess.run(["bash", str(REPO / "tests/workflow/cluster/slurm_down.sh"), str(state)])
        pytest.fail(f"slurm_up.sh failed: {up.stderr.strip()}")
    try:
        yield dict(os.environ, SLURM_CONF=str(state / "slurm.conf"), DCGAN_SLURM_PARTITION="debug")
    finally:
        subprocess.run(["bash", str(REPO / "tests/workflow/cluster/slurm_down.sh"), str(state)])


def deterministic(workdir: Path, dataset: str) -> dict[str, str]:
    patterns = ("images/part-*.npy", "dedup/duplicates.tsv", "shards/*.tar")
    paths = sorted(p for pattern in patterns for p in workdir.glob(f"results/{dataset}/{pattern}"))
    return {str(p.relative_to(workdir)): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def local_rules() -> set[str]:
    """`all` (no command) and the rules marked `localrule: True`: Snakemake runs those itself."""
    names = {"all"}
    for path in (REPO / "workflow/rules").glob("*.smk"):
        for block in path.read_text().split("\nrule ")[1:]:
            if "localrule: True" in block:
                names.add(block.split(":", 1)[0])
    return names


def slurm_jobs(env: dict) -> list[dict[str, str]]:
    """Every job slurmctld remembers (MinJobAge keeps finished ones for five minutes)."""
    out = subprocess.run(["scontrol", "show", "jobs", "-o"], env=env, capture_output=True, text=True, check=True).stdout
    jobs = []
    for line in out.splitlines():
        fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
        jobs.append(fields)
    return jobs


def test_demo_runs_through_sbatch_and_equals_a_local_run(slurm, small_run, tmp_path, capsys):
    options = [
        "--workflow-profile",
        str(REPO / "workflow/profiles/slurm"),
        "--slurm-status-command",
        "squeue",
        "--slurm-init-seconds-before-status-checks",  # most jobs here end within 6 s: the first check sees
        "6",  # them (each check that finds none adds 10 s to the next wait)
        "--slurm-keep-successful-logs",
        *FITS_ONE_SMALL_NODE,
    ]
    # the demo's face set: its jobs are of every kind the other datasets' are, face detection besides
    # (LSUN extraction and the image folder's are the same kind of job: a slice of a source into a table
    # part); Fig. 6 adds two jobs of seconds
    faces_only = {"datasets": {"bedroom": None, "photos": None}, "forget": {"dataset": ""}}
    dry = snakemake(tmp_path / "slurm", "all", *options, "--dry-run", env=slurm, overrides=faces_only)
    remote = [
        line
        for line in dry.stdout.splitlines()
        if line.startswith("rule ") and line[5:].rstrip(":") not in local_rules()
    ]
    run = snakemake(tmp_path / "slurm", "all", *options, env=slurm, overrides=faces_only)
    assert run.returncode == 0, run.stderr[-3000:]
    jobs = [j for j in slurm_jobs(slurm) if j.get("WorkDir") == str(tmp_path / "slurm")]
    rules = sorted(j["Comment"].split("_wildcards")[0].removeprefix("rule_") for j in jobs)
    with capsys.disabled():
        print(f"\n{len(jobs)} jobs went through sbatch: {', '.join(rules)}")
    assert all(j["JobState"] == "COMPLETED" for j in jobs)
    assert len(remote) > 10 and len(jobs) == len(remote)  # every job but the few marked localrule
    [train_job] = [j for j in jobs if j["Comment"].startswith("rule_train")]
    assert "gpu:2" in train_job.get("TresPerJob", "")  # train.processes
    assert sorted((tmp_path / "slurm/.snakemake/slurm_logs/rule_train").rglob("*.log"))

    local = deterministic(small_run, "faces")  # the local run of the whole test config
    assert deterministic(tmp_path / "slurm", "faces") == local and len(local) >= 4
    a, b = (torch.load(where / "results/faces/train/model.pt") for where in (tmp_path / "slurm", small_run))
    assert all(torch.equal(a["g"][k], b["g"][k]) for k in a["g"])
