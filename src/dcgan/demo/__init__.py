"""The embedded demo: an LSUN-format LMDB, web images and an image folder, made from photos that ship in packages."""

from __future__ import annotations

import shutil
from pathlib import Path

from dcgan.files import no_space_reported, temporary_beside, write_json

DEMO_FILES = (
    "bedroom_train_lmdb",
    "web_images",
    "image_folder",
    "bedroom_truth.json",
    "faces_truth.json",
    "image_folder_truth.json",
)


def make_demo(out_dir: str | Path, *, seed: int, bedroom_entries: int, web_images: int, folder_images: int) -> None:
    """Write bedroom_train_lmdb/, web_images/ and image_folder/ with their truth files into out_dir.

    Everything is built in a temporary folder inside out_dir and moved into place at the end.
    """
    from dcgan.demo.image_folder import make_image_folder
    from dcgan.demo.lsun_lmdb import make_lsun_lmdb
    from dcgan.demo.web_images import make_web_images

    out_dir = Path(out_dir)
    tmp = temporary_beside(out_dir / "demo", folder=True)
    try:
        with no_space_reported(out_dir, tmp):
            bedroom = make_lsun_lmdb(tmp / "bedroom_train_lmdb", entries=bedroom_entries, seed=seed)
            write_json(tmp / "bedroom_truth.json", bedroom)
            faces = make_web_images(tmp / "web_images", count=web_images, seed=seed + 1)
            write_json(tmp / "faces_truth.json", faces)
            folder = make_image_folder(tmp / "image_folder", per_class=folder_images, seed=seed + 2)
            write_json(tmp / "image_folder_truth.json", folder)
            for name in DEMO_FILES:
                target = out_dir / name
                if target.is_dir():
                    shutil.rmtree(target)
                (tmp / name).replace(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
