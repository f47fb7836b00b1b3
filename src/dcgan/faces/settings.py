"""The face stage's settings: which detector, and which detections are kept as crops."""

from __future__ import annotations

from dataclasses import dataclass

from dcgan.commands import non_negative, option, positive
from dcgan.config import choices
from dcgan.imageformat import MAX_PIXELS

# yunet: the default (OpenCV's YuNet CNN proposes faces, MTCNN's output network checks each); verified:
# the previous default (permissive Haar candidates, on upright and turned copies, each checked by the
# same network), 2-3x slower; mtcnn: MTCNN's three networks; paper: OpenCV's frontal Haar cascade as
# the paper era ran it (pyramid step 1.1, 3 neighbours, full resolution); v1: this project's first
# tuned Haar settings (step 1.2, 8 neighbours, on a copy where a 64 px face spans 48 px).
DETECTORS = choices("faces.detector")
MTCNN_WEIGHTS = "resources/faces/mtcnn.pt"
YUNET_MODEL = "resources/faces/yunet.onnx"


@dataclass(frozen=True)
class FaceSettings:
    detector: str = "yunet"
    mtcnn_weights: str = (
        MTCNN_WEIGHTS  # MTCNN's networks (detectors yunet, verified, mtcnn); the mtcnn_weights rule fetches them
    )
    yunet_model: str = ""  # a YuNet ONNX file (detector yunet); empty: the one the yunet_model rule fetches
    min_confidence: float = 0.8  # yunet, verified, mtcnn: the ONet face probability a candidate needs
    rotations: float = 20.0  # verified: also look on copies turned by +- this many degrees (0: upright only)
    rotated_min_face: int = 128  # ... for faces from this size up, which keeps those passes cheap
    detect_max_side: int = 1024  # yunet, mtcnn, verified, v1: detect on a copy whose long side is at most this
    min_face_size: int = 64  # keep faces whose shorter side is at least this, in original pixels
    max_faces: int = 64  # keep at most this many per image, the largest first
    min_sharpness: float = 40.0  # keep crops whose grey Laplacian variance (at image_size) is at least this
    margin: float = 0.2  # grow the box by this fraction of its side on every side for the crop
    max_border_shift: float = 0.15  # a crop crossing the image border may shift inside by this fraction of its side
    image_size: int = 64
    max_pixels: int = MAX_PIXELS  # reject photos whose header declares more pixels, before decoding them


@dataclass(frozen=True)
class DetectJob:
    part: int = option(0, "which slice of the list, 0-based", type=non_negative)
    parts: int = option(1, "number of slices of the list", type=positive)


@dataclass(frozen=True)
class FaceReportSettings:
    seed: int = 0
