"""The table job: scores.tsv, the headline figures of metrics.json and svm.json for people (and the report)."""

from __future__ import annotations

import json
from pathlib import Path

from dcgan.files import write_tsv


def write_scores_table(metrics_path: str | Path, svm_path: str | Path, out: str | Path) -> list[tuple[str, str, str]]:
    """scores.tsv (metric, value, details) from the metrics and SVM jobs' records; returns its rows."""
    metrics = json.loads(Path(metrics_path).read_text())
    classifier = json.loads(Path(svm_path).read_text())
    rows = distribution_rows(metrics) + memorisation_rows(metrics) + svm_rows(classifier)
    write_tsv(out, ("metric", "value", "details"), rows)
    return rows


def distribution_rows(metrics: dict) -> list[tuple[str, str, str]]:
    """FID and KID, with the sample counts they were measured on, or why they were skipped."""
    skipped = metrics["skipped"].get("fid")
    if skipped:
        return [("FID", "skipped", skipped), ("KID", "skipped", skipped)]
    kid = metrics["kid"]
    return [
        (
            "FID",
            f"{metrics['fid']:.2f}",
            f"{metrics['generated_images']} generated vs {metrics['reference']['images']} training images",
        ),
        ("KID", f"{kid['mean']:.4f} ± {kid['std']:.4f}", f"{kid['subsets']} subsets of {kid['subset_size']}"),
    ]


def memorisation_rows(metrics: dict) -> list[tuple[str, str, str]]:
    collisions = metrics["memorisation"]["hash_collisions"]
    return [
        ("samples sharing a training image's dedup hash", str(collisions["colliding"]), f"of {collisions['samples']}")
    ]


def svm_rows(classifier: dict) -> list[tuple[str, str, str]]:
    """The D-feature SVM's test accuracy on the demo's photo windows (beside a random-init D's), and on
    CIFAR-10 and SVHN where they were run."""
    demo = classifier["demo_photo_windows"]
    rows = [
        (
            "L2-SVM on D features, demo photo windows",
            f"{demo['trained_d']['test_accuracy']:.3f}",
            f"random-init D: {demo['random_d']['test_accuracy']:.3f}; {len(demo['classes'])} classes; "
            "authors' protocol",
        )
    ]
    for name, key in (("CIFAR-10", "cifar10"), ("SVHN, 1000 labels", "svhn_1000")):
        if key in classifier:
            result = classifier[key]
            value = (
                f"{result['test_accuracy']:.4f}"
                if "test_accuracy" in result
                else f"{result['test_accuracy_mean']:.4f} ± {result['test_accuracy_ci95']:.4f}"
            )
            rows.append((f"L2-SVM on D features, {name}", value, "test accuracy, authors' protocol"))
    return rows
