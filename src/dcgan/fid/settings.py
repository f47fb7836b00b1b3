"""How FID and KID are measured (keys of the `evaluate` config section), importable without PyTorch."""

from __future__ import annotations

from dataclasses import dataclass

from dcgan.commands import option, positive


@dataclass(frozen=True)
class ReferenceSettings:
    """The FID/KID reference of a dataset: how many training images, in batches of how many."""

    reference: int = option(50000, type=positive)
    batch_size: int = option(50, type=positive)


@dataclass(frozen=True)
class ScoreSettings:
    """KID's estimate: the tracker while training and evaluation average it over the same subsets."""

    kid_subsets: int = option(100, type=positive)
    kid_subset_size: int = option(1000, type=positive)
