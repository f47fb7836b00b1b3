"""The Snakemake workflow, driven through Snakemake's Python API (which, unlike the CLI, loads no profile)."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import lmdb
import pytest
import torch

from dcgan.faces.quality import FACE_REJECTIONS
from dcgan.files import read_tsv
from dcgan.summary import reason_category
from dcgan.table import part_prefix, read_part, read_rejects
from helpers import REPO, SMALL_DEMO, run_workflow, snakemake_command

# the jobs of one dataset from its image table on, by stage; the demo has three datasets
DEDUP = ("dedup_train", "dedup_filter")  # and a dedup_hash job per part
TRAINING = ("shards", "decode", "fid_reference", "train")
EVALUATION = ("evaluate_metrics", "evaluate_figures", "evaluate_svm", "scores_table")
FIG_6 = ("find_boxes", "forget")  # forgetting to draw, on the faces model


def test_dry_run_of_all_plans_every_stage(tmp_path):
    jobs = run_workflow(tmp_path, ["all"], dryrun=True)
    stages = ["all", "demo_data", "face_report"] + ["extract"] * 4 + ["detect_faces"] * 2 + ["extract_images"] * 2
    stages += ["list_images"] * 2  # the web images and the image folder
    stages += ["image_table", *DEDUP, *TRAINING, *EVALUATION] * 3 + ["dedup_hash"] * 8 + list(FIG_6)
    stages += ["mtcnn_weights", "yunet_model", "fid_weights", "benchmarks_page", "report"]
    assert jobs == sorted(stages)
    assert not (tmp_path / "results").exists()  # a dry run makes nothing


def test_demo_extract_stage_runs_for_real(small_run):
    truth = json.loads((small_run / "resources/demo/bedroom_truth.json").read_text())
    with lmdb.open(str(small_run / "resources/demo/bedroom_train_lmdb"), readonly=True, lock=False) as env:
        with env.begin() as txn:
            all_keys = {k.decode() for k in txn.cursor().iternext(values=False)}
    kept, rejected = [], []
    for part in range(4):
        prefix = part_prefix(small_run / "results/bedroom/images", part)
        images, rows = read_part(prefix)
        assert images.shape[1:] == (64, 64, 3)
        kept += [r["key"] for r in rows]
        rejected += [r["key"] for r in read_rejects(prefix)]
        provenance = json.loads(prefix.with_suffix(".json").read_text())
        assert provenance["settings"]["parts"] == 4 and "snakemake" in provenance["versions"]
    assert len(kept) + len(rejected) == len(all_keys) == 150
    assert set(kept) | set(rejected) == all_keys
    assert set(rejected) == set(truth["bad"])
    summary = json.loads((small_run / "results/bedroom/images/table.json").read_text())
    assert summary["images"] == len(kept) and summary["rejects"] == len(rejected)


def test_demo_image_folder_is_extracted_with_its_classes(small_run):
    truth = json.loads((small_run / "resources/demo/image_folder_truth.json").read_text())
    summary = json.loads((small_run / "results/photos/images/table.json").read_text())
    kept = {p for p, info in truth["images"].items() if min(info["width"], info["height"]) >= 64}
    assert summary["images"] == len(kept) and sum(summary["classes"].values()) == len(kept)
    assert set(summary["classes"]) <= set(truth["photos"]) and len(summary["classes"]) >= 10
    rows = [row for part in range(2) for row in read_part(part_prefix(small_run / "results/photos/images", part))[1]]
    assert {r["source"]: r["class"] for r in rows} == {p: truth["images"][p]["class"] for p in kept}


def test_demo_faces_stage_runs_for_real(small_run):
    truth = json.loads((small_run / "resources/demo/faces_truth.json").read_text())
    rows, rejected, seen = [], set(), 0
    for part in range(2):
        prefix = part_prefix(small_run / "results/faces/images", part)
        rows += read_part(prefix)[1]
        rejected |= {r["key"] for r in read_rejects(prefix) if reason_category(r["reason"]) not in FACE_REJECTIONS}
        seen += json.loads(prefix.with_suffix(".json").read_text())["source_images"]
    assert rejected == set(truth["bad"])
    assert seen == len(truth["images"]) + len(truth["bad"])
    detections = read_tsv(small_run / "results/faces/detections.tsv")
    assert [d["image"] for d in detections] == [r["source"] for r in rows]
    for figure in ("crops", "detections", "quality"):
        assert (small_run / f"results/faces/faces/{figure}.png").stat().st_size > 0


def test_demo_trains_every_dataset_and_writes_sample_grids(small_run):
    for dataset in ("bedroom", "faces", "photos"):
        out = small_run / f"results/{dataset}/train"
        rows = read_csv(out / "metrics.csv")
        assert [int(r["step"]) for r in rows if r["loss_d"]] == [4, 8, 12]
        assert [int(r["step"]) for r in rows if r["fid"]] == [8, 12]  # tracked FID: fid_every 8, and the end
        best = torch.load(out / "best.pt")
        assert best["fid"] == min(float(r["fid"]) for r in rows if r["fid"]) and best["step"] in (8, 12)
        grid = cv2.imread(str(out / "samples.png"))
        # 64 samples of the demo's 32x32, each tile (with its border) upscaled 3x to be seen, under a title
        assert grid.shape[1] == 8 * 34 * 3 and grid.shape[0] > 8 * 34 * 3 and grid.std() > 5
        assert sorted(p.name for p in (out / "samples").iterdir()) == ["step-000000006.png", "step-000000012.png"]
        record = json.loads((out / "train.json").read_text())
        assert record["steps"] == 12 and record["processes"] == 2 and record["backend"] == "gloo"  # through torchrun
        assert record["global_batch"] == 32 and len(set(record["parameters_sha256"])) == 1
        assert record["data"]["mode"] == "memory" and record["data"]["placement"] == "mapped"  # auto, on a CPU
        index = json.loads((small_run / f"results/{dataset}/shards/index.json").read_text())
        shard_samples = sum(s["nsamples"] for s in index["shardlist"])
        [epochs] = record["epochs"]  # a few batches per epoch: 12 steps cross epoch ends
        assert epochs["last"] >= 1 and epochs["samples"] == epochs["shard_samples"] == shard_samples


def test_demo_evaluates_every_dataset_with_named_sample_counts_and_extractor(small_run, tmp_path):
    from dcgan.fid.inception import SHA256

    for dataset in ("bedroom", "faces", "photos"):
        metrics = json.loads((small_run / f"results/{dataset}/eval/metrics.json").read_text())
        assert metrics["checkpoint"]["file"] == "best.pt" and metrics["checkpoint"]["step"] in (8, 12)  # the default
        assert metrics["generated_images"] == 20 and 0 < metrics["reference"]["images"] <= 20
        assert (
            metrics["feature_extractor"]["sha256"] == SHA256 and "TF-Inception" in metrics["feature_extractor"]["name"]
        )
        assert metrics["fid"] > 0 and metrics["kid"]["subset_size"] == min(10, metrics["reference"]["images"])
        assert metrics["memorisation"]["hash_collisions"]["samples"] == 20
        svm = json.loads((small_run / f"results/{dataset}/eval/svm.json").read_text())["demo_photo_windows"]
        assert svm["trained_d"]["test"] == svm["random_d"]["test"] == 12 * 5
        for figure in ("samples", "walks", "arithmetic", "memorisation", "distances", "losses", "d_filters"):
            assert cv2.imread(str(small_run / f"results/{dataset}/eval/{figure}.png")) is not None
        scores = read_tsv(small_run / f"results/{dataset}/eval/scores.tsv")
        assert scores[0] == {
            "metric": "FID",
            "value": f"{metrics['fid']:.2f}",
            "details": f"20 generated vs {metrics['reference']['images']} training images",
        }
        assert float(scores[-1]["value"]) == round(svm["trained_d"]["test_accuracy"], 3)
    out = tmp_path / "smile.png"
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "dcgan",
            "arithmetic",
            str(small_run / "results/faces/train/model.pt"),
            "--a",
            "1,2",
            "--b",
            "3",
            "--c",
            "4,5",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    sheet = cv2.imread(str(out))  # 3 groups and the result row of 32x32 tiles upscaled 3x, rows named on the left
    assert sheet.shape[1] == 150 + 9 * 34 * 3 and sheet.shape[0] > 4 * 34 * 3
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "dcgan",
            "arithmetic",
            str(tmp_path / "none.pt"),
            "--a",
            "1",
            "--b",
            "2",
            "--c",
            "3",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "trained model not found" in bad.stderr and "Traceback" not in bad.stderr


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# the jobs a new dedup autoencoder makes rerun: dedup and every stage after it
AFTER_DEDUP = {"all", *TRAINING, *EVALUATION, *FIG_6, "report"}
DEDUP_AND_AFTER = {*DEDUP, "dedup_hash"} | AFTER_DEDUP


def test_second_run_does_nothing_and_forcerun_dedup_train_reruns_only_what_follows(small_run):
    assert run_workflow(small_run, ["all"], dryrun=True, config=SMALL_DEMO) == []
    jobs = run_workflow(small_run, ["all"], dryrun=True, config=SMALL_DEMO, forcerun=frozenset({"dedup_train"}))
    assert set(jobs) == DEDUP_AND_AFTER


def test_changing_a_dedup_parameter_reruns_only_dedup_and_what_follows(small_run):
    changed = {**SMALL_DEMO, "dedup": {"autoencoder": {**SMALL_DEMO["dedup"]["autoencoder"], "noise_std": 0.3}}}
    assert set(run_workflow(small_run, ["all"], dryrun=True, config=changed)) == DEDUP_AND_AFTER
    changed = {**SMALL_DEMO, "dedup": {**SMALL_DEMO["dedup"], "radius": 2}}
    assert set(run_workflow(small_run, ["all"], dryrun=True, config=changed)) == {"dedup_filter"} | AFTER_DEDUP


@pytest.mark.parametrize(
    "setting, value, jobs",
    [
        ("walk_rows", 3, {"evaluate_figures"}),
        ("svm_per_class", 20, {"evaluate_svm", "scores_table"}),
        ("memorisation", 3, {"evaluate_metrics", "scores_table"}),
    ],
)
def test_an_evaluation_setting_reruns_only_its_own_job(small_run, setting, value, jobs):
    """Evaluation is one job per kind of result: a figure's setting does not rerun FID, nor the SVM."""
    changed = {**SMALL_DEMO, "evaluate": {**SMALL_DEMO["evaluate"], setting: value}}
    per_dataset = [job for job in run_workflow(small_run, ["all"], dryrun=True, config=changed) if job in EVALUATION]
    assert sorted(per_dataset) == sorted(list(jobs) * 3)


