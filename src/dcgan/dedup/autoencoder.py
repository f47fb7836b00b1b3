"""The paper's semantic hash (section 4.1.1): a 3072-128-3072 denoising, dropout-regularised ReLU
autoencoder on 32x32 downsampled centre crops; code bit = ReLU activation > threshold.

Training has a fixed budget, whatever the size of the dataset: a seeded sample of at most `sample`
images, downsampled and contrast-bounded once, then `steps` Adam steps over it in seeded epochs (at most
`epochs` passes but at least `min_steps` steps, so a small dataset trains as it did before). A
checkpoint every few hundred steps lets a killed or timed-out job continue where it stopped, to the same
weights as an uninterrupted run.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dcgan.dedup.inputs import SIDE, downsample, part_images, stretch_bounds, to_vectors
from dcgan.dedup.settings import AutoencoderSettings
from dcgan.device import pick_device
from dcgan.errors import UserError
from dcgan.files import load_torch, write_torch
from dcgan.progress import progress
from dcgan.table import TableImages

INPUT = SIDE * SIDE * 3
_READ = 4096  # table images read and downsampled at a time while drawing the sample
_LOG_EVERY = 250  # steps per entry of the loss log


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


def training_sample(table_dir: str | Path, parts: int, size: int, seed: int) -> np.ndarray:
    """A seeded sample of at most `size` table images (all of them when the table is smaller), as
    (n, 32, 3, 32) uint8 views, read in table order a block at a time: memory is the sample alone."""
    table = TableImages(table_dir, parts)
    chosen = np.sort(np.random.default_rng(seed).choice(len(table), min(size, len(table)), replace=False))
    sample = np.empty((len(chosen), SIDE, 3, SIDE), np.uint8)
    for lo in range(0, len(chosen), _READ):
        sample[lo : lo + _READ] = downsample(table.take(chosen[lo : lo + _READ])).numpy()
    return sample


def _fingerprint(settings: AutoencoderSettings, sizes: list[int]) -> dict:
    return {"settings": asdict(settings), "part_sizes": sizes}


def _load_checkpoint(path: Path | None, fingerprint: dict) -> dict | None:
    """The checkpoint to continue from, or None: absent, unreadable or made for other settings or data."""
    if path is None or not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # a truncated or corrupted file: say so and start afresh
        print(f"dedup train: checkpoint {path} is unreadable ({type(e).__name__}); starting afresh", file=sys.stderr)
        return None
    if state.get("fingerprint") != fingerprint:
        print(f"dedup train: checkpoint {path} was made with other settings or data; starting afresh", file=sys.stderr)
        return None
    print(f"dedup train: continuing from step {state['step']} ({path})", file=sys.stderr)
    return state


def _resume(
    model: HashAutoencoder, optimiser, state: dict | None, device: torch.device
) -> tuple[list, torch.Tensor, int]:
    """(losses, running loss, first step): a fresh start, or the checkpoint's state restored."""
    if state is None:
        return [], torch.zeros((), device=device), 0
    model.load_state_dict(state["model"])
    optimiser.load_state_dict(state["optimiser"])
    torch.set_rng_state(state["rng"])
    if device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda_rng"])
    return state["losses"], state["running"].to(device), state["step"]


def _save_checkpoint(path: Path, model: HashAutoencoder, optimiser, state: dict, device: torch.device) -> None:
    """The run so far: `state` (fingerprint, step, losses, running loss) with the weights, the optimiser and
    the random generators."""
    write_torch(
        path,
        {
            "fingerprint": state["fingerprint"],
            "step": state["step"],
            "model": model.state_dict(),
            "optimiser": optimiser.state_dict(),
            "rng": torch.get_rng_state(),
            "losses": state["losses"],
            "running": state["running"].cpu(),
            "cuda_rng": torch.cuda.get_rng_state() if device.type == "cuda" else None,
        },
    )


