"""The DCGAN generator and discriminator (Radford, Metz & Chintala, 2015, section 3 and Figure 1).

G projects z to a 4x4 map and doubles it with fractionally-strided convolutions up to `image_size`
(BatchNorm + ReLU, tanh output); D halves the image with strided convolutions down to 4x4 (LeakyReLU 0.2,
BatchNorm except on the first layer) and one 4x4 convolution gives the logit: no pooling, no hidden fully
connected layer. Widths: G has `ngf * 2**(n-1)` channels at 4x4 (n = doublings: 4 for 64x64), so
ngf = 128 is the paper's 1024 and ngf = 64 the common 512; D mirrors that with `ndf`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from dcgan.train.settings import Z_DISTRIBUTIONS, ModelSettings


def doublings(image_size: int) -> int:
    """Stride-2 layers between 4x4 and image_size (64 -> 4, 32 -> 3)."""
    n = math.log2(image_size / 4)
    if image_size < 8 or n != int(n):
        raise ValueError(f"image_size must be 4 x a power of two, at least 8; got {image_size}")
    return int(n)


def _same_scale_padding(kernel: int) -> tuple[int, int]:
    """(padding, output_padding) that make a stride-2 (transposed) convolution exactly halve (double)."""
    if kernel not in (4, 5):
        raise ValueError(f"kernel must be 4 or 5, got {kernel}")
    return (1, 0) if kernel == 4 else (2, 1)


class Generator(nn.Module):
    def __init__(self, s: ModelSettings):
        super().__init__()
        n = doublings(s.image_size)
        pad, out_pad = _same_scale_padding(s.kernel)
        width = s.ngf * 2 ** (n - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(s.nz, width, 4, 1, 0, bias=False),  # project and reshape: z -> 4x4
            nn.BatchNorm2d(width),
            nn.ReLU(True),
        ]
        for _ in range(n - 1):
            layers += [
                nn.ConvTranspose2d(width, width // 2, s.kernel, 2, pad, out_pad, bias=False),
                nn.BatchNorm2d(width // 2),
                nn.ReLU(True),
            ]
            width //= 2
        layers += [nn.ConvTranspose2d(width, 3, s.kernel, 2, pad, out_pad, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.nz = s.nz

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(len(z), self.nz, 1, 1))


class Discriminator(nn.Module):
    def __init__(self, s: ModelSettings):
        super().__init__()
        n = doublings(s.image_size)
        pad, _ = _same_scale_padding(s.kernel)
        width = s.ndf
        layers: list[nn.Module] = [nn.Conv2d(3, width, s.kernel, 2, pad, bias=False), nn.LeakyReLU(0.2, True)]
        for _ in range(n - 1):
            layers += [
                nn.Conv2d(width, width * 2, s.kernel, 2, pad, bias=False),
                nn.BatchNorm2d(width * 2),
                nn.LeakyReLU(0.2, True),
            ]
            width *= 2
        self.features = nn.Sequential(*layers)
        self.logit = nn.Conv2d(width, 1, 4, 1, 0, bias=False)  # the 4x4 map, flattened, to one logit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logit(self.features(x)).view(-1)


def init_weights(module: nn.Module) -> None:
    """The paper's init: conv weights N(0, 0.02); BatchNorm gamma N(1, 0.02), beta 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def build(settings: ModelSettings) -> tuple[Generator, Discriminator]:
    g, d = Generator(settings), Discriminator(settings)
    g.apply(init_weights)
    d.apply(init_weights)
    return g, d


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """G's output in [-1, 1] (N, 3, S, S) as uint8 RGB (N, S, S, 3) on the host."""
    return images.float().add(1).mul(127.5).round().clamp(0, 255).byte().permute(0, 2, 3, 1).cpu().numpy()


def sample_z(count: int, settings: ModelSettings, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    if settings.z == "uniform":
        return torch.rand(count, settings.nz, generator=generator, device=device) * 2 - 1
    if settings.z == "normal":
        return torch.randn(count, settings.nz, generator=generator, device=device)
    raise ValueError(f"z must be one of {Z_DISTRIBUTIONS}, got {settings.z!r}")
