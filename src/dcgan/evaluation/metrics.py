"""The metrics job: a trained model's samples against its dataset's reference -> metrics.json (FID, KID,
nearest-training-image distances, dedup-hash collisions), memorisation.png and distances.png."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from dcgan.evaluation import figures
from dcgan.evaluation.generator import generate, load_models, random_z
from dcgan.evaluation.settings import MetricsSettings
from dcgan.fid import inception, scores
from dcgan.fid.scores import load_reference, nearest
from dcgan.fid.settings import ScoreSettings
from dcgan.files import file_sha256, load_npy, load_torch, write_json
from dcgan.imageops import write_png
from dcgan.progress import progress
from dcgan.provenance import record

REFERENCE_SET = "the first N training images in shard order (a seeded shuffle), at the model's size"


def hash_collisions(samples: np.ndarray, method: str, model: str | None, hash_dir: str | Path) -> dict:
    """How many samples share their dedup hash with a training image (the dataset's dedup method)."""
    from dcgan.dedup.hashers import hash_images, make_hasher

    _, hasher = make_hasher(method, model)
    training = {code.tobytes() for part in sorted(Path(hash_dir).glob("part-*.npy")) for code in load_npy(part)[:, 0]}
    codes = hash_images(hasher, samples)
    colliding = sum(code.tobytes() in training for code in codes)
    return {"samples": len(samples), "colliding": int(colliding), "training_hashes": len(training), "method": method}


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


def distribution_scores(real: np.ndarray, fake: np.ndarray, scoring: ScoreSettings, seed: int, reference) -> dict:
    """FID and KID of the samples against the reference as metrics.json records them, or why they were
    skipped (too few reference images)."""
    skipped = scores.too_few_for_fid(len(real), f"the reference {reference}")
    if skipped:
        print(f"evaluate: FID and KID skipped: {skipped}", file=sys.stderr)
        return {"fid": None, "kid": None, "skipped": {"fid": skipped, "kid": skipped}}
    found = scores.fid_and_kid(real, fake, scoring, seed)
    kid = {
        "mean": round(found["kid"], 6),
        "std": round(found["kid_std"], 6),
        "subsets": found["kid_subsets"],
        "subset_size": found["kid_subset_size"],
    }
    return {"fid": round(found["fid"], 4), "kid": kid, "skipped": {}}


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


def measure(
    model_path: str | Path,
    reference_path: str | Path,
    weights: str | Path,
    out_dir: str | Path,
    *,
    settings: MetricsSettings,
    scoring: ScoreSettings,
    dedup_method: str,
    dedup_model: str | None,
    hash_dir: str | Path,
    device: torch.device,
) -> dict:
    """metrics.json, memorisation.png and distances.png of one trained model; the hash collisions by the
    dataset's dedup method (its autoencoder, if any) against its hash folder."""
    started = time.perf_counter()
    out_dir, weights = Path(out_dir), Path(weights)
    g, _, model = load_models(model_path, device)
    saved = load_torch(model_path, "trained model")  # best.pt also names its step and FID
    reference = load_reference(reference_path)
    real_features, real_images = reference["features"].astype(np.float64), reference["images"]

    z = random_z(settings.samples, model, settings.seed, device)
    fake_features = sample_features(g, z, inception.InceptionFeatures(weights, device), settings.batch_size)
    distribution = distribution_scores(real_features, fake_features, scoring, settings.seed, reference_path)
    nearness = memorisation(g, z, fake_features, real_features, real_images, settings.memorisation, out_dir)
    collisions = hash_collisions(generate(g, z[: min(settings.samples, 1000)]), dedup_method, dedup_model, hash_dir)
    metrics = {
        "checkpoint": {"file": Path(model_path).name, "step": saved.get("step"), "tracked_fid": saved.get("fid")},
        **distribution,  # fid, kid, skipped
        "generated_images": len(fake_features),
        "reference": {"images": len(real_features), "source": str(reference_path), "what": REFERENCE_SET},
        "feature_extractor": {"name": inception.NAME, "file": weights.name, "sha256": file_sha256(weights)},
        "memorisation": {**nearness, "hash_collisions": collisions},
    }
    meta = record(
        "evaluate metrics",
        {"evaluate": {**asdict(settings), **asdict(scoring)}},
        **metrics,
        model=str(model_path),
        device=str(device),
        seconds=round(time.perf_counter() - started, 1),
    )
    write_json(out_dir / "metrics.json", meta)
    return meta
