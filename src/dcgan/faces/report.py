"""The face stage's dataset-level outputs: detections.tsv, two contact sheets and the crops' quality."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from dcgan.files import write_tsv
from dcgan.imageops import decode, tile_grid, write_png
from dcgan.plots import pyplot, save_figure
from dcgan.sources.listing import read_list
from dcgan.summary import reason_category
from dcgan.table import TableImages, part_prefix, read_part, read_rejects

SHEET_TILE = 240


def face_report(
    table_dir: str | Path,
    parts: int,
    inputs_list: str | Path,
    out_dir: str | Path,
    *,
    seed: int = 0,
    crops: int = 64,
    images: int = 12,
) -> int:
    """Write out_dir/detections.tsv (every kept box, original pixels), out_dir/faces/crops.png,
    out_dir/faces/detections.png and out_dir/faces/quality.png."""
    out_dir = Path(out_dir)
    rows = [row for part in range(parts) for row in read_part(part_prefix(table_dir, part))[1]]
    rejects = [r["reason"] for part in range(parts) for r in read_rejects(part_prefix(table_dir, part))]
    quality_figure(out_dir / "faces" / "quality.png", rows, rejects)
    write_tsv(
        out_dir / "detections.tsv",
        ("image", "x", "y", "w", "h", "score"),
        [(r["source"], r["x"], r["y"], r["w"], r["h"], r["score"]) for r in rows],
    )
    rng = np.random.default_rng(seed)
    all_crops = TableImages(table_dir, parts)
    picked = sorted(rng.choice(len(all_crops), min(crops, len(all_crops)), replace=False))
    tiles = [cv2.resize(all_crops[int(i)], (96, 96), interpolation=cv2.INTER_NEAREST) for i in picked]
    write_png(out_dir / "faces" / "crops.png", tile_grid(tiles, 8, 100))

    root, _ = read_list(inputs_list)
    by_image: dict[str, list] = {}
    for r in rows:
        by_image.setdefault(r["source"], []).append(tuple(float(r[k]) for k in ("x", "y", "w", "h")))
    names = sorted(by_image)
    tiles = []
    for name in (names[i] for i in sorted(rng.choice(len(names), min(images, len(names)), replace=False))):
        rgb, *_ = decode((root / name).read_bytes(), size=1, min_side=1, reduced=False)
        scale = SHEET_TILE / max(rgb.shape[:2])
        small = cv2.resize(
            rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)), interpolation=cv2.INTER_AREA
        )
        for x, y, w, h in by_image[name]:
            cv2.rectangle(
                small,
                (round(x * scale), round(y * scale)),
                (round((x + w) * scale), round((y + h) * scale)),
                (40, 220, 60),
                2,
            )
        tiles.append(small)
    write_png(out_dir / "faces" / "detections.png", tile_grid(tiles, 4, SHEET_TILE + 4))
    return len(rows)


def quality_figure(path: Path, rows: list[dict], rejects: list[str]) -> None:
    """Face sizes and sharpness of the kept crops, and why detections and files were not kept."""
    plt = pyplot()
    figure, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    sizes = [min(float(r["w"]), float(r["h"])) for r in rows]
    sharp = [float(r["sharpness"]) for r in rows]
    axes[0].hist(sizes, bins=np.geomspace(max(min(sizes, default=64), 16), max(sizes, default=64) + 1, 30))
    axes[0].set_xlabel("face box, shorter side (px)")
    axes[0].set_ylabel(f"kept crops ({len(rows)})")
    axes[1].hist(sharp, bins=np.geomspace(max(min(sharp, default=1), 1), max(sharp, default=1) + 1, 30))
    axes[1].set_xlabel("sharpness (variance of the crop's grey Laplacian)")
    for axis in axes[:2]:
        axis.set_xscale("log")
        axis.xaxis.set_major_formatter(plt.matplotlib.ticker.StrMethodFormatter("{x:.0f}"))
        axis.xaxis.set_minor_formatter(plt.matplotlib.ticker.NullFormatter())
    axes[0].set_xticks([t for t in (64, 100, 160, 250, 400, 640, 1000, 1600, 2500) if t <= max(sizes, default=64)])
    counts = Counter(reason_category(r) for r in rejects)
    names = sorted(counts, key=counts.get)
    axes[2].barh(names, [counts[n] for n in names])
    axes[2].set_xlabel("not kept (detections and files)")
    axes[2].tick_params(axis="y", labelsize=8)
    for axis, title in zip(
        axes, ("Sizes of the kept faces", "Sharpness of the kept crops", "Why the others were not kept"), strict=True
    ):
        axis.set_title(title, fontsize=10)
    figure.tight_layout()
    save_figure(figure, path)
    plt.close(figure)