def train(
    table_dir: str | Path,
    parts: int,
    settings: AutoencoderSettings,
    *,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 500,
) -> tuple[HashAutoencoder, dict]:
    """Train on a seeded sample of the table for the step budget; resumable from `checkpoint`.

    Each epoch visits the sample in a permutation drawn from (seed, epoch), so the batches of any step
    are known without replaying the ones before it; the same settings and data give the same weights
    on the same machine and thread count, interrupted or not.
    """
    device = pick_device()
    checkpoint = Path(checkpoint) if checkpoint else None
    started = time.perf_counter()
    sizes = [len(part_images(table_dir, p)) for p in range(parts)]
    fingerprint = _fingerprint(settings, sizes)
    sample = torch.from_numpy(training_sample(table_dir, parts, settings.sample, settings.seed)).to(device)
    if len(sample) == 0:
        raise UserError(f"{table_dir}: the image table is empty, no images to train the hash autoencoder on")
    rows = sample.reshape(len(sample), -1)
    low, span = stretch_bounds(rows) if settings.normalize else (None, None)
    prepared = time.perf_counter() - started

    torch.manual_seed(settings.seed)
    model = HashAutoencoder(settings.bits, settings.dropout).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    losses, running, first = _resume(model, optimiser, _load_checkpoint(checkpoint, fingerprint), device)
    batch = min(settings.batch_size, len(rows))
    per_epoch = len(rows) // batch
    steps = min(settings.steps, max(settings.epochs * per_epoch, settings.min_steps))
    order, epoch_of_order = None, -1
    bar = progress(total=steps, initial=first, desc="dedup train", unit="step")
    model.train()
    for step in range(first, steps):
        epoch, position = divmod(step, per_epoch)
        if epoch != epoch_of_order:
            order = torch.from_numpy(np.random.default_rng([settings.seed, epoch]).permutation(len(rows))).to(device)
            epoch_of_order = epoch
        index = order[position * batch : (position + 1) * batch]
        bounds = (low[index], span[index]) if settings.normalize else None
        clean = to_vectors(rows[index], normalize=settings.normalize, signed=settings.signed, bounds=bounds)
        noisy = clean + settings.noise_std * torch.randn_like(clean)
        loss = nn.functional.mse_loss(model(noisy), clean)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        running += loss.detach()
        if (step + 1) % _LOG_EVERY == 0 or step + 1 == steps:
            losses.append(round(float(running) / ((step % _LOG_EVERY) + 1), 6))
            running.zero_()
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
        bar.update()
        if checkpoint is not None and (step + 1) % checkpoint_every == 0 and step + 1 < steps:
            state = {"fingerprint": fingerprint, "step": step + 1, "losses": losses, "running": running}
            _save_checkpoint(checkpoint, model, optimiser, state, device)
    bar.close()
    model.eval()
    report = {
        "images": sum(sizes),
        "sample": len(rows),
        "steps": steps,
        "batch_size": batch,
        "epochs_of_sample": round(steps * batch / len(rows), 2),
        "resumed_from": first,
        "device": str(device),
        "losses_every_250_steps": losses,
        "prepare_seconds": round(prepared, 3),
        "seconds": round(time.perf_counter() - started, 3),
    }
    return model.cpu(), report


def save(model: HashAutoencoder, settings: AutoencoderSettings, path: str | Path) -> None:
    write_torch(path, {"state_dict": model.state_dict(), "settings": asdict(settings)})


def load(path: str | Path) -> tuple[HashAutoencoder, AutoencoderSettings]:
    saved = load_torch(path, "hash autoencoder")
    settings = AutoencoderSettings(**saved["settings"])
    model = HashAutoencoder(settings.bits, settings.dropout)
    model.load_state_dict(saved["state_dict"])
    return model.eval(), settings


@torch.no_grad()
def hash_images(model: HashAutoencoder, settings: AutoencoderSettings, small: np.ndarray | torch.Tensor) -> np.ndarray:
    """(N, 32, 3, 32) uint8 views (on any device) -> (N, bits/8) uint8 packed hash bits."""
    device = next(model.parameters()).device
    x = to_vectors(torch.as_tensor(small).to(device), normalize=settings.normalize, signed=settings.signed)
    bits = (model.code(x) > settings.threshold).cpu().numpy()
    return np.packbits(bits, axis=1)
