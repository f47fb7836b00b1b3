"""Evaluation settings, importable without PyTorch (the command line reads them for every stage)."""

from __future__ import annotations

from dataclasses import dataclass

from dcgan.commands import option, positive
from dcgan.dedup.settings import METHODS


@dataclass(frozen=True)
class MetricsSettings:
    """The metrics job: FID/KID and the memorisation checks of a model's samples."""

    samples: int = 50000  # generated images for FID/KID (paper scale; the demo uses a few hundred)
    batch_size: int = 50  # images per Inception forward pass
    memorisation: int = 16  # samples shown beside their nearest training images
    seed: int = 0


@dataclass(frozen=True)
class FigureSettings:
    """The figures job: samples, latent walks (Fig. 4), D's features (Fig. 5), vector arithmetic (Fig. 7)."""

    walk_rows: int = 8  # latent walks: rows of interpolations
    walk_steps: int = 10  # images per row
    arithmetic_a: str = "1,2,3"  # vector arithmetic: seeds of the z in each group (mean A - mean B + mean C)
    arithmetic_b: str = "4,5,6"
    arithmetic_c: str = "7,8,9"
    filter_maps: int = 16  # D's last-block feature maps shown with guided backpropagation (Fig. 5)
    seed: int = 0


@dataclass(frozen=True)
class SvmSettings:
    """The SVM job: the paper's L2-SVM on D's features (section 5.1, Tables 1-2)."""

    svm_per_class: int = 100  # the demo's labelled photo windows per class (30 train, 20 val, 50 test per 100)
    cifar10: str = ""  # cifar-10-python.tar.gz (or its folder): run the paper's CIFAR-10 protocol
    svhn_train: str = ""  # train_32x32.mat and test_32x32.mat: run the paper's 1000-label SVHN protocol
    svhn_test: str = ""
    seed: int = 0


@dataclass(frozen=True)
class EvaluateJob:
    dedup_method: str = option("autoencoder", "as given to dedup hash", choices=METHODS)


@dataclass(frozen=True)
class ArithmeticSettings:
    noise: float = option(0.25, "uniform noise of the 8 neighbours")
    seed: int = option(0, "seed of the neighbours' noise")


@dataclass(frozen=True)
class SamplesSettings:
    count: int = option(150, "seeds 0..N-1", type=positive)


@dataclass(frozen=True)
class BoxesSettings:
    samples: int = option(150, "seeds 0..N-1 to look at", type=positive)
    cascade: str = option("haarcascade_eye.xml", "cascade file, or the name of one OpenCV ships")


@dataclass(frozen=True)
class ForgetSettings:
    seed: int = option(0, "draws of negatives and of the held-out images")
