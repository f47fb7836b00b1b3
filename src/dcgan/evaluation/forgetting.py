"""Figure 6 of the paper: "forgetting to draw" an object by dropping G's feature maps that encode it.

Inputs: a trained G, and boxes of one object class drawn on its samples (seed, x, y, w, h in the
generated image's pixels; seed s is z of dcgan.evaluation.generator.seeded_z). A logistic regression
on G's second-highest feature maps (the last hidden block, at half the image size) predicts whether a
location lies inside a box: positives are the locations whose centres fall inside a box, negatives as
many locations sampled elsewhere in the same images. The feature maps with positive weight are then
dropped (zeroed at every location) and the same z are generated with and without them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dcgan.errors import UserError
from dcgan.evaluation.generator import generate, seeded_z
from dcgan.files import read_tsv, write_tsv
from dcgan.plots import pyplot, save_figure
from dcgan.train.settings import ModelSettings

BOX_COLUMNS = ("seed", "x", "y", "w", "h")


class NothingToFit(UserError):
    """The boxes leave the regression nothing to learn from (none at all, or none over a map location)."""


def read_boxes(path: str | Path) -> dict[int, list[tuple[float, float, float, float]]]:
    """{seed: [(x, y, w, h), ...]} from a TSV with the columns seed, x, y, w, h (a header alone: no boxes)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"boxes file not found: {path}")
    header = path.read_text().partition("\n")[0].rstrip("\r").split("\t")
    if set(BOX_COLUMNS) - set(header):
        raise UserError(f"{path}: needs a header with the columns {', '.join(BOX_COLUMNS)}")
    rows = read_tsv(path)
    boxes: dict[int, list] = {}
    for line, row in enumerate(rows, 2):
        try:
            seed, x, y, w, h = int(row["seed"]), *(float(row[k]) for k in BOX_COLUMNS[1:])
        except (TypeError, ValueError):
            raise UserError(f"{path}, line {line}: seed must be an integer and x, y, w, h numbers") from None
        if w <= 0 or h <= 0:
            raise UserError(f"{path}, line {line}: a box needs a positive width and height")
        boxes.setdefault(seed, []).append((x, y, w, h))
    return boxes


def write_boxes(path: str | Path, boxes: dict[int, list[tuple[float, float, float, float]]]) -> None:
    write_tsv(path, BOX_COLUMNS, [(seed, *(round(v, 2) for v in box)) for seed in sorted(boxes) for box in boxes[seed]])


def hidden_layer(g: torch.nn.Module) -> torch.nn.Module:
    """G's last hidden activation: the second-highest feature maps (the layer under the RGB output)."""
    return [m for m in g.net if isinstance(m, torch.nn.ReLU)][-1]


@torch.no_grad()
def hidden_maps(g: torch.nn.Module, z: torch.Tensor) -> np.ndarray:
    """(N, C, H, W) activations of G's second-highest feature maps for `z`."""
    captured = []
    hook = hidden_layer(g).register_forward_hook(lambda module, inputs, out: captured.append(out.float().cpu()))
    try:
        g(z)
    finally:
        hook.remove()
    return torch.cat(captured).numpy()


def location_samples(
    maps: np.ndarray, boxes: list[list[tuple]], image_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features (M, C), labels (M,), image index (M,)): every map location whose centre lies in one of
    its image's boxes (label 1), and as many locations drawn from the rest of the same image (label 0)."""
    n, channels, height, width = maps.shape
    scale = image_size / width
    centres_x = (np.arange(width) + 0.5) * scale
    centres_y = (np.arange(height) + 0.5) * scale
    features, labels, owners = [], [], []
    for i in range(n):
        inside = np.zeros((height, width), bool)
        for x, y, w, h in boxes[i]:
            inside |= (
                (centres_y[:, None] >= y)
                & (centres_y[:, None] < y + h)
                & (centres_x[None, :] >= x)
                & (centres_x[None, :] < x + w)
            )
        positive, outside = np.argwhere(inside), np.argwhere(~inside)
        if len(positive) == 0 or len(outside) == 0:
            continue
        negative = outside[rng.choice(len(outside), size=min(len(positive), len(outside)), replace=False)]
        for points, label in ((positive, 1), (negative, 0)):
            features.append(maps[i][:, points[:, 0], points[:, 1]].T)
            labels.append(np.full(len(points), label))
            owners.append(np.full(len(points), i))
    if not features:
        raise NothingToFit("no box covers the centre of a feature-map location: boxes are too small or off the image")
    return np.concatenate(features), np.concatenate(labels), np.concatenate(owners)


