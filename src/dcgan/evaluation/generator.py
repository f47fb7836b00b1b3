"""A trained generator (and its D, or a random-init one): loading it, z per seed, images, latent walks
(paper Fig. 4) and vector arithmetic (paper Fig. 7)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dcgan.errors import UserError
from dcgan.files import load_torch
from dcgan.imageops import annotate, tile_grid
from dcgan.train.model import build, sample_z
from dcgan.train.quality import generate_eval as generate  # G(z) as uint8 RGB: one implementation with training
from dcgan.train.settings import ModelSettings


def load_models(path: str | Path, device: torch.device) -> tuple[torch.nn.Module, torch.nn.Module, ModelSettings]:
    """(G, D, settings) from a train stage's model.pt, in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"trained model not found: {path}")
    saved = load_torch(path, "trained model")
    settings = ModelSettings(**saved["model"])
    g, d = build(settings)
    g.load_state_dict(saved["g"])
    d.load_state_dict(saved["d"])
    return g.to(device).eval(), d.to(device).eval(), settings


def random_discriminator(model: ModelSettings, seed: int, device: torch.device) -> torch.nn.Module:
    """A randomly initialised D of the trained one's shape: the baseline of the SVM and of Fig. 5."""
    torch.manual_seed(seed)
    return build(model)[1].to(device).eval()


def parse_seeds(text: str) -> list[int]:
    """'1, 2,3' -> [1, 2, 3]; a bad list is the user's mistake."""
    try:
        return [int(s) for s in text.replace(" ", "").split(",") if s]
    except ValueError:
        raise UserError(f"seeds must be comma-separated integers, got {text!r}") from None


def seeded_z(seeds: list[int], settings: ModelSettings, device: torch.device) -> torch.Tensor:
    """One z per seed, the same whatever the other seeds: the handle users name samples by."""
    rows = [sample_z(1, settings, torch.Generator().manual_seed(int(s)), torch.device("cpu")) for s in seeds]
    return torch.cat(rows).to(device)


def random_z(count: int, settings: ModelSettings, seed: int, device: torch.device) -> torch.Tensor:
    return sample_z(count, settings, torch.Generator().manual_seed(seed), torch.device("cpu")).to(device)


def walk_grid(g: torch.nn.Module, settings: ModelSettings, *, rows: int, steps: int, seed: int) -> np.ndarray:
    """Each row: `steps` images on the straight line between two random z (paper Fig. 4)."""
    device = next(g.parameters()).device
    ends = random_z(2 * rows, settings, seed, device).view(rows, 2, -1)
    t = torch.linspace(0, 1, steps, device=device).view(1, steps, 1)
    z = (ends[:, :1] * (1 - t) + ends[:, 1:] * t).reshape(rows * steps, -1)
    images = generate(g, z)
    return tile_grid(list(images), steps, images.shape[1] + 2)


def arithmetic_grid(
    g: torch.nn.Module,
    settings: ModelSettings,
    a: list[int],
    b: list[int],
    c: list[int],
    *,
    seed: int,
    noise: float = 0.25,
) -> np.ndarray:
    """mean z(A) - mean z(B) + mean z(C), decoded with 8 neighbours (uniform noise +-`noise`) (paper Fig. 7).

    Rows: the A samples then the image of their mean z; the same for B and C; last row the result
    and its 8 neighbours.
    """
    if not (a and b and c):
        raise UserError("vector arithmetic needs at least one seed in each of --a, --b and --c")
    device = next(g.parameters()).device
    groups = [seeded_z(seeds, settings, device) for seeds in (a, b, c)]
    means = [z.mean(dim=0, keepdim=True) for z in groups]
    result = means[0] - means[1] + means[2]
    jitter = (torch.rand(8, settings.nz, generator=torch.Generator().manual_seed(seed)) * 2 - 1).to(device) * noise
    columns = max(9, *(len(s) + 1 for s in (a, b, c)))
    tiles: list[np.ndarray | None] = []
    for z, mean in zip(groups, means, strict=True):
        row = list(generate(g, torch.cat([z, mean])))
        tiles += row[:-1] + [None] * (columns - len(row)) + row[-1:]  # the mean's image in the last column
    tiles += list(generate(g, torch.cat([result, result + jitter])))
    size = settings.image_size
    blank = np.full((size, size, 3), 255, np.uint8)
    return tile_grid([blank if t is None else t for t in tiles], columns, size + 2)


def arithmetic_figure(sheet: np.ndarray, size: int, a: list[int], b: list[int], c: list[int]) -> np.ndarray:
    """arithmetic_grid's sheet with its rows named and a title."""

    def seeds(group: list[int]) -> str:
        return ", ".join(map(str, group))

    rows = [
        f"A: seeds {seeds(a)}; last: mean z",
        f"B: seeds {seeds(b)}; last: mean z",
        f"C: seeds {seeds(c)}; last: mean z",
        "A - B + C, then 8 neighbours",
    ]
    return annotate(sheet, size + 2, title="Vector arithmetic (paper Fig. 7) on mean z of each group", rows=rows)
