import json
import re

import cv2
import lmdb
import numpy as np
import pytest

from dcgan.demo import image_folder, make_demo
from dcgan.demo.lsun_lmdb import BAD_KINDS
from dcgan.demo.web_images import BAD_FILES
from dcgan.imageformat import sniff_format


def lmdb_items(path) -> dict[str, bytes]:
    with lmdb.open(str(path), readonly=True, lock=False) as env, env.begin() as txn:
        return {k.decode(): v for k, v in txn.cursor()}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    make_demo(out, seed=7, bedroom_entries=400, web_images=16, folder_images=7)
    return out


def test_same_seed_same_data_other_seed_other_data(demo, tmp_path):
    make_demo(tmp_path / "again", seed=7, bedroom_entries=400, web_images=16, folder_images=7)
    make_demo(tmp_path / "other", seed=8, bedroom_entries=400, web_images=16, folder_images=7)
    for name in ("bedroom_truth.json", "faces_truth.json", "image_folder_truth.json"):
        assert (demo / name).read_bytes() == (tmp_path / "again" / name).read_bytes()
    assert lmdb_items(demo / "bedroom_train_lmdb") == lmdb_items(tmp_path / "again" / "bedroom_train_lmdb")
    files = sorted(
        p.relative_to(demo)
        for folder in ("web_images", "image_folder")
        for p in (demo / folder).rglob("*")
        if p.is_file()
    )
    assert all((demo / f).read_bytes() == (tmp_path / "again" / f).read_bytes() for f in files)
    assert (
        lmdb_items(demo / "bedroom_train_lmdb").keys() != lmdb_items(tmp_path / "other" / "bedroom_train_lmdb").keys()
    )


def test_lmdb_is_in_lsun_scene_format(demo):
    items = lmdb_items(demo / "bedroom_train_lmdb")
    truth = json.loads((demo / "bedroom_truth.json").read_text())
    assert len(items) == truth["entries"] == 400
    assert all(re.fullmatch(r"[0-9a-f]{40}", k) for k in items)
    good = {k: v for k, v in items.items() if k not in truth["bad"]}
    formats = {k: sniff_format(v) for k, v in good.items()}
    assert set(formats.values()) == {"jpeg", "webp", "png"}
    assert list(formats.values()).count("jpeg") > 0.8 * len(good)
    aspects = []
    for value in good.values():
        image = cv2.imdecode(np.frombuffer(value, np.uint8), cv2.IMREAD_COLOR)
        assert min(image.shape[:2]) == 256
        aspects.append(max(image.shape[:2]) / 256)
    assert min(aspects) < 1.1 and max(aspects) > 1.6


def test_truth_lists_every_bad_value_and_group(demo):
    items = lmdb_items(demo / "bedroom_train_lmdb")
    truth = json.loads((demo / "bedroom_truth.json").read_text())
    assert set(truth["bad"].values()) == set(BAD_KINDS)
    assert all(k in items for k in truth["bad"])
    grouped = [k for g in truth["groups"] for k in g]
    assert len(grouped) == len(set(grouped)) and all(k in items for k in grouped)
    assert set(truth["copies"]) == {k for g in truth["groups"] for k in g[1:]}
    assert not set(grouped) & set(truth["bad"])
    exact = [k for k, t in truth["copies"].items() if t == "exact_copy"]
    by_copy = {k: g[0] for g in truth["groups"] for k in g[1:]}
    assert exact and all(items[k] == items[by_copy[k]] for k in exact)


def thumbnail(value: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(value, np.uint8), cv2.IMREAD_COLOR)
    h, w = image.shape[:2]
    s = min(h, w)
    square = image[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
    return cv2.resize(square, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)


def test_every_copy_is_nearest_to_its_own_group(demo):
    """The truth is meaningful: on brightness-normalised 32x32 thumbnails, no copy is nearer any other image."""
    items = lmdb_items(demo / "bedroom_train_lmdb")
    truth = json.loads((demo / "bedroom_truth.json").read_text())
    keys = [k for k in sorted(items) if k not in truth["bad"]]
    flat = np.stack([thumbnail(items[k]) for k in keys]).reshape(len(keys), -1)
    flat = (flat - flat.mean(1, keepdims=True)) / (flat.std(1, keepdims=True) + 1e-6)
    squared = (flat**2).sum(1)
    distance = squared[:, None] + squared[None, :] - 2 * flat @ flat.T
    np.fill_diagonal(distance, np.inf)
    index = {k: i for i, k in enumerate(keys)}
    for group in truth["groups"]:
        members = [index[k] for k in group]
        for copy in members[1:]:
            assert int(np.argmin(distance[copy])) in members


def test_web_images_and_face_truth(demo):
    truth = json.loads((demo / "faces_truth.json").read_text())
    folder = demo / "web_images"
    files = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    assert files == set(truth["images"]) | set(truth["bad"])
    assert truth["bad"] == BAD_FILES
    assert any("/" in name for name in truth["images"])  # nested folders
    n_faces = 0
    for name, info in truth["images"].items():
        data = (folder / name).read_bytes()
        assert sniff_format(data) == info["format"]
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape[:2] == (info["height"], info["width"])
        for face in info["faces"]:
            x, y, w, h = face["box"]
            assert 0 <= x and 0 <= y and x + w <= info["width"] + 0.01 and y + h <= info["height"] + 0.01
            n_faces += 1
    assert n_faces >= len(truth["images"])  # most images hold one face or more


def test_image_folder_is_laid_out_like_imagenet_with_its_truth(demo):
    truth = json.loads((demo / "image_folder_truth.json").read_text())
    folder = demo / "image_folder"
    files = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    assert files == set(truth["images"]) | set(image_folder.BAD_FILES)
    assert {info["class"] for info in truth["images"].values()} == set(truth["photos"]) and len(
        truth["images"]
    ) == 12 * 7
    aspects = []
    for name, info in truth["images"].items():
        assert name.split("/")[0] == info["class"]
        data = (folder / name).read_bytes()
        assert sniff_format(data) == info["format"]
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape[:2] == (info["height"], info["width"])
        aspects.append(info["width"] / info["height"])
    assert min(aspects) < 0.8 and max(aspects) > 1.25  # oblong both ways: the centre crop matters
    assert any(name.count("/") == 2 for name in truth["images"])  # a folder deeper


def test_asking_for_more_distinct_images_than_the_photos_hold_is_an_error(tmp_path, monkeypatch):
    from dcgan.demo import lsun_lmdb, photos

    monkeypatch.setattr(photos, "PHOTOS", photos.PHOTOS[:1])
    monkeypatch.setattr(lsun_lmdb, "MAX_ATTEMPTS", 300)
    with pytest.raises(ValueError, match="distinct images and no more: ask for fewer entries"):
        lsun_lmdb.make_lsun_lmdb(tmp_path / "db", entries=3000, seed=0)
