"""The evaluate stage: one trained model against its dataset's reference set -> metrics.json and figures."""

from __future__ import annotations

import csv
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from dcgan.evaluation import figures, filters, svm
from dcgan.evaluation.generator import (
    arithmetic_figure,
    arithmetic_grid,
    generate,
    load_models,
    parse_seeds,
    random_z,
    seeded_z,
    walk_grid,
)
from dcgan.evaluation.settings import EvalSettings
from dcgan.fid import inception, scores
from dcgan.fid.scores import load_reference, nearest
from dcgan.fid.settings import ScoreSettings
from dcgan.files import file_sha256, load_npy, load_torch, write_json, write_tsv
from dcgan.imageops import annotate, titled_grid, write_png
from dcgan.progress import progress
from dcgan.provenance import record
from dcgan.train.model import build
from dcgan.train.settings import ModelSettings

FILTER_POOL = 5000  # training images searched for each D feature map's strongest responses (Fig. 5)


def hash_collisions(samples: np.ndarray, method: str, model: str | None, hash_dir: str | Path) -> dict:
    """How many samples share their dedup hash with a training image (the dataset's dedup method)."""
    from dcgan.dedup.hashers import hash_images, make_hasher

    _, hasher = make_hasher(method, model)
    training = {code.tobytes() for part in sorted(Path(hash_dir).glob("part-*.npy")) for code in load_npy(part)[:, 0]}
    codes = hash_images(hasher, samples)
    colliding = sum(code.tobytes() in training for code in codes)
    return {"samples": len(samples), "colliding": int(colliding), "training_hashes": len(training), "method": method}


def random_discriminator(model: ModelSettings, seed: int, device: torch.device) -> torch.nn.Module:
    """A randomly initialised D of the trained one's shape: the baseline of the SVM and of Fig. 5."""
    torch.manual_seed(seed)
    return build(model)[1].to(device).eval()


