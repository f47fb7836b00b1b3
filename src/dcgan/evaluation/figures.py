"""The evaluation's pictures: sample grids, nearest training images, distance histogram, loss curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dcgan.files import atomic_path
from dcgan.imageops import tile_grid


def grid(images: np.ndarray, columns: int = 8) -> np.ndarray:
    return tile_grid(list(images), columns, images.shape[1] + 2)


def nearest_sheet(samples: np.ndarray, by_pixels: np.ndarray, by_features: np.ndarray) -> np.ndarray:
    """One row per sample: the sample, its nearest training image by pixels, by Inception features."""
    tiles = [tile for row in zip(samples, by_pixels, by_features) for tile in row]
    return tile_grid(tiles, 3, samples.shape[1] + 2)


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (jobs have no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)


def distance_histogram(path: str | Path, sample_to_training: np.ndarray, training_to_training: np.ndarray) -> None:
    """Nearest-training-image distances of samples beside those of training images to each other: samples
    much nearer to the training set than training images are to one another would be copies."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(6, 3.5))
    bins = np.histogram_bin_edges(np.concatenate([sample_to_training, training_to_training]), bins=40)
    axes.hist(training_to_training, bins=bins, alpha=0.6, density=True, label="training image -> nearest other")
    axes.hist(sample_to_training, bins=bins, alpha=0.6, density=True, label="sample -> nearest training image")
    axes.set_xlabel("L2 distance of Inception features")
    axes.set_ylabel("density")
    axes.legend(fontsize=8)
    figure.tight_layout()
    save_figure(figure, path)
    plt.close(figure)


def loss_curves(path: str | Path, rows: list[dict]) -> None:
    """D and G losses and D's mean outputs against the step, from the train stage's metrics.csv."""
    plt = pyplot()
    steps = [int(r["step"]) for r in rows]
    figure, (losses, outputs) = plt.subplots(1, 2, figsize=(9, 3.5))
    for name in ("loss_d", "loss_g"):
        losses.plot(steps, [float(r[name]) for r in rows], label=name)
    for name in ("d_real", "d_fake"):
        outputs.plot(steps, [float(r[name]) for r in rows], label=name)
    losses.set_xlabel("step")
    outputs.set_xlabel("step")
    losses.legend()
    outputs.legend()
    outputs.set_ylim(0, 1)
    figure.tight_layout()
    save_figure(figure, path)
    plt.close(figure)
