"""What training is judged by while it runs (rank 0 only): FID and KID of a fixed set of samples against
the dataset's reference (the TF-Inception features and reference set `evaluate` uses, rule fid_reference),
the samples' diversity, how near they lie to the training images, and warnings of collapse or divergence.

None of it touches the training trajectory: the samples' z come from their own generator, G is run in
eval mode without gradients, and no training random state is drawn from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.distance import pdist

from dcgan.errors import UserError
from dcgan.fid.inception import InceptionFeatures
from dcgan.fid.scores import TooFewImages, fid_and_kid, gaussian, load_reference, nearest, too_few_for_fid
from dcgan.fid.settings import ScoreSettings
from dcgan.train.model import sample_z, to_uint8
from dcgan.train.settings import ModelSettings

SPREAD_ROWS = 1000  # rows whose pairwise distances estimate a set's spread
MEMORISATION_SAMPLES = 64  # fixed samples whose nearest training images are found at each epoch's end


@torch.no_grad()
def generate_eval(g: torch.nn.Module, z: torch.Tensor, chunk: int = 256) -> np.ndarray:
    """G(z) in eval mode as uint8 RGB (N, S, S, 3); G's mode is restored."""
    was_training = g.training
    g.eval()
    images = np.concatenate([to_uint8(g(z[lo : lo + chunk])) for lo in range(0, len(z), chunk)])
    g.train(was_training)
    return images


def spread(features: np.ndarray) -> float:
    """Mean pairwise L2 distance of (at most SPREAD_ROWS of) the rows."""
    return float(pdist(np.asarray(features[:SPREAD_ROWS], np.float64)).mean())


@dataclass(frozen=True)
class TrackingInputs:
    """What rank 0 tracks quality with: the dataset's FID reference, the Inception weights, KID's settings."""

    reference: Path
    fid_weights: Path
    scoring: ScoreSettings


class Tracker:
    """FID, KID and diversity of `samples` fixed samples, and the authors' memorisation score."""

    def __init__(
        self,
        reference: str | Path,
        weights: str | Path,
        model: ModelSettings,
        *,
        samples: int,
        seed: int,
        scoring: ScoreSettings,
        device: torch.device,
    ):
        saved = load_reference(reference)
        self.real = saved["features"].astype(np.float64)
        too_few = too_few_for_fid(len(self.real), f"the reference {reference}")
        if too_few:
            raise TooFewImages(too_few)
        if saved["images"].shape[1] != model.image_size:
            raise UserError(
                f"{reference} holds {saved['images'].shape[1]}-pixel images; the model makes "
                f"{model.image_size}: make the reference at the training size"
            )
        self.real_stats = gaussian(self.real)
        self.real_spread = spread(self.real)
        self.real_pixels = saved["images"].reshape(len(saved["images"]), -1).astype(np.float32)
        _, own = nearest(self.real_pixels[:SPREAD_ROWS], self.real_pixels, exclude_self=True)
        self.training_distances = {
            "median": round(float(np.median(own)), 3),
            "p10": round(float(np.percentile(own, 10)), 3),
        }
        self.extractor = InceptionFeatures(weights, device)
        self.z = sample_z(samples, model, torch.Generator().manual_seed(seed + 7), torch.device("cpu")).to(device)
        self.seed, self.scoring = seed, scoring

    def quality(self, g: torch.nn.Module) -> dict:
        """FID and KID of the fixed samples, and their diversity: their Inception features' mean pairwise
        distance over the reference's (1 = as varied as the training images)."""
        features = self.extractor(generate_eval(g, self.z))
        found = fid_and_kid(self.real, features, self.scoring, self.seed, self.real_stats)
        diversity = spread(features) / self.real_spread
        return {"fid": round(found["fid"], 4), "kid": round(found["kid"], 6), "diversity": round(diversity, 4)}

    def memorisation(self, g: torch.nn.Module) -> float:
        """The authors' score: the mean pixel distance of the first fixed samples to their nearest
        reference (training) image; compare it with `training_distances`, the training images' own."""
        images = generate_eval(g, self.z[:MEMORISATION_SAMPLES])
        _, distances = nearest(images.reshape(len(images), -1).astype(np.float32), self.real_pixels)
        return round(float(distances.mean()), 3)


class CollapseWatch:
    """Signs of a failing run, each counted over consecutive logs (or FID measurements for diversity); a
    sign held for `patience` in a row is a warning, once per streak. Non-finite losses warn at once."""

    RULES = {
        "d_wins": "D's loss near 0 while G's rises",
        "d_saturated": "D's outputs saturated (D(x) > 0.99, D(G(z)) < 0.01)",
        "diversity_falling": "the samples' diversity fell below half of its best",
        "non_finite": "a loss is not finite (training diverged)",
    }

    def __init__(self, patience: int, state: dict | None = None):
        self.patience = patience
        state = state or {}
        self.streaks = dict(state.get("streaks", {name: 0 for name in self.RULES}))
        self.previous_loss_g = state.get("previous_loss_g")
        self.best_diversity = state.get("best_diversity", 0.0)
        self.warnings = list(state.get("warnings", []))

    def state(self) -> dict:
        return {
            "streaks": dict(self.streaks),
            "previous_loss_g": self.previous_loss_g,
            "best_diversity": self.best_diversity,
            "warnings": list(self.warnings),
        }

    def _count(self, name: str, holds: bool, step: int, patience: int) -> list[dict]:
        self.streaks[name] = self.streaks[name] + 1 if holds else 0
        if self.streaks[name] != patience:
            return []
        warning = {"step": step, "sign": name, "what": self.RULES[name], "in_a_row": patience}
        self.warnings.append(warning)
        return [warning]

    def losses(self, step: int, loss_d: float, loss_g: float, d_real: float, d_fake: float) -> list[dict]:
        """New warnings from one log row."""
        finite = all(np.isfinite([loss_d, loss_g, d_real, d_fake]))
        rising = self.previous_loss_g is not None and loss_g > self.previous_loss_g
        self.previous_loss_g = loss_g if finite else self.previous_loss_g
        return (
            self._count("non_finite", not finite, step, 1)
            + self._count("d_wins", finite and loss_d < 0.05 and rising, step, self.patience)
            + self._count("d_saturated", finite and d_real > 0.99 and d_fake < 0.01, step, self.patience)
        )

    def diversity(self, step: int, diversity: float) -> list[dict]:
        """New warnings from one FID measurement."""
        self.best_diversity = max(self.best_diversity, diversity)
        return self._count("diversity_falling", diversity < 0.5 * self.best_diversity, step, self.patience)
