"""The workflow as operators meet it, through the command line: the between-workflow cache, SIGKILL in
the middle of a stage, and two runs from clean giving byte-identical outputs."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

import reproducibility
from dcgan.table import read_part
from helpers import snakemake, snakemake_command, write_config

pytestmark = pytest.mark.slow  # each test runs the workflow through the command line

CACHED_TARGETS = ["results/bedroom/dedup/autoencoder.pt", "results/faces/dedup/autoencoder.pt"]


def test_a_second_workflow_directory_reuses_the_cached_outputs(tmp_path):
    env = dict(os.environ, SNAKEMAKE_OUTPUT_CACHE=str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    first = snakemake(tmp_path / "first", *CACHED_TARGETS, "--cores", "2", "--cache", env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "Moving output file results/bedroom/dedup/autoencoder.pt to cache" in first.stderr

    second = snakemake(tmp_path / "second", *CACHED_TARGETS, "--cores", "2", "--cache", env=env)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "to cache" not in second.stderr  # nothing was computed and stored again
    cache = (tmp_path / "cache").resolve()
    cached = {
        "extract": "results/bedroom/images/part-0000.npy",
        "detect_faces": "results/faces/images/part-0001.npy",
        "dedup_train": "results/faces/dedup/autoencoder.pt",
    }
    for path in cached.values():
        output = tmp_path / "second" / path
        assert output.is_symlink() and output.resolve().parent == cache
        assert output.read_bytes() == (tmp_path / "first" / path).read_bytes()
    # the cached jobs' commands never ran in the second directory: their logs are empty
    logs = ["logs/bedroom/extract/part-0000.log", "logs/faces/detect_faces/part-0001.log", "logs/faces/dedup_train.log"]
    assert all((tmp_path / "first" / log).stat().st_size > 0 for log in logs)
    assert all((tmp_path / "second" / log).stat().st_size == 0 for log in logs)
    # the rules after the cached ones run as usual on the fetched outputs
    rest = snakemake(tmp_path / "second", "results/bedroom/dedup/duplicates.tsv", "--cores", "2", "--cache", env=env)
    assert rest.returncode == 0, rest.stderr[-3000:]


FAULTS = {
    "demo": {"bedroom_entries": 2400},  # parts that take long enough to be caught while written
    "datasets": {"bedroom": {"partitions": 2}},
    "dedup": {"autoencoder": {"epochs": 5}},  # the test config's 200 steps, not 30 epochs of 2,400 images
    "train": {"max_steps": 150, "checkpoint_every": 20, "sample_every": 50, "log_every": 10, "fid_every": 50},
}


def kill_when(workdir: Path, target: str, ready, cores: int, timeout: float = 300) -> bool:
    """Run snakemake on `target` and SIGKILL it (with its jobs) once `ready()`; False if it ended first."""
    command = snakemake_command(workdir, target, "--cores", str(cores), overrides=FAULTS)
    with open(workdir.parent / f"{workdir.name}.log", "a") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            if ready():
                break
            time.sleep(0.01)
        killed = process.poll() is None
        if killed:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return killed


def unlock(workdir: Path) -> None:
    assert snakemake(workdir, "--unlock", overrides=FAULTS).returncode == 0


def test_sigkill_during_extraction_and_training_loses_nothing(tmp_path):
    work = tmp_path / "killed"
    table = work / "results/bedroom/images"

    def writing() -> set[str]:
        return {p.name.split(".")[1] for p in table.glob(".part-*.npy.*.tmp")}

    def finished() -> set[str]:
        return {p.stem for p in table.glob("part-*.json")}

    # one core: one part at a time, so one is whole while the next is written
    extracting = kill_when(work, "results/bedroom/train/model.pt", lambda: writing() and finished(), cores=1)
    assert extracting, "extraction ended first"
    killed, done = writing(), finished()
    assert killed and done and not killed & done
    for part in done:  # a finished part is whole
        images, rows = read_part(table / part)
        assert images.shape[0] == len(rows) > 0
    for part in killed:  # the killed part left no output, only its temporary file
        assert not any(table.glob(f"{part}.*"))

    unlock(work)  # as a user would after a kill: Snakemake's lock on the directory outlived its process
    checkpoints = work / "results/bedroom/train/checkpoints"
    assert kill_when(work, "results/bedroom/train/model.pt", lambda: any(checkpoints.glob("step-*.pt")), cores=2)
    assert not (work / "results/bedroom/train/model.pt").exists()

    unlock(work)
    resumed = snakemake(work, "results/bedroom/train/model.pt", "--cores", "1", overrides=FAULTS)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    record = json.loads((work / "results/bedroom/train/train.json").read_text())
    assert record["resumed_from"] >= 20 and record["steps"] == 150
    rows = list(csv.DictReader(open(work / "results/bedroom/train/metrics.csv")))
    assert [int(r["step"]) for r in rows if r["loss_d"]] == list(
        range(10, 151, 10)
    )  # each log once: none repeated or lost
    assert [int(r["step"]) for r in rows if r["fid"]] == [50, 100, 150]  # and each tracked FID
    assert not [p for p in (work / "results").rglob("*.tmp")]  # no half-written file kept

    clean = snakemake(tmp_path / "clean", "results/bedroom/dedup/duplicates.tsv", "--cores", "2", overrides=FAULTS)
    assert clean.returncode == 0, clean.stderr[-3000:]
    for name in ("images/part-0000.npy", "images/part-0001.npy", "images/part-0001.tsv", "dedup/duplicates.tsv"):
        assert (work / "results/bedroom" / name).read_bytes() == (
            tmp_path / "clean/results/bedroom" / name
        ).read_bytes()
    images, rows = read_part(work / "results/bedroom/images/part-0001")
    assert len(rows) == images.shape[0] > 0 and np.all(images.reshape(len(rows), -1).max(axis=1) > 0)


def test_two_runs_from_clean_give_identical_deterministic_outputs(small_run, tmp_path, capsys):
    """A second run from clean, at the command line, against the shared run of the same config (made
    through Snakemake's API): what tests/reproducibility.py does with its two runs."""
    config = write_config(tmp_path / "small.yaml")
    # every compared stage: training for one dataset (the others train the same code), faces, which trains
    # for the boxes forget finds on its samples; the rest for all
    targets = ["results/bedroom/shards", "results/faces/eval/forget_boxes.tsv", "results/photos/shards"]
    reproducibility.run(tmp_path / "run", 2, str(config), targets)
    second = reproducibility.checksums(tmp_path / "run")
    first = {
        kind: {path: digest for path, digest in files.items() if path in second[kind]}
        for kind, files in reproducibility.checksums(small_run).items()
    }  # what the second run made
    assert sum(map(len, second.values())) > 40 and any("faces/shards" in p for p in second["shards"])
    lines = reproducibility.compare(first, second)
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    assert [line.split()[0] for line in lines] == ["same"] * len(reproducibility.DETERMINISTIC), lines
