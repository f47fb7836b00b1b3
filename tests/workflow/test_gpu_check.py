"""benchmarks/gpu_check.py --smoke: every part of the one-call GPU check runs, here on a CPU at tiny size,
each in its own process; a part that crashes or hangs costs that part alone."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import REPO

BENCHMARKS = REPO / "benchmarks"


def gpu_check(out: Path, *options: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "gpu_check.py", "--smoke", "--out", str(out), *options]
    return subprocess.run(command, cwd=BENCHMARKS, capture_output=True, text=True, timeout=600)


def streamed(out: Path) -> dict[str, dict]:
    """The parts as the report's JSON lines hold them, written one by one as each part ended."""
    return {row.pop("part"): row for row in map(json.loads, (out / "gpu_check.jsonl").read_text().splitlines())}


@pytest.mark.slow
def test_the_gpu_check_runs_every_part_in_smoke_mode(tmp_path, fid_weights):
    run = gpu_check(tmp_path, "--fid-weights", str(fid_weights))
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    parts = report["parts"]
    assert list(parts) == ["data", "step", "train", "resume", "ddp", "fid", "dedup"]
    assert streamed(tmp_path) == parts
    assert not [name for name, part in parts.items() if "error" in part or "skipped" in part]
    [row] = parts["step"]["rows"]
    assert all(row[loop] > 0 for loop in ("reference", "auto", "captured"))
    train, rates = parts["train"]["runs"], parts["train"]["step_rates"]
    assert [train[r]["placement"] for r in ("shards", "memory", "memory_graphs")] == [None, "mapped", "mapped"]
    # Each run against its own baseline: the captured run against the captured step, the others eager.
    assert [train[r]["baseline"] for r in ("shards", "memory", "memory_graphs")] == ["auto", "auto", "captured"]
    for r in train.values():
        assert r["images_per_second"] > 0
        assert r["fraction_of_step_rate"] == round(r["images_per_second"] / rates[r["baseline"]], 3)
    assert parts["resume"]["runs"] == {"graphs_off": {"identical": True, "max_difference": 0.0}}
    assert parts["resume"]["nondeterministic"] == []  # every operation of a training step has a deterministic kernel
    assert parts["ddp"]["backend"] == "gloo" and parts["ddp"]["runs"]["plain_batchnorm"]["same_weights_on_every_rank"]
    assert parts["fid"]["images"] == [8, 8] and parts["fid"]["fid"] > 0
    assert parts["dedup"]["hash_19_views_images_per_second"] > 0
    report_text = (tmp_path / "gpu_check.md").read_text()
    assert "| common | 8 |" in report_text and "| memory_graphs |" in report_text and "## dedup" in report_text


@pytest.mark.slow
def test_a_part_that_crashes_or_hangs_costs_that_part_alone(tmp_path):
    limit = 10
    started = time.perf_counter()
    run = gpu_check(
        tmp_path, "--parts", "step", "train", "dedup", "--fault", "step=crash", "train=hang", "--part-limit", str(limit)
    )
    seconds = time.perf_counter() - started
    assert run.returncode == 1 and "gpu_check: failed: step, train" in run.stderr
    parts = streamed(tmp_path)
    assert list(parts) == ["data", "step", "train", "dedup"]  # the shards first: train reads them
    assert parts["step"]["error"].startswith("crashed (killed by SIGABRT)")
    assert parts["train"]["error"] == f"hung: stopped after its {limit} s limit"
    assert limit <= parts["train"]["seconds"] < limit + 5
    assert parts["data"]["images"] == 240 and parts["dedup"]["hash_19_views_images_per_second"] > 0
    report_text = (tmp_path / "gpu_check.md").read_text()
    assert "## step" in report_text and "FAILED: hung" in report_text and "## dedup" in report_text
    assert seconds < 4 * limit
