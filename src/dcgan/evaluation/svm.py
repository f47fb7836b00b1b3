"""The SVM job: the paper's discriminator-feature L2-SVM (section 5.1, Tables 1-2) on its labelled
datasets -> svm.json.

The protocol of the authors' code (dcgan_code, svhn/svhn_semisup_analysis.py):
- D's BatchNorm statistics are recomputed on the training split's images (labels unused): D runs in
  training mode over them in batches of 128, and each BatchNorm layer's mean and (biased) variance are
  averaged over the batches; features are then taken with those statistics, for the trained D and the
  random-init D alike (whose own running statistics would leave it unnormalised).
- Features: the output of every conv block of D, max-pooled to 4x4, flattened and concatenated, raw
  (no standardisation).
- Classifier: a linear SVM with the squared hinge loss (L2-SVM), C from the authors' grid, chosen on a
  validation split only; the test split is scored with the chosen C alone.
"""

from __future__ import annotations

import copy
import pickle
import tarfile
import time
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.svm import LinearSVC

from dcgan.errors import UserError
from dcgan.evaluation.generator import load_models, random_discriminator
from dcgan.evaluation.settings import SvmSettings
from dcgan.files import write_json
from dcgan.provenance import record
from dcgan.train.loader import to_unit_range
from dcgan.train.settings import ModelSettings

C_GRID = (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2)  # the authors' grid
PROTOCOL = (
    "authors' (svhn_semisup_analysis.py): BatchNorm statistics recomputed on the training images, "
    "raw max-pooled block features, L2-SVM, C by validation"
)
STATISTICS_BATCH = 128


def classify(model_path: str | Path, out: str | Path, *, settings: SvmSettings, device: torch.device) -> dict:
    """svm.json: the protocol on the trained model's D (beside a random-init D), with settings and versions."""
    started = time.perf_counter()
    _, d, model = load_models(model_path, device)
    meta = record(
        "evaluate svm",
        {"evaluate": asdict(settings)},
        **svm_results(d, model, settings),
        model=str(model_path),
        device=str(device),
        seconds=round(time.perf_counter() - started, 1),
    )
    write_json(out, meta)
    return meta


