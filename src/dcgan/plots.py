"""Figures as PNG files: matplotlib on the file-only backend, written atomically; the training figures."""

from __future__ import annotations

from pathlib import Path

from dcgan.files import atomic_path


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (jobs have no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)


def memorisation_figure(path: str | Path, per_epoch: list[dict], training: dict) -> None:
    """The authors' memorisation score by epoch (mean distance of fixed samples to their nearest training
    image) beside the training images' own nearest-neighbour distances: samples far nearer than those
    would be copies."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.plot(
        [row["epoch"] + 1 for row in per_epoch],
        [row["distance"] for row in per_epoch],
        marker="o",
        markersize=3,
        label="samples -> nearest training image (mean)",
    )
    axes.axhline(training["median"], color="grey", linestyle="--", label="training image -> nearest other (median)")
    axes.axhline(training["p10"], color="grey", linestyle=":", label="... (10th percentile)")
    axes.set_title("Memorisation by epoch: samples' distance to the training set", fontsize=10)
    axes.set_xlabel("epoch")
    axes.set_ylabel("L2 distance of pixels")
    axes.set_ylim(bottom=0)
    axes.legend(fontsize=8)
    figure.tight_layout()
    save_figure(figure, path)
    plt.close(figure)


def message_figure(path: str | Path, text: str) -> None:
    """A figure that says why there is no picture (the report shows it in the picture's place)."""
    plt = pyplot()
    figure = plt.figure(figsize=(6, 1.2))
    figure.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=10)
    save_figure(figure, path)
    plt.close(figure)