def deterministic_outputs(workdir: Path) -> dict[str, bytes]:
    """Dedup decisions and shard files of every demo dataset."""
    paths = [workdir / f"results/{d}/dedup/duplicates.tsv" for d in ("bedroom", "faces", "photos")]
    paths += sorted(workdir.glob("results/*/shards/*.tar")) + sorted(workdir.glob("results/*/shards/manifest.tsv"))
    return {str(p.relative_to(workdir)): hashlib.sha256(p.read_bytes()).digest() for p in paths}


def test_retraining_dedup_gives_identical_decisions_and_shards(small_run):
    before = deterministic_outputs(small_run)
    assert len(before) > 4
    shards = [f"results/{d}/shards" for d in ("bedroom", "faces", "photos")]  # training again would prove nothing more
    run_workflow(small_run, shards, dryrun=False, config=SMALL_DEMO, forcerun=frozenset({"dedup_train"}))
    assert deterministic_outputs(small_run) == before
    stats = json.loads((small_run / "results/bedroom/dedup/stats.json").read_text())
    assert stats["images"] > 0 and stats["settings"]["radius"] == 0


@pytest.mark.parametrize(
    "override, message",
    [
        (
            {"datasets": {"bedroom": {"partitions": "four"}}},
            "datasets.bedroom.partitions: 'four' is not of type 'integer'",
        ),
        ({"extract": {"min_sise": 3}}, "'min_sise' was unexpected"),
        (
            {"datasets": {"extra": {"source": "lsun", "lmdb": "/no/such/lmdb"}}},
            "datasets.extra.lmdb: LMDB not found: /no/such/lmdb",
        ),
        ({"evaluate": {"features_from": "imagenet"}}, "evaluate.features_from: 'imagenet' is not one of the datasets"),
        ({"datasets": {"photos": {"train": {"image_size": 48}}}}, "datasets.photos.train.image_size: 48 is not one of"),
        (
            {"datasets": {"photos": {"train": {"processes": 4}}}},
            "datasets.photos.train.processes: not a setting a dataset",
        ),
    ],
)
def test_bad_config_stops_with_a_message_naming_the_key(tmp_path, override, message):
    with pytest.raises(Exception) as raised:
        run_workflow(tmp_path, ["all"], dryrun=True, config=override)
    assert message in str(raised.value)


