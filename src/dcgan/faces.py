"""Stage 3: detect faces in web images with OpenCV and keep high-resolution square crops.

The paper (section 4.2) ran an OpenCV face detector over 3M web images and kept the detections of
sufficiently high resolution (~350,000 boxes). The default detector is OpenCV's frontal-face Haar
cascade; YuNet (cv2.FaceDetectorYN) is used when the config names its ONNX model file.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from dcgan.errors import UserError
from dcgan.imageops import BadImage, decode
from dcgan.progress import progress
from dcgan.table import PartWriter, part_prefix
from dcgan.webimages import part_slice, read_list

COLUMNS = ("key", "source", "width", "height", "x", "y", "w", "h", "score", "detector")


@dataclass(frozen=True)
class FaceSettings:
    detector: str = "haar"  # haar | yunet
    yunet_model: str = ""  # path to face_detection_yunet_2023mar.onnx (detector: yunet)
    scale_factor: float = 1.2  # Haar: image pyramid step (OpenCV's default, the paper era's: 1.1)
    min_neighbors: int = 8  # Haar: overlapping raw detections a face needs (OpenCV's default: 3)
    equalize: bool = False  # Haar: histogram-equalise the grey image first
    min_score: float = 0.0  # keep detections scoring at least this (Haar: neighbours; YuNet: 0..1)
    detect_max_side: int = 1024  # detect on a copy whose long side is at most this; boxes mapped back
    detect_face_px: int = 48  # ... and on which the smallest kept face spans at most this many pixels
    min_face_size: int = 64  # keep boxes whose shorter side is at least this, in original pixels
    max_faces: int = 4  # keep at most this many per image (highest scores first)
    margin: float = 0.2  # grow the box by this fraction of its side on every side for the crop
    border: str = "shift"  # crops crossing the image border: shift inside, or skip
    image_size: int = 64


class HaarDetector:
    def __init__(self, settings: FaceSettings):
        cascade = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        self.cascade = cv2.CascadeClassifier(str(cascade))
        if self.cascade.empty():
            raise UserError(f"cannot load the Haar cascade {cascade} (opencv-python-headless < 5 ships it)")
        self.settings = settings

    def __call__(self, rgb: np.ndarray, min_side: int) -> tuple[np.ndarray, np.ndarray]:
        """(boxes N x 4 as x, y, w, h; scores N) in the pixels of `rgb`."""
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        if self.settings.equalize:
            grey = cv2.equalizeHist(grey)
        boxes, neighbours = self.cascade.detectMultiScale2(
            grey,
            scaleFactor=self.settings.scale_factor,
            minNeighbors=self.settings.min_neighbors,
            minSize=(min_side, min_side),
        )
        return np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(neighbours, np.float64).reshape(-1)


class YuNetDetector:
    def __init__(self, settings: FaceSettings):
        if not settings.yunet_model or not Path(settings.yunet_model).is_file():
            raise UserError(f"YuNet model file not found: {settings.yunet_model!r} (faces.yunet_model)")
        self.detector = cv2.FaceDetectorYN.create(settings.yunet_model, "", (320, 320), max(settings.min_score, 0.5))

    def __call__(self, rgb: np.ndarray, min_side: int) -> tuple[np.ndarray, np.ndarray]:
        self.detector.setInputSize((rgb.shape[1], rgb.shape[0]))
        _, found = self.detector.detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        if found is None:
            return np.zeros((0, 4)), np.zeros(0)
        return found[:, :4].astype(np.float64), found[:, -1].astype(np.float64)


def make_detector(settings: FaceSettings):
    if settings.detector == "haar":
        return HaarDetector(settings)
    if settings.detector == "yunet":
        return YuNetDetector(settings)
    raise UserError(f"unknown face detector {settings.detector!r} (haar or yunet)")


def detect(detector, rgb: np.ndarray, settings: FaceSettings) -> list[tuple[float, float, float, float, float]]:
    """Kept detections (x, y, w, h, score) in original pixels, best first."""
    height, width = rgb.shape[:2]
    scale = min(1.0, settings.detect_max_side / max(height, width), settings.detect_face_px / settings.min_face_size)
    small = rgb if scale == 1.0 else cv2.resize(rgb, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    boxes, scores = detector(small, max(1, int(settings.min_face_size * scale)))
    kept = []
    for (x, y, w, h), score in zip(boxes / scale, scores):
        if min(w, h) >= settings.min_face_size and score >= settings.min_score:
            kept.append((x, y, w, h, score))
    kept.sort(key=lambda d: (-d[4], -d[2] * d[3]))
    return kept[: settings.max_faces]


def crop_square(rgb: np.ndarray, box, settings: FaceSettings) -> np.ndarray | None:
    """The square around the box grown by the margin, resized to image_size; None if skipped."""
    height, width = rgb.shape[:2]
    x, y, w, h = box
    side = max(w, h) * (1 + 2 * settings.margin)
    x0, y0 = x + w / 2 - side / 2, y + h / 2 - side / 2
    inside = x0 >= 0 and y0 >= 0 and x0 + side <= width and y0 + side <= height
    if not inside:
        if settings.border == "skip":
            return None
        side = min(side, width, height)
        x0 = min(max(x0, 0), width - side)
        y0 = min(max(y0, 0), height - side)
    x0, y0, side = round(x0), round(y0), max(1, round(side))
    crop = rgb[y0 : y0 + side, x0 : x0 + side]
    return cv2.resize(crop, (settings.image_size, settings.image_size), interpolation=cv2.INTER_AREA)


def face_key(path: str, index: int) -> str:
    return f"{hashlib.sha1(path.encode()).hexdigest()[:20]}_{index}"


def detect_part(inputs_list: str | Path, table_dir: str | Path, *, part: int, parts: int, settings: FaceSettings) -> dict:
    """Detect faces in one slice of the input list; write its image-table part of face crops."""
    cv2.setNumThreads(1)
    root, paths = read_list(inputs_list)
    mine = paths[part_slice(len(paths), part, parts)]
    detector = make_detector(settings)
    faces = 0
    with PartWriter(part_prefix(table_dir, part), settings.image_size, COLUMNS) as writer:
        for path in progress(mine, desc=f"detect faces part {part}"):
            try:
                data = (root / path).read_bytes()
                rgb, _, width, height = decode(data, size=settings.image_size, min_side=settings.min_face_size, reduced=False)
            except OSError as e:
                writer.reject(path, f"unreadable ({e.strerror})")
                continue
            except BadImage as e:
                writer.reject(path, str(e))
                continue
            for index, (x, y, w, h, score) in enumerate(detect(detector, rgb, settings)):
                crop = crop_square(rgb, (x, y, w, h), settings)
                if crop is not None:
                    row = (face_key(path, index), path, width, height, round(x, 1), round(y, 1), round(w, 1), round(h, 1), round(score, 3), settings.detector)
                    writer.add(crop, row)
                    faces += 1
        return writer.finish("detect_faces", {**asdict(settings), "inputs": str(inputs_list), "part": part, "parts": parts},
                             source_images=len(mine), faces=faces)
