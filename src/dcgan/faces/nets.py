"""MTCNN's three networks (Zhang et al. 2016): PNet proposes faces on an image pyramid, RNet (24x24
windows) and ONet (48x48) classify and refine them.

They were trained on WIDER FACE and CelebA, none of them our benchmarks' photos. The weights ship in
the facenet-pytorch wheel (MIT licence), converted from the authors' release; only those three files
are taken (`pip download --no-deps`) and saved together, as the wheel ships them, in one file, so that
each is checked against its pinned sha256 when fetched and again whenever it is loaded.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import zipfile
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from dcgan.errors import UserError
from dcgan.faces.settings import MTCNN_WEIGHTS
from dcgan.files import damage_reason, is_damage, write_torch
from dcgan.wheels import checked, damaged_weights, download

WHEEL = "facenet-pytorch==2.6.0"
MEMBERS = {
    "pnet": ("facenet_pytorch/data/pnet.pt", "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f"),
    "rnet": ("facenet_pytorch/data/rnet.pt", "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86"),
    "onet": ("facenet_pytorch/data/onet.pt", "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d"),
}


def fetch_mtcnn_weights(out: str | Path) -> None:
    """Write the three networks' files, sha256 checked, as {"pnet": bytes, "rnet": ..., "onet": ...}, to `out`."""
    with tempfile.TemporaryDirectory() as folder:
        with zipfile.ZipFile(download(WHEEL, folder)) as wheel:
            files = {
                name: checked(WHEEL, member, wheel.read(member), sha256) for name, (member, sha256) in MEMBERS.items()
            }
    write_torch(out, files)


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.permute(0, 3, 2, 1).flatten(1)  # the Caffe original flattens column-major


class PNet(nn.Module):
    """Fully convolutional: for each 12x12 window (stride 2) a face probability and a box correction."""

    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1, self.conv4_2 = nn.Conv2d(32, 2, 1), nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = nn.functional.max_pool2d(self.prelu1(self.conv1(x)), 2, 2, ceil_mode=True)
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_1(x).softmax(1)[:, 1], self.conv4_2(x)


class RNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1, self.dense5_2 = nn.Linear(128, 2), nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = nn.functional.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = nn.functional.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = self.prelu4(self.dense4(_flat(self.prelu3(self.conv3(x)))))
        return self.dense5_1(x).softmax(1)[:, 1], self.dense5_2(x)


class ONet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)  # face / not face
        self.dense6_2 = nn.Linear(256, 4)  # box correction
        self.dense6_3 = nn.Linear(256, 10)  # five landmarks (unused)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = nn.functional.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = nn.functional.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = nn.functional.max_pool2d(self.prelu3(self.conv3(x)), 2, 2, ceil_mode=True)
        x = self.prelu5(self.dense5(_flat(self.prelu4(self.conv4(x)))))
        return self.dense6_1(x).softmax(1)[:, 1], self.dense6_2(x)


def load_mtcnn(weights: str | Path) -> dict[str, nn.Module]:
    weights = Path(weights)
    if not weights.is_file():
        raise UserError(f"MTCNN weights not found: {weights} (the mtcnn_weights rule fetches them)")
    nets = {"pnet": PNet(), "rnet": RNet(), "onet": ONet()}
    try:
        files = torch.load(weights, map_location="cpu", weights_only=True)
        for name, net in nets.items():
            member, sha256 = MEMBERS[name]
            if not isinstance(files[name], bytes) or hashlib.sha256(files[name]).hexdigest() != sha256:
                raise ValueError(f"{name}: not {WHEEL}'s {member}")
            net.load_state_dict(torch.load(io.BytesIO(files[name]), map_location="cpu", weights_only=True))
    except Exception as e:
        if not is_damage(e):
            raise
        problem = f"not MTCNN's weights as the mtcnn_weights rule writes them ({damage_reason(e)})"
        raise damaged_weights(weights, problem, rule="mtcnn_weights", fetched=MTCNN_WEIGHTS) from None
    for net in nets.values():
        net.eval().to(memory_format=torch.channels_last)  # 2-3x faster pooling and convolution on a CPU
    return nets


def as_input(images: np.ndarray) -> torch.Tensor:
    """uint8 RGB (N, H, W, 3) -> the networks' input, (N, 3, H, W) scaled to about [-1, 1]."""
    return (
        torch.from_numpy(images)
        .permute(0, 3, 1, 2)
        .float()
        .sub(127.5)
        .mul(1 / 128)
        .contiguous(memory_format=torch.channels_last)
    )


def windows(rgb: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """The square around each box (zero outside the image), area-resized to size x size: (N, size, size, 3)."""
    height, width = rgb.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), np.uint8)
    for i, (x, y, w, h) in enumerate(boxes):
        side = max(w, h)
        x0, y0 = int(np.floor(x + w / 2 - side / 2)), int(np.floor(y + h / 2 - side / 2))
        x1, y1 = int(np.ceil(x + w / 2 + side / 2)), int(np.ceil(y + h / 2 + side / 2))
        if x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height:
            region = rgb[y0:y1, x0:x1]
        else:
            region = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
            sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
            if sx1 > sx0 and sy1 > sy0:
                region[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
        out[i] = cv2.resize(region, (size, size), interpolation=cv2.INTER_AREA)
    return out


def pyramid_windows(images: list[tuple[float, np.ndarray]], boxes: np.ndarray, size: int) -> np.ndarray:
    """windows() of each box taken from the coarsest of `images` ((scale, image), finest first) on
    which the box still spans `size` pixels: a large face is resized from a small copy."""
    scales = np.array([scale for scale, _ in images])
    fits = boxes[:, 2:].max(axis=1, initial=0)[:, None] * scales[None, :] >= size
    source = np.where(fits, np.arange(len(images)), 0).max(axis=1)
    out = np.zeros((len(boxes), size, size, 3), np.uint8)
    for index in np.unique(source):
        scale, image = images[index]
        chosen = source == index
        out[chosen] = windows(image, boxes[chosen] * scale, size)
    return out


@torch.inference_mode()
def classify(
    net: nn.Module, images: list[tuple[float, np.ndarray]], boxes: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """(face probability, box correction) of each box (x, y, w, h) by RNet (size 24) or ONet (48);
    `images` as pyramid_windows takes them."""
    if len(boxes) == 0:
        return np.zeros(0), np.zeros((0, 4))
    probability, correction = net(as_input(pyramid_windows(images, boxes, size)))
    return probability.double().numpy(), correction.double().numpy()
