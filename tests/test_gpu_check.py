"""benchmarks/gpu_check.py --smoke: every part of the one-call GPU check runs, here on a CPU at tiny size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.mark.slow
def test_the_gpu_check_runs_every_part_in_smoke_mode(tmp_path, fid_weights):
    run = subprocess.run(
        [sys.executable, "gpu_check.py", "--smoke", "--out", str(tmp_path), "--fid-weights", str(fid_weights)],
        cwd=BENCHMARKS,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    parts = report["parts"]
    assert list(parts) == ["step", "train", "resume", "ddp", "fid", "dedup"]
    assert not [name for name, part in parts.items() if "error" in part or "skipped" in part]
    [row] = parts["step"]["rows"]
    assert all(row[loop] > 0 for loop in ("reference", "auto", "captured"))
    runs = parts["train"]["runs"]
    assert [runs[r]["placement"] for r in ("shards", "memory", "memory_graphs")] == [None, "mapped", "mapped"]
    assert all(r["images_per_second"] > 0 for r in runs.values())
    assert parts["resume"]["runs"] == {"graphs_off": {"identical": True, "max_difference": 0.0}}
    assert parts["ddp"]["backend"] == "gloo" and parts["ddp"]["same_weights_on_every_rank"]
    assert parts["fid"]["images"] == [8, 8] and parts["fid"]["fid"] > 0
    assert parts["dedup"]["hash_19_views_images_per_second"] > 0
    report_text = (tmp_path / "gpu_check.md").read_text()
    assert "| common | 8 |" in report_text and "## dedup" in report_text
