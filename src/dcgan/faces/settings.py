"""The face stage's settings: which detector, and which detections are kept as crops."""

from __future__ import annotations

from dataclasses import dataclass

# verified: the default (permissive Haar candidates, each checked by MTCNN's output network); mtcnn:
# MTCNN's three networks, 2-3x faster, fewer false positives, a few frontal faces fewer; paper:
# OpenCV's frontal Haar cascade as the paper era ran it (pyramid step 1.1, 3 neighbours, full
# resolution); v1: this project's first tuned Haar settings (step 1.2, 8 neighbours, on a copy where
# a 64 px face spans 48 px); yunet: OpenCV's CNN detector, given its ONNX file.
DETECTORS = ("verified", "mtcnn", "paper", "v1", "yunet")
MTCNN_WEIGHTS = "resources/faces/mtcnn.pt"


@dataclass(frozen=True)
class FaceSettings:
    detector: str = "verified"
    mtcnn_weights: str = (
        MTCNN_WEIGHTS  # MTCNN's networks (detectors verified, mtcnn); the mtcnn_weights rule fetches them
    )
    yunet_model: str = ""  # face_detection_yunet_2023mar.onnx (detector yunet)
    min_confidence: float = 0.7  # mtcnn, verified: ONet face probability; yunet: its score
    rotations: float = 20.0  # verified: also look on copies turned by +- this many degrees (0: upright only)
    rotated_min_face: int = 128  # ... for faces from this size up, which keeps those passes cheap
    detect_max_side: int = 1024  # mtcnn, verified, v1: detect on a copy whose long side is at most this
    min_face_size: int = 64  # keep faces whose shorter side is at least this, in original pixels
    max_faces: int = 64  # keep at most this many per image, the largest first
    min_sharpness: float = 40.0  # keep crops whose grey Laplacian variance (at image_size) is at least this
    margin: float = 0.2  # grow the box by this fraction of its side on every side for the crop
    max_border_shift: float = 0.15  # a crop crossing the image border may shift inside by this fraction of its side
    image_size: int = 64
