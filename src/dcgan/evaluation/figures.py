"""The evaluation's pictures: sample grids, nearest training images, distance histogram, loss curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dcgan.imageops import annotate, tile_grid
from dcgan.plots import pyplot, save_figure


def nearest_sheet(samples: np.ndarray, by_pixels: np.ndarray, by_features: np.ndarray, *, reference: int) -> np.ndarray:
    """One row per sample: the sample, its nearest training image by pixels, by Inception features; with
    column headers and a title naming the `reference` images searched."""
    tiles = [tile for row in zip(samples, by_pixels, by_features, strict=True) for tile in row]
    cell = samples.shape[1] + 2
    return annotate(
        tile_grid(tiles, 3, cell),
        cell,
        title=f"Memorisation: samples and their nearest of {reference} training images",
        columns=["sample", "nearest by pixels", "nearest by Inception features"],
    )


def distance_histogram(path: str | Path, sample_to_training: np.ndarray, training_to_training: np.ndarray) -> None:
    """Nearest-training-image distances of samples beside those of training images to each other: samples
    much nearer to the training set than training images are to one another would be copies."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(6, 3.5))
    bins = np.histogram_bin_edges(np.concatenate([sample_to_training, training_to_training]), bins=40)
    if len(training_to_training):  # none for a lone training image
        axes.hist(training_to_training, bins=bins, alpha=0.6, density=True, label="training image -> nearest other")
    axes.hist(sample_to_training, bins=bins, alpha=0.6, density=True, label="sample -> nearest training image")
    axes.set_title("Nearest-training-image distances (samples much nearer would be copies)", fontsize=10)
    axes.set_xlabel("L2 distance of Inception features")
    axes.set_ylabel("density")
    axes.legend(fontsize=8)
    figure.tight_layout()
    save_figure(figure, path)
    plt.close(figure)


def loss_curves(path: str | Path, rows: list[dict]) -> None:
    """D and G losses, D's mean outputs and the tracked FID (if any) against the step, from the train
    stage's metrics.csv (FID rows may fall between loss rows)."""
    plt = pyplot()
    logged = [r for r in rows if r.get("loss_d")]
    tracked = [r for r in rows if r.get("fid")]
    figure, panels = plt.subplots(1, 3 if tracked else 2, figsize=(13 if tracked else 9, 3.5))
    losses, outputs = panels[:2]
    steps = [int(r["step"]) for r in logged]
    for name in ("loss_d", "loss_g"):
        losses.plot(steps, [float(r[name]) for r in logged], label=name)
    for name in ("d_real", "d_fake"):
        outputs.plot(steps, [float(r[name]) for r in logged], label=name)
    outputs.set_ylim(0, 1)
    if tracked:
        panels[2].plot(
            [int(r["step"]) for r in tracked],
            [float(r["fid"]) for r in tracked],
            marker="o",
            markersize=3,
            label="FID (tracked samples)",
        )
        best = min(tracked, key=lambda r: float(r["fid"]))
        panels[2].axvline(int(best["step"]), color="grey", linestyle=":", label=f"best: step {best['step']}")
    titles = ["D and G losses (BCE)", "D's mean output on real and generated images", "tracked FID (lower is better)"]
    for panel, title in zip(panels, titles, strict=False):  # two panels when no FID was tracked
        panel.set_title(title, fontsize=10)
        panel.set_xlabel("step")
        panel.legend(fontsize=8)
    figure.tight_layout()
    save_figure(figure, path)
    plt.close(figure)