def fit_object_maps(
    maps: np.ndarray, boxes: list[list[tuple]], image_size: int, *, seed: int = 0, held_out: float = 0.2
) -> dict:
    """The logistic regression, fit on the images not held out and scored on the held-out ones (whole
    images are held out); the maps with positive weight are the ones to drop."""
    rng = np.random.default_rng(seed)
    features, labels, owners = location_samples(maps, boxes, image_size, rng)
    images = np.unique(owners)
    test_images = (
        rng.choice(images, size=max(1, round(held_out * len(images))), replace=False) if len(images) > 1 else []
    )
    test = np.isin(owners, test_images)
    # standardised maps: the L2 penalty then weighs maps alike whatever their scale; a weight's sign, the
    # drop decision, is that of the map itself (scaling by a positive std keeps it)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(features[~test], labels[~test])
    weights = model[-1].coef_[0]
    return {
        "dropped": [int(i) for i in np.flatnonzero(weights > 0)],
        "maps": int(maps.shape[1]),
        "positives": int(labels.sum()),
        "negatives": int((labels == 0).sum()),
        "images": int(len(images)),
        "held_out_images": int(len(test_images)),
        "held_out_accuracy": float(model.score(features[test], labels[test])) if test.any() else None,
        "weights": [round(float(w), 6) for w in weights],
    }


class DroppedMaps:
    """Within the block, G's second-highest feature maps `dropped` are zero at every location."""

    def __init__(self, g: torch.nn.Module, dropped: list[int]):
        self.layer, self.dropped = hidden_layer(g), list(dropped)

    def _zero(self, module, inputs, out):
        out = out.clone()
        out[:, self.dropped] = 0
        return out

    def __enter__(self):
        self.hook = self.layer.register_forward_hook(self._zero)
        return self

    def __exit__(self, *exc):
        self.hook.remove()


def forget(
    g: torch.nn.Module, model: ModelSettings, boxes_by_seed: dict[int, list], *, seed: int = 0, shown: int = 8
) -> tuple[dict, np.ndarray, np.ndarray]:
    """(the regression's record, G(z) of the first `shown` seeds, the same without the dropped maps)."""
    if not boxes_by_seed:
        raise NothingToFit("no boxes to learn from")
    device = next(g.parameters()).device
    seeds = sorted(boxes_by_seed)
    z = seeded_z(seeds, model, device)
    fitted = fit_object_maps(hidden_maps(g, z), [boxes_by_seed[s] for s in seeds], model.image_size, seed=seed)
    columns = seeds[:shown]
    before = generate(g, z[: len(columns)])
    with DroppedMaps(g, fitted["dropped"]):
        after = generate(g, z[: len(columns)])
    return {**fitted, "seeds": seeds, "shown": columns}, before, after


def forget_figure(
    path: str | Path, before: np.ndarray, after: np.ndarray, boxes: list[list[tuple]], fitted: dict
) -> None:
    """Paper Fig. 6: samples with their boxes (top), the same z without the dropped maps (bottom)."""
    from matplotlib.patches import Rectangle

    plt = pyplot()
    figure, axes = plt.subplots(2, len(before), figsize=(1.4 * len(before) + 0.8, 3.6), squeeze=False)
    for i, (image, without) in enumerate(zip(before, after, strict=True)):
        axes[0, i].imshow(image, interpolation="nearest")
        for x, y, w, h in boxes[i]:
            axes[0, i].add_patch(Rectangle((x - 0.5, y - 0.5), w, h, fill=False, edgecolor="red", linewidth=1))
        axes[1, i].imshow(without, interpolation="nearest")
        axes[0, i].set_title(f"seed {fitted['shown'][i]}", fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_ylabel("G(z), boxes", fontsize=9)
    axes[1, 0].set_ylabel(f"without {len(fitted['dropped'])} maps", fontsize=9)
    accuracy = fitted["held_out_accuracy"]
    figure.suptitle(
        f"Forgetting to draw: {len(fitted['dropped'])} of {fitted['maps']} feature maps dropped "
        f"(held-out accuracy {'n/a' if accuracy is None else f'{accuracy:.2f}'}, "
        f"{fitted['images']} images)",
        fontsize=9,
    )
    figure.tight_layout()
    save_figure(figure, path)
    plt.close(figure)
