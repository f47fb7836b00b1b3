"""The figures job (samples, latent walks, vector arithmetic, loss curves, D's features: figures.json
beside them), and the evaluation's plots: nearest training images, distance histogram, loss curves."""

from __future__ import annotations

import csv
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from dcgan.evaluation import filters, svm
from dcgan.evaluation.generator import (
    arithmetic_figure,
    arithmetic_grid,
    generate,
    load_models,
    parse_seeds,
    random_discriminator,
    seeded_z,
    walk_grid,
)
from dcgan.evaluation.settings import FigureSettings
from dcgan.fid.scores import load_reference
from dcgan.files import write_json
from dcgan.imageops import annotate, tile_grid, titled_grid, write_png
from dcgan.plots import pyplot, save_figure
from dcgan.provenance import record
from dcgan.train.settings import ModelSettings

FILTER_POOL = 5000  # training images searched for each D feature map's strongest responses (Fig. 5)
FIGURES = ("samples.png", "walks.png", "arithmetic.png", "losses.png", "d_filters.png")


def draw(
    model_path: str | Path,
    reference_path: str | Path,
    metrics_csv: str | Path,
    out_dir: str | Path,
    *,
    settings: FigureSettings,
    device: torch.device,
) -> dict:
    """The figures of one trained model (FIGURES) and figures.json (settings, versions, timing)."""
    started = time.perf_counter()
    out_dir = Path(out_dir)
    g, d, model = load_models(model_path, device)
    generator_figures(g, model, settings, device, out_dir)
    with open(metrics_csv, newline="") as f:
        loss_curves(out_dir / "losses.png", list(csv.DictReader(f)))
    filter_figure(d, model, settings, load_reference(reference_path)["images"], device, out_dir)
    meta = record(
        "evaluate figures",
        {"evaluate": asdict(settings)},
        figures=list(FIGURES),
        model=str(model_path),
        device=str(device),
        seconds=round(time.perf_counter() - started, 1),
    )
    write_json(out_dir / "figures.json", meta)
    return meta


def generator_figures(g, model: ModelSettings, settings: FigureSettings, device: torch.device, out_dir: Path) -> None:
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


def filter_figure(d, model: ModelSettings, settings: FigureSettings, real_images, device: torch.device, out_dir: Path):
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
