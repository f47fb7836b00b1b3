"""Which detections become crops: the keep rules of a face dataset, each rejection with its reason.

A face is kept when its box is at least `min_face_size` on its shorter side, when the square crop
around it (the box grown by `margin`) fits in the image after shifting it inside by at most
`max_border_shift` of its side, and when the crop, resized to `image_size`, is sharp enough: the
variance of its grey Laplacian is at least `min_sharpness`. Every face that passes is kept, up to
`max_faces` an image, the largest first: a group photo or a collage gives all its faces, and the cap
only ever drops the smallest of a page of faces (a crowd of faces below `min_face_size` costs the
detector nothing, as it never looks for them).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dcgan.faces.settings import FaceSettings

TOO_SMALL, AT_BORDER, BLURRY, TOO_MANY = (
    "face too small",
    "face at the border",
    "blurry face",
    "more faces than max_faces",
)
FACE_REJECTIONS = (TOO_SMALL, AT_BORDER, BLURRY, TOO_MANY)  # reason categories of detections not kept


@dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]  # x, y, w, h in original pixels
    score: float
    sharpness: float
    crop: np.ndarray  # image_size x image_size x 3 RGB


def crop_window(width: int, height: int, box, margin: float) -> tuple[int, int, int, float]:
    """(x0, y0, side) of the square crop around `box` grown by `margin`, moved inside the image (and
    shrunk to its shorter side if larger), and how far it moved, as a fraction of its side."""
    x, y, w, h = box
    side = min(max(w, h) * (1 + 2 * margin), width, height)
    x0, y0 = x + w / 2 - side / 2, y + h / 2 - side / 2
    inside_x, inside_y = min(max(x0, 0), width - side), min(max(y0, 0), height - side)
    shift = max(abs(inside_x - x0), abs(inside_y - y0)) / side
    return round(inside_x), round(inside_y), max(1, round(side)), shift


def sharpness(crop: np.ndarray) -> float:
    """Variance of the Laplacian of the grey crop: low for blurred (or featureless) faces."""
    return float(cv2.Laplacian(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def _where(box) -> str:
    return "box " + ",".join(str(round(v)) for v in box)


def select_faces(
    rgb: np.ndarray, boxes: np.ndarray, scores: np.ndarray, settings: FaceSettings
) -> tuple[list[Face], list[str]]:
    """The kept faces (largest first) and a reason for each detection not kept."""
    height, width = rgb.shape[:2]
    kept, reasons = [], []
    for box, score in zip(boxes, scores, strict=True):
        box = tuple(float(v) for v in box)
        if min(box[2], box[3]) < settings.min_face_size:
            reasons.append(f"{TOO_SMALL} ({_where(box)}: {min(box[2:]):.0f} px < {settings.min_face_size})")
            continue
        x0, y0, side, shift = crop_window(width, height, box, settings.margin)
        if shift > settings.max_border_shift:
            reasons.append(
                f"{AT_BORDER} ({_where(box)}: the crop must shift {shift:.0%} of its side"
                f" > {settings.max_border_shift:.0%})"
            )
            continue
        crop = cv2.resize(
            rgb[y0 : y0 + side, x0 : x0 + side],
            (settings.image_size, settings.image_size),
            interpolation=cv2.INTER_AREA,
        )
        sharp = sharpness(crop)
        if sharp < settings.min_sharpness:
            reasons.append(f"{BLURRY} ({_where(box)}: sharpness {sharp:.0f} < {settings.min_sharpness:g})")
            continue
        kept.append(Face(box, float(score), sharp, crop))
    kept.sort(key=lambda face: (-min(face.box[2:]), -face.score))
    for face in kept[settings.max_faces :]:
        reasons.append(
            f"{TOO_MANY} ({_where(face.box)}: {min(face.box[2:]):.0f} px; the {settings.max_faces} larger ones kept)"
        )
    return kept[: settings.max_faces], reasons