def test_a_config_with_many_mistakes_names_every_key_at_once(tmp_path):
    wrong = {
        "seed": "zero",
        "image_size": -64,
        "dedup": {"radius": 1.5, "method": "md5"},
        "train": {"batch_size": "128"},
        "datasets": {"bedroom": {"partitions": 0}},
    }
    with pytest.raises(Exception) as raised:
        run_workflow(tmp_path, ["all"], dryrun=True, config=wrong)
    message = str(raised.value)
    for key in (
        "seed:",
        "image_size:",
        "dedup.radius:",
        "dedup.method:",
        "train.batch_size:",
        "datasets.bedroom.partitions:",
    ):
        assert key in message
    assert "Traceback" not in message and not (tmp_path / "results").exists()

    missing = {
        "datasets": {"bedroom": {"lmdb": str(tmp_path / "no_lmdb")}, "faces": {"images": str(tmp_path / "no_faces")}}
    }
    with pytest.raises(Exception) as raised:
        run_workflow(tmp_path, ["all"], dryrun=True, config=missing)
    assert "datasets.bedroom.lmdb: LMDB not found" in str(raised.value)
    assert "datasets.faces.images: no such file or folder" in str(raised.value)


def test_dataset_train_overrides_and_features_from_reach_the_commands(tmp_path):
    """A dataset's `train` overrides reach its train and FID-reference jobs only, and CIFAR-10 goes to the
    evaluate job of the `features_from` dataset only (the paper's Table 1 setting)."""
    cifar = tmp_path / "cifar-10-python.tar.gz"
    cifar.write_bytes(b"")
    overrides = {
        "datasets": {"photos": {"train": {"image_size": 16, "ngf": 12}}},
        "evaluate": {"features_from": "photos", "cifar10": str(cifar)},
    }
    result = subprocess.run(
        snakemake_command(tmp_path, "-n", "-p", "--forceall", "all", overrides=overrides),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    commands = [line.strip() for line in result.stdout.splitlines() if "-m dcgan" in line]
    for dataset in ("bedroom", "faces", "photos"):
        [train] = [c for c in commands if "dcgan train results/" + dataset in c]
        [reference] = [c for c in commands if "fid-reference results/" + dataset in c]
        [evaluate] = [c for c in commands if "dcgan evaluate svm results/" + dataset in c]
        ours = dataset == "photos"
        assert ("--image-size 16" in train and "--ngf 12" in train) == ours and ("--image-size 32" in train) != ours
        assert ("--size 16" in reference) == ours
        assert (f"--cifar10 {cifar}" in evaluate) == ours and ("--cifar10 ''" in evaluate) != ours


def test_command_line_applies_the_default_profile(tmp_path):
    """`snakemake` at the command line loads workflow/profiles/default (through profiles/default)."""
    result = subprocess.run(
        ["snakemake", "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "-n", "all"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "workflow specific profile" in result.stderr
    assert "python -m dcgan extract" in result.stdout + result.stderr  # printshellcmds, from the profile


def test_generic_cluster_profile_is_accepted_and_applies_its_resources(tmp_path):
    """The example profile for sites without SLURM (a dry run: nothing is submitted, no qsub needed)."""
    result = subprocess.run(
        [
            "snakemake",
            "all",
            "-s",
            str(REPO / "Snakefile"),
            "-d",
            str(tmp_path),
            "-n",
            "--workflow-profile",
            str(REPO / "workflow/profiles/generic"),
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, DCGAN_CLUSTER_QUEUE="gpu.q"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Using workflow specific profile" in result.stderr
    train = result.stdout.split("rule train:", 1)[1].split("Shell command")[0]
    assert "runtime=2880, gpu=1" in train


def chromium() -> str | None:
    """Debian's headless-capable chromium, installed with apt where there is root and none yet."""
    if shutil.which("chromium") is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], capture_output=True, timeout=900)
    return shutil.which("chromium")


REPORT_SECTIONS = ("Training", "Evaluation", "Dedup", "Faces", "Benchmarks")


def test_report_renders_in_headless_chromium_with_every_section(small_run, tmp_path):
    report = small_run / "report.html"
    assert report.stat().st_size > 100_000  # Snakemake's self-contained report, figures embedded
    html = report.read_text()
    assert "d_filters.png" in html and "forget.png" in html  # the paper's Fig. 5 and Fig. 6 analogues
    browser = chromium()
    if browser is None:
        pytest.skip("no chromium, and no root with apt-get to install Debian's")
    headless = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=20000"]
    dom = subprocess.run(headless + ["--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=300).stdout
    assert "<body" in dom
    for section in REPORT_SECTIONS:  # categories, rendered by the report's scripts
        assert f">{section}<" in dom, section
    for dataset in ("bedroom", "faces", "photos"):  # the landing page: each dataset's scores table and samples
        assert f"Dataset {dataset}" in dom and f"results/{dataset}/eval/samples.png" in dom
        assert f"Scores of the evaluated model (results/{dataset}/eval/scores.tsv)" in dom
    assert ">L2-SVM on D features, demo photo windows<" in dom
    shot = tmp_path / "report.png"
    subprocess.run(
        headless + [f"--screenshot={shot}", "--window-size=1400,900", report.as_uri()], capture_output=True, timeout=300
    )
    picture = cv2.imread(str(shot))
    assert picture is not None and picture.shape[:2] == (900, 1400) and picture.std() > 10  # not a blank page
