"""Fréchet Inception Distance and Kernel Inception Distance from feature matrices (rows = images), nearest
neighbours, and the reference file they are measured against."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dcgan.errors import UserError
from dcgan.fid.settings import ScoreSettings
from dcgan.files import damage_reason, damaged_file, is_damage

FID_MIN_IMAGES = 2  # a covariance needs two images; with one, FID and KID are undefined


class TooFewImages(UserError):
    """Too few reference images to measure FID and KID."""


def too_few_for_fid(count: int, what: str) -> str | None:
    """Why FID and KID cannot be measured with `count` images of `what` (None when they can)."""
    if count < FID_MIN_IMAGES:
        return f"{what} holds {count} image(s); FID and KID need at least {FID_MIN_IMAGES}"
    return None


def gaussian(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (unbiased, as TTUR's FID code) of the rows, in float64."""
    features = np.asarray(features, dtype=np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)).

    tr((S1 S2)^(1/2)) is computed as the sum of square roots of the eigenvalues of the symmetric PSD
    matrix S1^(1/2) S2 S1^(1/2) (same spectrum as S1 S2), which stays real where a general matrix
    square root goes complex on singular covariances (fewer images than feature dimensions).
    """
    root = _psd_sqrt(sigma1)
    middle = root @ sigma2 @ root
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt)


def _polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x @ y.T / x.shape[1] + 1) ** 3


def kernel_inception_distance(
    real: np.ndarray, fake: np.ndarray, *, subsets: int, subset_size: int, seed: int
) -> tuple[float, float]:
    """KID (Bińkowski et al. 2018): the unbiased MMD^2 estimate with the cubic polynomial kernel, averaged
    over `subsets` random subsets of `subset_size` rows of each set (fewer if a set is smaller).
    Returns (mean, standard deviation over the subsets)."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    m = min(subset_size, len(real), len(fake))
    if m < 2:
        raise ValueError("KID needs at least two images in each set")
    rng = np.random.default_rng(seed)
    estimates = []
    for _ in range(subsets):
        x = real[rng.choice(len(real), m, replace=False)]
        y = fake[rng.choice(len(fake), m, replace=False)]
        kxx, kyy, kxy = _polynomial_kernel(x, x), _polynomial_kernel(y, y), _polynomial_kernel(x, y)
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        estimates.append(within - 2 * kxy.mean())
    return float(np.mean(estimates)), float(np.std(estimates))


def fid_and_kid(
    real: np.ndarray, fake: np.ndarray, scoring: ScoreSettings, seed: int, real_stats: tuple | None = None
) -> dict:
    """FID and KID of `fake` against `real` Inception features, unrounded: what training tracks and what
    evaluation reports, measured alike. `real_stats`: gaussian(real), when the caller keeps it."""
    fid = frechet_distance(*gaussian(fake), *(real_stats or gaussian(real)))
    kid, kid_std = kernel_inception_distance(
        real, fake, subsets=scoring.kid_subsets, subset_size=scoring.kid_subset_size, seed=seed
    )
    subset_size = min(scoring.kid_subset_size, len(real), len(fake))
    return {
        "fid": fid,
        "kid": kid,
        "kid_std": kid_std,
        "kid_subsets": scoring.kid_subsets,
        "kid_subset_size": subset_size,
    }


def nearest(
    queries: np.ndarray, pool: np.ndarray, *, exclude_self: bool = False, chunk: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """(index, L2 distance) of each query row's nearest pool row, `chunk` queries at a time (50,000 x
    50,000 distances at once would take 20 GB); exclude_self when queries is pool."""
    queries, pool = np.asarray(queries, np.float64), np.asarray(pool, np.float64)
    pool_norms = (pool**2).sum(1)
    index, distance = np.empty(len(queries), np.int64), np.empty(len(queries))
    for lo in range(0, len(queries), chunk):
        block = queries[lo : lo + chunk]
        squared = (block**2).sum(1)[:, None] - 2 * block @ pool.T + pool_norms[None, :]
        if exclude_self:
            squared[np.arange(len(block)), np.arange(lo, lo + len(block))] = np.inf
        index[lo : lo + len(block)] = squared.argmin(axis=1)
        distance[lo : lo + len(block)] = np.sqrt(
            np.clip(squared[np.arange(len(block)), index[lo : lo + len(block)]], 0, None)
        )
    return index, distance


def load_reference(path: str | Path) -> dict[str, np.ndarray]:
    """A dataset's reference (rule fid_reference): Inception `features`, `images` at the model's size, `keys`."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"reference statistics not found: {path}")
    try:
        with np.load(path) as saved:
            return {name: saved[name] for name in saved.files}
    except Exception as e:
        if not is_damage(e):
            raise
        raise damaged_file(path, "reference statistics", damage_reason(e)) from None