def svm_results(d: torch.nn.Module, model: ModelSettings, settings: EvalSettings) -> dict:
    """The paper's protocol on the demo's labelled photo windows (trained D beside a random-init D),
    and on CIFAR-10 / SVHN where their paths are given."""
    from dcgan.demo.labelled import photo_windows

    size = model.image_size
    images, labels, names = photo_windows(size, settings.svm_per_class, settings.seed)
    n = settings.svm_per_class
    train, val, test = svm.split_per_class(labels, (3 * n // 10, n // 5, n - 3 * n // 10 - n // 5), settings.seed + 1)
    random_d = random_discriminator(model, settings.seed, next(d.parameters()).device)
    results = {"protocol": svm.PROTOCOL, "demo_photo_windows": {"classes": names}}
    for name, network in (("trained_d", d), ("random_d", random_d)):
        features = svm.d_features(svm.with_batch_statistics(network, images[train]), images)
        results["demo_photo_windows"][name] = svm.protocol(
            (features[train], labels[train]), (features[val], labels[val]), (features[test], labels[test])
        )
    if settings.cifar10:
        results["cifar10"] = svm.cifar10_protocol(d, size, settings.cifar10, seed=settings.seed)
    if settings.svhn_train and settings.svhn_test:
        results["svhn_1000"] = svm.svhn_protocol(d, size, settings.svhn_train, settings.svhn_test, seed=settings.seed)
    return results


def sample_features(g: torch.nn.Module, z: torch.Tensor, extractor, batch_size: int) -> np.ndarray:
    """Inception features of G(z), a batch at a time."""
    bar = progress(total=len(z), desc="inception (samples)")
    features = []
    for lo in range(0, len(z), batch_size):
        images = generate(g, z[lo : lo + batch_size])
        features.append(extractor(images, batch_size))
        bar.update(len(images))
    bar.close()
    return np.concatenate(features)


def distribution_scores(
    real: np.ndarray, fake: np.ndarray, scoring: ScoreSettings, seed: int, reference: str | Path
) -> tuple[dict, tuple | None]:
    """FID and KID of the samples against the reference, or why they were skipped: (as metrics.json
    records them, the unrounded (FID, KID, KID std) or None)."""
    skipped = scores.too_few_for_fid(len(real), f"the reference {reference}")
    if skipped:
        print(f"evaluate: FID and KID skipped: {skipped}", file=sys.stderr)
        return {"fid": None, "kid": None, "skipped": {"fid": skipped, "kid": skipped}}, None
    found = scores.fid_and_kid(real, fake, scoring, seed)
    rounded = {
        "mean": round(found["kid"], 6),
        "std": round(found["kid_std"], 6),
        "subsets": found["kid_subsets"],
        "subset_size": found["kid_subset_size"],
    }
    exact = (found["fid"], found["kid"], found["kid_std"])
    return {"fid": round(found["fid"], 4), "kid": rounded, "skipped": {}}, exact


def memorisation(g, z, fake: np.ndarray, real: np.ndarray, real_images: np.ndarray, shown: int, out_dir: Path) -> dict:
    """memorisation.png (nearest training images of the first samples, by pixels and by features) and
    distances.png (nearest-feature distances of the samples against those between training images)."""
    samples = generate(g, z[:shown])
    by_pixels, _ = nearest(samples.reshape(len(samples), -1), real_images.reshape(len(real_images), -1))
    by_features, _ = nearest(fake[: len(samples)], real)
    write_png(
        out_dir / "memorisation.png",
        figures.nearest_sheet(samples, real_images[by_pixels], real_images[by_features], reference=len(real_images)),
    )
    _, sample_to_real = nearest(fake, real)
    _, real_to_real = nearest(real, real, exclude_self=True)
    real_to_real = real_to_real[np.isfinite(real_to_real)]  # a lone training image has no other one
    figures.distance_histogram(out_dir / "distances.png", sample_to_real, real_to_real)
    return {
        "nearest_feature_distance_samples_median": round(float(np.median(sample_to_real)), 4),
        "nearest_feature_distance_training_median": round(float(np.median(real_to_real)), 4)
        if len(real_to_real)
        else None,
    }


def generator_figures(g, model: ModelSettings, settings: EvalSettings, device: torch.device, out_dir: Path) -> None:
    """samples.png (seeds 0-63), walks.png (paper Fig. 4) and arithmetic.png (paper Fig. 7)."""
    # tile i (row by row) is seed i: the seeds to name in vector arithmetic
    write_png(
        out_dir / "samples.png",
        titled_grid(
            generate(g, seeded_z(list(range(64)), model, device)),
            8,
            "G(z) of seeds 0-63, row by row (seed = row x 8 + column)",
        ),
    )
    walks = walk_grid(g, model, rows=settings.walk_rows, steps=settings.walk_steps, seed=settings.seed + 1)
    write_png(
        out_dir / "walks.png",
        annotate(
            walks,
            model.image_size + 2,
            title="Latent walks (paper Fig. 4): each row decodes evenly spaced z on a line between two random z",
        ),
    )
    seeds = [parse_seeds(s) for s in (settings.arithmetic_a, settings.arithmetic_b, settings.arithmetic_c)]
    write_png(
        out_dir / "arithmetic.png",
        arithmetic_figure(arithmetic_grid(g, model, *seeds, seed=settings.seed), model.image_size, *seeds),
    )


def filter_figure(d, model: ModelSettings, settings: EvalSettings, real_images, device: torch.device, out_dir: Path):
    """d_filters.png (paper Fig. 5): the strongest training images of D's last feature maps, trained and
    random-init D side by side."""
    pool = real_images[:FILTER_POOL]
    maps = min(settings.filter_maps, [m for m in d.features if isinstance(m, torch.nn.Conv2d)][-1].out_channels)
    filters.filters_figure(
        out_dir / "d_filters.png",
        svm.with_batch_statistics(d, pool),
        svm.with_batch_statistics(random_discriminator(model, settings.seed, device), pool),
        pool,
        maps,
    )


def score_rows(metrics: dict, exact: tuple | None) -> list[tuple[str, str, str]]:
    """scores.tsv's rows (metric, value, details): the headline figures of metrics.json, for people."""
    skipped = metrics["skipped"].get("fid")
    if skipped:
        rows = [("FID", "skipped", skipped), ("KID", "skipped", skipped)]
    else:
        fid, kid, kid_std = exact  # unrounded, as printed before metrics.json rounds them
        generated, reference = metrics["generated_images"], metrics["reference"]["images"]
        rows = [
            ("FID", f"{fid:.2f}", f"{generated} generated vs {reference} training images"),
            (
                "KID",
                f"{kid:.4f} ± {kid_std:.4f}",
                f"{metrics['kid']['subsets']} subsets of {metrics['kid']['subset_size']}",
            ),
        ]
    collisions, classifier = metrics["memorisation"]["hash_collisions"], metrics["svm"]
    demo = classifier["demo_photo_windows"]
    rows += [
        ("samples sharing a training image's dedup hash", str(collisions["colliding"]), f"of {collisions['samples']}"),
        (
            "L2-SVM on D features, demo photo windows",
            f"{demo['trained_d']['test_accuracy']:.3f}",
            f"random-init D: {demo['random_d']['test_accuracy']:.3f}; {len(demo['classes'])} classes; "
            "authors' protocol",
        ),
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


def evaluate(
    model_path: str | Path,
    reference_path: str | Path,
    weights: str | Path,
    out_dir: str | Path,
    *,
    settings: EvalSettings,
    scoring: ScoreSettings,
    dedup_method: str,
    dedup_model: str | None,
    hash_dir: str | Path,
    metrics_csv: str | Path | None,
    device: torch.device,
) -> dict:
    """One trained model against its dataset's reference: metrics.json, scores.tsv and the figures."""
    started = time.perf_counter()
    out_dir, weights = Path(out_dir), Path(weights)
    g, d, model = load_models(model_path, device)
    saved = load_torch(model_path, "trained model")  # best.pt also names its step and FID
    reference = load_reference(reference_path)
    real_features, real_images = reference["features"].astype(np.float64), reference["images"]

    z = random_z(settings.samples, model, settings.seed, device)
    extractor = inception.InceptionFeatures(weights, device)
    fake_features = sample_features(g, z, extractor, settings.batch_size)
    distribution, exact = distribution_scores(real_features, fake_features, scoring, settings.seed, reference_path)
    nearness = memorisation(g, z, fake_features, real_features, real_images, settings.memorisation, out_dir)
    collisions = hash_collisions(generate(g, z[: min(settings.samples, 1000)]), dedup_method, dedup_model, hash_dir)
    generator_figures(g, model, settings, device, out_dir)
    if metrics_csv:
        with open(metrics_csv, newline="") as f:
            figures.loss_curves(out_dir / "losses.png", list(csv.DictReader(f)))
    classifier = svm_results(d, model, settings)
    filter_figure(d, model, settings, real_images, device, out_dir)

    metrics = {
        "checkpoint": {"file": Path(model_path).name, "step": saved.get("step"), "tracked_fid": saved.get("fid")},
        **distribution,  # fid, kid, skipped
        "generated_images": len(fake_features),
        "reference": {
            "images": len(real_features),
            "source": str(reference_path),
            "what": "the first N training images in shard order (a seeded shuffle), at the model's size",
        },
        "feature_extractor": {"name": inception.NAME, "file": weights.name, "sha256": file_sha256(weights)},
        "memorisation": {**nearness, "hash_collisions": collisions},
        "svm": classifier,
    }
    meta = record(
        "evaluate",
        {"evaluate": {**asdict(settings), **asdict(scoring)}},
        **metrics,
        model=str(model_path),
        device=str(device),
        seconds=round(time.perf_counter() - started, 1),
    )
    write_json(out_dir / "metrics.json", meta)
    write_tsv(out_dir / "scores.tsv", ("metric", "value", "details"), score_rows(metrics, exact))
    return meta
