"""The MTCNN cascade (Zhang et al. 2016) as a face detector (`mtcnn`).

PNet scans an image pyramid whose first level makes the smallest kept face (`min_face_size`) span
its 12-pixel window, so faces below that size cost nothing; RNet and ONet then classify and refine
the proposals. The pyramid and the proposal count are bounded, so one image's cost is too, whatever
it holds.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from dcgan.faces.nets import as_input, classify, load_mtcnn
from dcgan.faces.scoring import inside_suppressed
from dcgan.faces.settings import FaceSettings

CELL, STRIDE = 12, 2  # PNet's window and its step, in the pixels of a pyramid level
PYRAMID_STEP = 0.709  # the authors' level-to-level scale: half the area
PNET_THRESHOLD, RNET_THRESHOLD = 0.6, 0.7  # the authors' settings; ONet's is faces.min_confidence
MAX_PROPOSALS = 1000  # the most confident PNet proposals RNet sees (a crowd's cost stays bounded)


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Indices kept by non-maximum suppression at IoU `threshold`, most confident first."""
    if len(boxes) == 0:
        return np.zeros(0, int)
    return np.asarray(cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), 0.0, threshold), int).reshape(-1)


def corrected(boxes: np.ndarray, correction: np.ndarray) -> np.ndarray:
    """Boxes (x, y, w, h) moved by a network's correction (x0, y0, x1, y1 offsets, in box sides)."""
    x0 = boxes[:, :2] + correction[:, :2] * boxes[:, 2:]
    x1 = boxes[:, :2] + boxes[:, 2:] + correction[:, 2:] * boxes[:, 2:]
    return np.c_[x0, x1 - x0]


def squared(boxes: np.ndarray) -> np.ndarray:
    side = boxes[:, 2:].max(axis=1, keepdims=True)
    return np.c_[boxes[:, :2] + boxes[:, 2:] / 2 - side / 2, side, side]


class MtcnnDetector:
    def __init__(self, settings: FaceSettings):
        nets = load_mtcnn(settings.mtcnn_weights)
        self.pnet, self.rnet, self.onet = nets["pnet"], nets["rnet"], nets["onet"]
        self.settings = settings

    def levels(self, rgb: np.ndarray):
        """(scale, level image) of the pyramid, each level area-resized from the one before."""
        height, width = rgb.shape[:2]
        scale = CELL / self.settings.min_face_size * min(1.0, self.settings.detect_max_side / max(height, width))
        level = rgb
        while min(height, width) * scale >= CELL:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            level = cv2.resize(level, size, interpolation=cv2.INTER_AREA)
            yield size[0] / width, level
            scale *= PYRAMID_STEP

    @torch.inference_mode()
    def proposals(self, levels: list[tuple[float, np.ndarray]]) -> np.ndarray:
        """PNet's candidate boxes (x, y, w, h, in the image's pixels), squared, most confident first."""
        found, confidence = [], []
        for scale, level in levels:
            probability, correction = (t[0].numpy() for t in self.pnet(as_input(level[None])))
            ys, xs = np.nonzero(probability >= PNET_THRESHOLD)
            boxes = np.c_[xs * STRIDE, ys * STRIDE, np.full((len(xs), 2), CELL)].astype(np.float64) / scale
            boxes = corrected(boxes, correction[:, ys, xs].T.astype(np.float64))
            scores = probability[ys, xs].astype(np.float64)
            keep = nms(boxes, scores, 0.5)
            found.append(boxes[keep])
            confidence.append(scores[keep])
        if not found:
            return np.zeros((0, 4))
        boxes, scores = np.concatenate(found), np.concatenate(confidence)
        keep = nms(boxes, scores, 0.7)[:MAX_PROPOSALS]
        return squared(boxes[keep])

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        levels = list(self.levels(rgb))
        images = [(1.0, rgb)] + levels  # the windows' sources, finest first
        boxes = self.proposals(levels)
        scores, correction = classify(self.rnet, images, boxes, 24)
        keep = scores >= RNET_THRESHOLD
        boxes, scores = squared(corrected(boxes[keep], correction[keep])), scores[keep]
        keep = nms(boxes, scores, 0.7)
        boxes = boxes[keep]
        scores, correction = classify(self.onet, images, boxes, 48)
        keep = scores >= self.settings.min_confidence
        boxes, scores = corrected(boxes[keep], correction[keep]), scores[keep]
        keep = inside_suppressed(boxes, scores)
        return squared(boxes[keep]), scores[keep]
