"""Real photographs that ship inside installed packages, the raw material of the demo data.

Credits and licences are in each folder's README: skimage/data/README.txt (scikit-image),
sklearn/datasets/images/README.txt (scikit-learn: china.jpg and flower.jpg, CC BY 2.0, Flickr),
matplotlib/mpl-data/sample_data (grace_hopper.jpg, a public-domain US Navy portrait).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np


@dataclass(frozen=True)
class Photo:
    name: str
    package: str  # the importable package that ships the file
    path: str  # relative to that package's folder
    face: tuple[int, int, int, int] | None = None  # annotated frontal face box (x, y, w, h)

    @property
    def file(self) -> Path:
        spec = importlib.util.find_spec(self.package)
        if spec is None or spec.origin is None:
            raise FileNotFoundError(f"package {self.package} is not installed (needed for demo photo {self.name})")
        return Path(spec.origin).parent / self.path


PHOTOS = (
    Photo("astronaut", "skimage", "data/astronaut.png", face=(177, 66, 95, 95)),
    Photo("grace_hopper", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg", face=(155, 105, 222, 222)),
    Photo("camera", "skimage", "data/camera.png"),
    Photo("chelsea", "skimage", "data/chelsea.png"),
    Photo("coffee", "skimage", "data/coffee.png"),
    Photo("coins", "skimage", "data/coins.png"),
    Photo("ihc", "skimage", "data/ihc.png"),
    Photo("motorcycle", "skimage", "data/motorcycle_left.png"),
    Photo("rocket", "skimage", "data/rocket.jpg"),
    Photo("hubble", "skimage", "data/hubble_deep_field.jpg"),
    Photo("china", "sklearn", "datasets/images/china.jpg"),
    Photo("flower", "sklearn", "datasets/images/flower.jpg"),
)

FACES = tuple(p for p in PHOTOS if p.face is not None)
# Backgrounds for the web images: no people in them (the cameraman is a face in profile).
BACKGROUNDS = tuple(p for p in PHOTOS if p.face is None and p.name != "camera")


@lru_cache(maxsize=None)
def load(photo: Photo) -> np.ndarray:
    """The photo as 8-bit BGR (grey photos repeated over three channels); read-only."""
    image = cv2.imread(str(photo.file), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"cannot read demo photo {photo.file}")
    image.setflags(write=False)
    return image


@lru_cache(maxsize=None)
def is_grey(photo: Photo) -> bool:
    image = load(photo)
    return bool(np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2]))


def sources() -> dict[str, str]:
    """Photo name -> where it comes from, for the truth files."""
    return {p.name: f"{p.package}/{p.path}" for p in PHOTOS}