def svm_results(d: torch.nn.Module, model: ModelSettings, settings: SvmSettings) -> dict:
    """The paper's protocol on the demo's labelled photo windows (trained D beside a random-init D),
    and on CIFAR-10 / SVHN where their paths are given."""
    from dcgan.demo.labelled import photo_windows

    size = model.image_size
    images, labels, names = photo_windows(size, settings.svm_per_class, settings.seed)
    n = settings.svm_per_class
    train, val, test = split_per_class(labels, (3 * n // 10, n // 5, n - 3 * n // 10 - n // 5), settings.seed + 1)
    random_d = random_discriminator(model, settings.seed, next(d.parameters()).device)
    results = {"protocol": PROTOCOL, "demo_photo_windows": {"classes": names}}
    for name, network in (("trained_d", d), ("random_d", random_d)):
        features = d_features(with_batch_statistics(network, images[train]), images)
        results["demo_photo_windows"][name] = protocol(
            (features[train], labels[train]), (features[val], labels[val]), (features[test], labels[test])
        )
    if settings.cifar10:
        results["cifar10"] = cifar10_protocol(d, size, settings.cifar10, seed=settings.seed)
    if settings.svhn_train and settings.svhn_test:
        results["svhn_1000"] = svhn_protocol(d, size, settings.svhn_train, settings.svhn_test, seed=settings.seed)
    return results


def unit_batches(images: np.ndarray, device: torch.device, batch_size: int):
    """uint8 NHWC images as float NCHW batches in [-1, 1] on `device`, D's input."""
    for lo in range(0, len(images), batch_size):
        yield to_unit_range(torch.from_numpy(np.ascontiguousarray(images[lo : lo + batch_size])).to(device))


@torch.no_grad()
def with_batch_statistics(d: torch.nn.Module, images: np.ndarray) -> torch.nn.Module:
    """A copy of D in eval mode whose BatchNorm layers hold statistics recomputed on `images` (uint8
    NHWC at D's input size): per layer, the mean over batches of 128 of the batch mean and biased
    variance, with D in training mode as it ran them, as the authors' infer_bnorm_stats does."""
    d = copy.deepcopy(d).train()
    norms = [m for m in d.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    sums = {id(m): [0.0, 0.0] for m in norms}

    def record(module, inputs):
        x = inputs[0].float()
        sums[id(module)][0] = sums[id(module)][0] + x.mean(dim=(0, 2, 3))
        sums[id(module)][1] = sums[id(module)][1] + x.var(dim=(0, 2, 3), unbiased=False)

    hooks = [m.register_forward_pre_hook(record) for m in norms]
    batches = 0
    for x in unit_batches(images, next(d.parameters()).device, STATISTICS_BATCH):
        d.features(x)
        batches += 1
    for hook in hooks:
        hook.remove()
    for m in norms:
        m.running_mean.copy_(sums[id(m)][0] / batches)
        m.running_var.copy_(sums[id(m)][1] / batches)
    return d.eval()


@torch.inference_mode()
def d_features(d: torch.nn.Module, images: np.ndarray, chunk: int = 256) -> np.ndarray:
    """(N, S, S, 3) uint8 at D's input size -> (N, 16 x sum of block widths) float32, D in eval mode."""
    d.eval()
    out = []
    for x in unit_batches(images, next(d.parameters()).device, chunk):
        pooled = []
        for layer in d.features:
            x = layer(x)
            if isinstance(layer, torch.nn.LeakyReLU):  # the end of a conv block
                pooled.append(F.adaptive_max_pool2d(x, 4).flatten(1))
        out.append(torch.cat(pooled, dim=1).float().cpu().numpy())
    return np.concatenate(out)


def resize_all(images: np.ndarray, size: int) -> np.ndarray:
    if images.shape[1] == size:
        return images
    interpolation = cv2.INTER_AREA if images.shape[1] > size else cv2.INTER_LINEAR
    return np.stack([cv2.resize(im, (size, size), interpolation=interpolation) for im in images])


def _fit(features: np.ndarray, labels: np.ndarray, c: float) -> LinearSVC:
    # primal liblinear: the same L2-SVM as the dual, several times faster here at the larger C of the grid
    return LinearSVC(C=c, dual=False, max_iter=2000).fit(features, labels)


def _accuracy(model: LinearSVC, data: tuple[np.ndarray, np.ndarray]) -> float:
    return float(model.score(*data))


def choose_c(train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray], grid=C_GRID):
    """(the C with the best validation accuracy, the smaller on ties; every C's validation accuracy;
    the SVM fitted on `train` with that C). Nothing but `train` and `val` is seen."""
    fitted = {c: _fit(*train, c) for c in grid}
    accuracy = {c: _accuracy(fitted[c], val) for c in grid}
    best = max(grid, key=lambda c: (accuracy[c], -c))
    return best, accuracy, fitted[best]


def protocol(train, val, test, grid=C_GRID) -> dict:
    """Choose C on `val` with SVMs fit on `train`; score the chosen one on `test`, once."""
    c, accuracy, fitted = choose_c(train, val, grid)
    return {
        "C": c,
        "validation_accuracy": {str(k): v for k, v in accuracy.items()},
        "test_accuracy": _accuracy(fitted, test),
        "train": len(train[1]),
        "validation": len(val[1]),
        "test": len(test[1]),
    }


def split_per_class(labels: np.ndarray, counts: tuple[int, ...], seed: int) -> list[np.ndarray]:
    """Disjoint index sets with counts[i] images of every class each (a random draw)."""
    rng = np.random.default_rng(seed)
    sets: list[list[int]] = [[] for _ in counts]
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        if len(members) < sum(counts):
            raise UserError(f"class {label} has {len(members)} images, the split needs {sum(counts)}")
        lo = 0
        for chosen, count in zip(sets, counts, strict=True):
            chosen += members[lo : lo + count].tolist()
            lo += count
    return [np.array(sorted(s)) for s in sets]


# --- datasets -------------------------------------------------------------------------------------


def load_cifar10(path: str | Path) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """(train, test) of CIFAR-10 from the python-version tarball (cifar-10-python.tar.gz) or its
    extracted cifar-10-batches-py folder; images (N, 32, 32, 3) uint8, labels int64."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"CIFAR-10 not found: {path} (give the cifar-10-python.tar.gz tarball or its folder)")

    def batches(names):
        parts = []
        for name in names:
            if path.is_dir():
                raw = (path / name).read_bytes()
            else:
                with tarfile.open(path) as tar:
                    member = tar.extractfile(f"cifar-10-batches-py/{name}")
                    raw = member.read()
            parts.append(pickle.loads(raw, encoding="bytes"))
        images = np.concatenate([p[b"data"] for p in parts]).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return np.ascontiguousarray(images), np.concatenate([p[b"labels"] for p in parts]).astype(np.int64)

    try:
        return batches([f"data_batch_{i}" for i in range(1, 6)]), batches(["test_batch"])
    except (KeyError, OSError, tarfile.TarError, pickle.UnpicklingError) as e:
        raise UserError(f"{path}: not the CIFAR-10 python version ({type(e).__name__}: {e})") from None


def load_svhn(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 32, 32, 3) uint8 and labels 0-9 from an SVHN cropped-digits .mat (label 10 is digit 0)."""
    from scipy.io import loadmat

    path = Path(path)
    if not path.is_file():
        raise UserError(f"SVHN file not found: {path} (train_32x32.mat / test_32x32.mat)")
    try:
        mat = loadmat(path)
        images, labels = mat["X"], mat["y"].ravel().astype(np.int64)
    except (KeyError, ValueError, OSError) as e:
        raise UserError(f"{path}: not an SVHN 32x32 .mat file ({type(e).__name__}: {e})") from None
    return np.ascontiguousarray(images.transpose(3, 0, 1, 2)), labels % 10


def cifar10_protocol(d: torch.nn.Module, size: int, path: str | Path, *, seed: int, validation: int = 5000) -> dict:
    """CIFAR-10 at D's input `size`: BatchNorm statistics from the 50,000 training images; C chosen on
    `validation` images held out of the training set, then the SVM is fit on all training images and
    scored on the 10,000 test images."""
    (train_x, train_y), (test_x, test_y) = load_cifar10(path)
    train_x, test_x = resize_all(train_x, size), resize_all(test_x, size)
    d = with_batch_statistics(d, train_x)
    train_f, test_f = d_features(d, train_x), d_features(d, test_x)
    held = np.random.default_rng(seed).permutation(len(train_y))
    val, fit = held[:validation], held[validation:]
    c, accuracy, _ = choose_c((train_f[fit], train_y[fit]), (train_f[val], train_y[val]))
    return {
        "C": c,
        "validation_accuracy": {str(k): v for k, v in accuracy.items()},
        "test_accuracy": _accuracy(_fit(train_f, train_y, c), (test_f, test_y)),
        "train": len(train_y),
        "validation": validation,
        "test": len(test_y),
    }


def svhn_protocol(
    d: torch.nn.Module,
    size: int,
    train_path: str | Path,
    test_path: str | Path,
    *,
    seed: int,
    selection_draws: int = 10,
    draws: int = 100,
    per_class: int = 100,
    validation: int = 10000,
    grid=C_GRID,
) -> dict:
    """SVHN with 1000 labels, as the authors ran it: `validation` images held out of the training set,
    BatchNorm statistics from the rest; for every C, `selection_draws` random draws of `per_class`
    labelled images per class, and the C with the lowest mean validation error is kept; then `draws`
    new draws at that C give the test accuracy as mean +- 1.96 std."""
    train_x, train_y = load_svhn(train_path)
    test_x, test_y = load_svhn(test_path)
    train_x, test_x = resize_all(train_x, size), resize_all(test_x, size)
    order = np.random.default_rng(seed).permutation(len(train_y))
    val, pool = order[:validation], order[validation:]
    d = with_batch_statistics(d, train_x[pool])
    train_f, test_f = d_features(d, train_x), d_features(d, test_x)
    draw_seeds = iter(range(seed + 1, seed + 1 + selection_draws * len(grid) + draws))

    def fitted_on_a_draw(c: float) -> tuple[LinearSVC, np.ndarray]:
        (labelled,) = split_per_class(train_y[pool], (per_class,), next(draw_seeds))
        chosen = pool[labelled]
        return _fit(train_f[chosen], train_y[chosen], c), chosen

    validation_data = (train_f[val], train_y[val])
    mean_validation = {
        c: float(np.mean([_accuracy(fitted_on_a_draw(c)[0], validation_data) for _ in range(selection_draws)]))
        for c in grid
    }
    best = max(grid, key=lambda c: (mean_validation[c], -c))
    accuracies = np.array([_accuracy(fitted_on_a_draw(best)[0], (test_f, test_y)) for _ in range(draws)])
    return {
        "C": best,
        "mean_validation_accuracy": {str(k): v for k, v in mean_validation.items()},
        "test_accuracy_mean": float(accuracies.mean()),
        "test_accuracy_ci95": float(1.96 * accuracies.std()),
        "test_accuracies": accuracies.tolist(),
        "labelled": per_class * len(np.unique(train_y)),
        "validation": validation,
    }
