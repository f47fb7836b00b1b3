"""Face detectors: each maps an RGB image to boxes (x, y, w, h in its pixels) and scores, best first.

- YuNetDetector (`yunet`, the default): OpenCV's CNN detector proposes, MTCNN's output network
  checks; in dcgan.faces.yunet.
- VerifiedDetector (`verified`, the previous default): OpenCV's frontal Haar cascade as a permissive
  candidate pass (every raw window counts, on an upright copy and on two turned copies for tilted
  heads), each candidate then checked by MTCNN's output network (`nets`). Candidates mostly inside a
  more confident face are dropped (the cascade also fires on the eyes-and-nose part of large faces);
  the verified candidates that agree on a face are averaged into its box.
- MtcnnDetector (`mtcnn`): MTCNN's three networks, in dcgan.faces.mtcnn.
- HaarDetector: the plain cascade with fixed settings, kept as the `paper` and `v1` presets.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from dcgan.errors import UserError
from dcgan.faces.mtcnn import MtcnnDetector
from dcgan.faces.nets import classify, load_mtcnn
from dcgan.faces.scoring import inside_suppressed, iou
from dcgan.faces.settings import DETECTORS, FaceSettings
from dcgan.faces.yunet import YuNetDetector

GROUP_EPS = 0.2  # OpenCV's own grouping tolerance in detectMultiScale
FACE_PX = 32  # the verified detector's copies are scaled so that its smallest face spans this many pixels


def frontal_cascade() -> cv2.CascadeClassifier:
    path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise UserError(f"cannot load the Haar cascade {path} (opencv-python-headless < 5 ships it)")
    return cascade


def shrunk(grey: np.ndarray, scale: float) -> np.ndarray:
    if scale >= 1.0:
        return grey
    height, width = grey.shape
    return cv2.resize(grey, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)


def group_windows(raw: np.ndarray, eps: float = GROUP_EPS, chunk: int = 1024) -> np.ndarray:
    """The mean box of each cluster of raw cascade windows, lone windows included. Two windows are
    linked when every edge lies within eps of their mean size of each other (OpenCV's rule), and
    clusters are the connected groups; unlike cv2.groupRectangles nothing is dropped."""
    r = np.asarray(raw, np.float64).reshape(-1, 4)
    edges = np.c_[r[:, :2], r[:, :2] + r[:, 2:]]
    rows, cols = [], []
    for lo in range(0, len(r), chunk):
        part = slice(lo, lo + chunk)
        delta = eps * (np.minimum(r[part, None, 2], r[None, :, 2]) + np.minimum(r[part, None, 3], r[None, :, 3])) / 2
        near = (np.abs(edges[part, None, :] - edges[None, :, :]) <= delta[..., None]).all(axis=2)
        i, j = np.nonzero(near)
        rows.append(i + lo)
        cols.append(j)
    if not len(r):
        return r
    count, labels = connected_components(
        coo_matrix(
            (np.ones(sum(map(len, rows))), (np.concatenate(rows), np.concatenate(cols))), shape=(len(r), len(r))
        ),
        directed=False,
    )
    sizes = np.bincount(labels, minlength=count)[:, None]
    return np.stack([np.bincount(labels, r[:, k], count) for k in range(4)], axis=1) / sizes


def _ordered(boxes: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((-boxes[:, 2] * boxes[:, 3], -scores))
    return boxes[order], scores[order]


@dataclass(frozen=True)
class HaarPreset:
    scale_factor: float
    min_neighbors: int
    face_px: int | None  # detect on a copy where the smallest kept face spans this many pixels (None: full size)
    min_size: int  # smallest window searched, in the pixels of the searched image


HAAR_PRESETS = {
    "paper": HaarPreset(scale_factor=1.1, min_neighbors=3, face_px=None, min_size=30),
    "v1": HaarPreset(scale_factor=1.2, min_neighbors=8, face_px=48, min_size=0),
}


class HaarDetector:
    def __init__(self, settings: FaceSettings):
        self.cascade = frontal_cascade()
        self.preset = HAAR_PRESETS[settings.detector]
        self.settings = settings

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        preset, settings = self.preset, self.settings
        scale = 1.0
        if preset.face_px is not None:
            scale = min(1.0, settings.detect_max_side / max(rgb.shape[:2]), preset.face_px / settings.min_face_size)
        min_size = preset.min_size or max(1, int(settings.min_face_size * scale))
        boxes, neighbours = self.cascade.detectMultiScale2(
            shrunk(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), scale),
            scaleFactor=preset.scale_factor,
            minNeighbors=preset.min_neighbors,
            minSize=(min_size, min_size),
        )
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4) / scale
        return _ordered(boxes, np.asarray(neighbours, np.float64).reshape(-1))


class VerifiedDetector:
    def __init__(self, settings: FaceSettings):
        self.cascade = frontal_cascade()
        self.onet = load_mtcnn(settings.mtcnn_weights)["onet"]
        self.settings = settings

    def _candidates(self, grey: np.ndarray, angle: float, min_face: int) -> np.ndarray:
        """Every raw window of the cascade (clustered, lone windows kept) on a copy where a
        `min_face` face spans FACE_PX pixels, turned by `angle` degrees; boxes in the pixels of `grey`."""
        scale = min(1.0, self.settings.detect_max_side / max(grey.shape), FACE_PX / min_face)
        grey = shrunk(grey, scale)
        turn = None
        if angle:
            turn = cv2.getRotationMatrix2D((grey.shape[1] / 2, grey.shape[0] / 2), angle, 1.0)
            grey = cv2.warpAffine(grey, turn, (grey.shape[1], grey.shape[0]), borderMode=cv2.BORDER_REPLICATE)
        side = max(1, int(min_face * scale))
        boxes = group_windows(
            self.cascade.detectMultiScale(grey, scaleFactor=1.2, minNeighbors=0, minSize=(side, side))
        )
        if turn is not None:  # the upright box around the turned window's centre
            centres = np.c_[boxes[:, :2] + boxes[:, 2:] / 2, np.ones(len(boxes))] @ cv2.invertAffineTransform(turn).T
            boxes[:, :2] = centres - boxes[:, 2:] / 2
        return boxes / scale

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        settings = self.settings
        passes = [(0.0, settings.min_face_size)]
        if settings.rotations:
            turned_min = max(settings.min_face_size, settings.rotated_min_face)
            passes += [(-settings.rotations, turned_min), (settings.rotations, turned_min)]
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        boxes = np.concatenate([self._candidates(grey, angle, min_face) for angle, min_face in passes])
        scores = classify(self.onet, [(1.0, rgb)], boxes, 48)[0]
        keep = scores >= settings.min_confidence
        boxes, scores = _ordered(boxes[keep], scores[keep])
        kept = inside_suppressed(boxes, scores)
        # Each face's box: the confidence-weighted mean of the verified candidates on it (IoU >= 0.5),
        # upright and turned, which steadies the extent a lone window gives.
        faces = np.empty((len(kept), 4))
        for row, i in enumerate(kept):
            agree = np.array([iou(boxes[i], other) >= 0.5 for other in boxes])
            faces[row] = scores[agree] @ boxes[agree] / scores[agree].sum()
        return faces, scores[kept]


def make_detector(settings: FaceSettings):
    if settings.detector == "yunet":
        return YuNetDetector(settings)
    if settings.detector == "mtcnn":
        return MtcnnDetector(settings)
    if settings.detector == "verified":
        return VerifiedDetector(settings)
    if settings.detector in HAAR_PRESETS:
        return HaarDetector(settings)
    raise UserError(f"unknown face detector {settings.detector!r} (one of {', '.join(DETECTORS)})")
