"""A folder of "web images": backgrounds from the package photos with real faces pasted in.

Each face is a head-and-shoulders region of a portrait (astronaut, Grace Hopper) around its
annotated face box, turned by up to 12 degrees and widened or narrowed (a pose and face shape of its
own, so that the pastes are distinct images, not near-duplicates), scaled, maybe mirrored, re-lit and
re-tinted, and blended in with a feathered elliptical mask that keeps the face box itself opaque. The
truth box bounds the annotated box mapped through the same turn, scale and offset. Images come in
varied sizes and formats, in nested folders, some with misleading or no extensions, and a few files
are bad.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from dcgan.demo import photos
from dcgan.demo.lsun_lmdb import VARIANTS, variant
from dcgan.imageops import encode

REGION_SCALE = 2.2  # head-and-shoulders region side / face box side
FOLDERS = ("", "people", "people/2015", "misc", "misc/archive/old")
BAD_FILES = {
    "empty.jpg": "empty",
    "misc/truncated.jpg": "truncated_jpeg",
    "people/notes.jpg": "not_an_image",
    "misc/garbage.png": "not_an_image",
    "readme.txt": "not_an_image",
    "people/2015/truncated.png": "truncated_png",
    "misc/icon.png": "too_small",
}


def _face_region(photo: photos.Photo) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A square crop around the face, and the face box in the crop's coordinates."""
    image = photos.load(photo)
    x, y, w, h = photo.face
    height, width = image.shape[:2]
    side = int(min(REGION_SCALE * max(w, h), width, height))
    x0 = int(np.clip(x + w / 2 - side / 2, 0, width - side))
    y0 = int(np.clip(y + h / 2 - side / 2, 0, height - side))
    return image[y0 : y0 + side, x0 : x0 + side], (x - x0, y - y0, w, h)


