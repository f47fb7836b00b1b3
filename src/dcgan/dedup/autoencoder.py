"""The paper's semantic hash (section 4.1.1): a 3072-128-3072 denoising, dropout-regularised ReLU
autoencoder on 32x32 downsampled centre crops; code bit = ReLU activation > threshold."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dcgan.dedup.inputs import downsample, part_images, to_vectors
from dcgan.dedup.settings import AutoencoderSettings
from dcgan.device import pick_device
from dcgan.files import write_torch
from dcgan.progress import progress

INPUT = 32 * 32 * 3


class HashAutoencoder(nn.Module):
    def __init__(self, bits: int = 128, dropout: float = 0.2):
        super().__init__()
        self.encoder = nn.Linear(INPUT, bits)
        self.decoder = nn.Linear(bits, INPUT)
        self.dropout = nn.Dropout(dropout)

    def code(self, x: torch.Tensor) -> torch.Tensor:
        """The ReLU code layer: (N, 3072) -> (N, bits) non-negative activations."""
        return torch.relu(self.encoder(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.dropout(self.code(x)))


def train(table_dir: str | Path, parts: int, settings: AutoencoderSettings, *, chunk: int = 8192) -> tuple[HashAutoencoder, dict]:
    """Train on the table itself, streaming one chunk of one part at a time (never the whole set).

    Each epoch visits the parts and their chunks in a seeded random order and shuffles within a chunk,
    so the same settings and data give the same weights on the same machine (and thread count).
    """
    device = pick_device()
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    model = HashAutoencoder(settings.bits, settings.dropout).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    sizes = [len(part_images(table_dir, p)) for p in range(parts)]
    total = sum(sizes)
    losses, started = [], time.perf_counter()
    steps_per_epoch = sum(-(-min(chunk, size - start) // settings.batch_size) for size in sizes for start in range(0, size, chunk))
    epochs = max(settings.epochs, -(-settings.min_steps // max(steps_per_epoch, 1)))
    cache = {} if total <= chunk else None  # a small table is prepared once, not every epoch
    bar = progress(total=total * epochs, desc="dedup train")
    for _ in range(epochs):
        epoch_loss, seen = 0.0, 0
        for part in rng.permutation(parts):
            images = part_images(table_dir, int(part))
            starts = np.arange(0, sizes[part], chunk)
            for start in rng.permutation(starts):
                x = cache.get((part, start)) if cache is not None else None
                if x is None:
                    small = downsample(np.asarray(images[start : start + chunk]))
                    x = torch.from_numpy(to_vectors(small, normalize=settings.normalize, signed=settings.signed))
                    if cache is not None:
                        cache[(part, start)] = x
                order = torch.from_numpy(rng.permutation(len(x)))
                for lo in range(0, len(x), settings.batch_size):
                    clean = x[order[lo : lo + settings.batch_size]].to(device)
                    noisy = clean + settings.noise_std * torch.randn_like(clean)
                    loss = nn.functional.mse_loss(model(noisy), clean)
                    optimiser.zero_grad(set_to_none=True)
                    loss.backward()
                    optimiser.step()
                    epoch_loss += loss.item() * len(clean)
                    seen += len(clean)
                    bar.update(len(clean))
        losses.append(epoch_loss / max(seen, 1))
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    bar.close()
    model.eval()
    report = {
        "images": total,
        "epochs": epochs,
        "device": str(device),
        "losses": [round(v, 6) for v in losses],
        "seconds": round(time.perf_counter() - started, 3),
    }
    return model.cpu(), report


def save(model: HashAutoencoder, settings: AutoencoderSettings, path: str | Path) -> None:
    write_torch(path, {"state_dict": model.state_dict(), "settings": asdict(settings)})


def load(path: str | Path) -> tuple[HashAutoencoder, AutoencoderSettings]:
    saved = torch.load(path, map_location="cpu", weights_only=True)
    settings = AutoencoderSettings(**saved["settings"])
    model = HashAutoencoder(settings.bits, settings.dropout)
    model.load_state_dict(saved["state_dict"])
    return model.eval(), settings


@torch.no_grad()
def hash_images(model: HashAutoencoder, settings: AutoencoderSettings, small: np.ndarray) -> np.ndarray:
    """(N, 32, 32, 3) uint8 crops -> (N, bits/8) uint8 packed hash bits."""
    device = next(model.parameters()).device
    x = torch.from_numpy(to_vectors(small, normalize=settings.normalize, signed=settings.signed)).to(device)
    bits = (model.code(x) > settings.threshold).cpu().numpy()
    return np.packbits(bits, axis=1)
