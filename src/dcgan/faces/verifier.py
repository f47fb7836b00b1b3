"""MTCNN's output network (ONet, Zhang et al. 2016) as a face/non-face check of Haar candidates.

ONet classifies a 48x48 RGB window as face or not; it was trained on WIDER FACE and CelebA, none of
them our benchmark's photos. The weights ship in the facenet-pytorch wheel (MIT licence), converted
from the authors' release; only that file is taken (`pip download --no-deps`, sha256 checked).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from dcgan.errors import UserError
from dcgan.wheels import fetch_wheel_member

WHEEL = "facenet-pytorch==2.6.0"
MEMBER = "facenet_pytorch/data/onet.pt"
SHA256 = "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d"
WINDOW = 48


def fetch_verifier(out: str | Path) -> None:
    fetch_wheel_member(WHEEL, MEMBER, SHA256, out)


class ONet(nn.Module):
    """The layer names and shapes of the released weights; forward gives the face probability."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)  # face / not face
        self.dense6_2 = nn.Linear(256, 4)  # box regression (unused)
        self.dense6_3 = nn.Linear(256, 10)  # five landmarks (unused)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = nn.functional.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = nn.functional.max_pool2d(self.prelu3(self.conv3(x)), 2, 2, ceil_mode=True)
        x = self.prelu4(self.conv4(x))
        x = self.prelu5(self.dense5(x.permute(0, 3, 2, 1).flatten(1)))  # the Caffe original is column-major
        return self.dense6_1(x).softmax(1)[:, 1]


def windows(rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The square around each box (zero outside the image), area-resized to 48x48: (N, 48, 48, 3)."""
    height, width = rgb.shape[:2]
    out = np.zeros((len(boxes), WINDOW, WINDOW, 3), np.uint8)
    for i, (x, y, w, h) in enumerate(boxes):
        side = max(w, h)
        x0, y0 = int(np.floor(x + w / 2 - side / 2)), int(np.floor(y + h / 2 - side / 2))
        x1, y1 = int(np.ceil(x + w / 2 + side / 2)), int(np.ceil(y + h / 2 + side / 2))
        region = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
        sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        if sx1 > sx0 and sy1 > sy0:
            region[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
        out[i] = cv2.resize(region, (WINDOW, WINDOW), interpolation=cv2.INTER_AREA)
    return out


class Verifier:
    def __init__(self, weights: str | Path):
        weights = Path(weights)
        if not weights.is_file():
            raise UserError(f"face verifier weights not found: {weights} (the face_verifier rule fetches them)")
        self.net = ONet().eval()
        self.net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))

    @torch.inference_mode()
    def __call__(self, rgb: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Face probability of each box (x, y, w, h) in `rgb`."""
        if len(boxes) == 0:
            return np.zeros(0)
        x = torch.from_numpy(windows(rgb, boxes)).permute(0, 3, 1, 2).float().sub(127.5).mul(1 / 128)
        return self.net(x).double().numpy()