def _posed(
    region: np.ndarray, box: tuple[float, float, float, float], angle: float, stretch: float
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The region turned by `angle` degrees and widened by `stretch` about its centre (another pose and
    face shape of the same person), and the box around the face box's turned corners."""
    side = region.shape[0]
    centre = side / 2
    widen = np.array([[stretch, 0, (1 - stretch) * centre], [0, 1, 0], [0, 0, 1]])
    turn = np.vstack([cv2.getRotationMatrix2D((centre, centre), angle, 1.0), [0, 0, 1]])
    matrix = (turn @ widen)[:2]
    posed = cv2.warpAffine(region, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    x, y, w, h = box
    corners = np.array([[x, y, 1], [x + w, y, 1], [x, y + h, 1], [x + w, y + h, 1]]) @ matrix.T
    (x0, y0), (x1, y1) = np.clip(corners.min(0), 0, side), np.clip(corners.max(0), 0, side)
    return posed, (float(x0), float(y0), float(x1 - x0), float(y1 - y0))


def _feather_mask(side: int, box: tuple[float, float, float, float]) -> np.ndarray:
    """1 inside an ellipse filling the square (and always over the face box), fading to 0 at its rim."""
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) + 0.5
    r = np.hypot((xx - side / 2) / (side / 2), (yy - side / 2) / (side / 2))
    mask = np.clip((1.0 - r) / 0.25, 0, 1)
    x, y, w, h = (int(round(v)) for v in box)
    mask[max(y, 0) : y + h, max(x, 0) : x + w] = 1.0
    return mask[..., None]


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    photo = photos.BACKGROUNDS[rng.integers(len(photos.BACKGROUNDS))]
    image = photos.load(photo)
    ph, pw = image.shape[:2]
    scale = max(width / pw, height / ph) * rng.uniform(1.0, 1.6)
    resized = cv2.resize(
        image, (max(width, round(pw * scale)), max(height, round(ph * scale))), interpolation=cv2.INTER_LINEAR
    )
    y0 = int(rng.integers(resized.shape[0] - height + 1))
    x0 = int(rng.integers(resized.shape[1] - width + 1))
    crop = resized[y0 : y0 + height, x0 : x0 + width]
    return variant(crop, int(rng.integers(VARIANTS)), photos.is_grey(photo)).astype(np.float32)


def overlaps(a, b) -> bool:
    """Whether two boxes (x, y, w, h) share any area."""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def free_spot(rng: np.random.Generator, width: int, height: int, w: int, h: int, taken: list, attempts: int = 30):
    """(x, y) of a random w x h place on a width x height canvas overlapping no box in `taken`, or None
    after `attempts` tries."""
    for _attempt in range(attempts):
        x, y = int(rng.integers(width - w + 1)), int(rng.integers(height - h + 1))
        if not any(overlaps((x, y, w, h), t) for t in taken):
            return x, y
    return None


def _compose(rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
    """One web image (BGR) and its faces."""
    short = int(rng.uniform(180, 1100))
    aspect = rng.uniform(1.0, 1.8)
    width, height = (round(short * aspect), short) if rng.random() < 0.7 else (short, round(short * aspect))
    canvas = _background(rng, width, height)
    n_faces = int(rng.choice([0, 1, 2, 3], p=[0.15, 0.55, 0.2, 0.1]))
    regions, faces = [], []
    for _ in range(n_faces):
        photo = photos.FACES[rng.integers(len(photos.FACES))]
        angle, stretch = float(rng.uniform(-12, 12)), float(rng.uniform(0.88, 1.14))
        region, box = _posed(*_face_region(photo), angle, stretch)
        side_in = region.shape[0]
        # Face sides: about a third below 64 px (too small to keep), the rest up to 2.5x the source.
        largest = min(2.5 * box[2], 0.9 * min(width, height) / REGION_SCALE)
        if largest < 24:
            break
        face_side = float(np.exp(rng.uniform(np.log(24), np.log(largest))))
        scale = face_side / box[2]
        side = max(8, round(side_in * scale))
        if side > min(width, height):
            continue
        spot = free_spot(rng, width, height, side, side, regions)
        if spot is None:
            continue
        px, py = spot
        scale = side / side_in  # exact, after rounding the pasted size
        patch = cv2.resize(region, (side, side), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        bx, by, bw, bh = box
        mirrored = bool(rng.random() < 0.5)
        if mirrored:
            patch = patch[:, ::-1]
            bx = side_in - bx - bw
        gamma, tint = rng.uniform(0.8, 1.25), rng.uniform(0.85, 1.15, 3)  # light and white balance
        patch = 255 * (patch.astype(np.float32) / 255) ** gamma * tint * rng.uniform(0.75, 1.2) + rng.uniform(-15, 15)
        face = (px + bx * scale, py + by * scale, bw * scale, bh * scale)
        mask = _feather_mask(side, (face[0] - px, face[1] - py, face[2], face[3]))
        window = canvas[py : py + side, px : px + side]
        canvas[py : py + side, px : px + side] = mask * patch + (1 - mask) * window
        regions.append((px, py, side, side))
        faces.append(
            {
                "box": [round(v, 2) for v in face],
                "identity": photo.name,
                "mirrored": mirrored,
                "angle": round(angle, 1),
                "stretch": round(stretch, 3),
            }
        )
    return np.clip(canvas, 0, 255).astype(np.uint8), faces


def _good_name(rng: np.random.Generator, index: int, fmt: str) -> str:
    """Mostly the usual extension; a few misleading ones or none (the stage must sniff content)."""
    ext = {"jpeg": rng.choice([".jpg", ".jpeg", ".JPG"]), "png": ".png", "webp": ".webp", "bmp": ".bmp"}[fmt]
    roll = rng.random()
    if roll < 0.04:
        ext = ""
    elif roll < 0.08:
        ext = ".jpg" if fmt != "jpeg" else ".png"
    folder = FOLDERS[rng.integers(len(FOLDERS))]
    return f"{folder}/img_{index:05d}{ext}".lstrip("/")


def _bad_bytes(kind: str, rng: np.random.Generator) -> bytes:
    if kind == "empty":
        return b""
    if kind == "not_an_image":
        return b"not an image: " + rng.bytes(200)
    sample, _ = _compose(rng)
    if kind == "too_small":
        return encode(cv2.resize(sample, (24, 24), interpolation=cv2.INTER_AREA), "png")
    data = encode(sample, kind.removeprefix("truncated_"), 90)
    return data[: len(data) // 2]


def make_web_images(folder: str | Path, *, count: int, seed: int) -> dict:
    """Write `count` good images and the bad files into `folder` (a new folder); return the truth."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    images = {}
    for index in range(count):
        image, faces = _compose(rng)
        fmt = str(rng.choice(["jpeg", "png", "webp", "bmp"], p=[0.8, 0.1, 0.08, 0.02]))
        name = _good_name(rng, index, fmt)
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode(image, fmt, int(rng.integers(70, 96))))
        images[name] = {"width": image.shape[1], "height": image.shape[0], "format": fmt, "faces": faces}
    for name, kind in BAD_FILES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_bad_bytes(kind, rng))
    return {"count": count, "seed": seed, "images": images, "bad": dict(BAD_FILES), "photos": photos.sources()}
