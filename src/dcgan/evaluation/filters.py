"""Figure 5 of the paper: what D's last convolutional features respond to, by guided backpropagation.

For each of the first feature maps of D's last conv block, the training images with the strongest
response (the map's maximum over positions) and the guided backpropagation of that response to the
input (Springenberg et al., 2015: gradients pass an activation only where its input was positive and
the gradient is positive; D's LeakyReLU is treated as a ReLU there), for the trained D and for a
randomly initialised D of the same shape. Both run with BatchNorm statistics recomputed on the images
shown (dcgan.evaluation.svm.with_batch_statistics), as in the SVM.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from dcgan.evaluation.svm import unit_batches
from dcgan.imageops import tile_grid
from dcgan.plots import pyplot, save_figure


class _GuidedLeakyReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, slope: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        return F.leaky_relu(x, slope)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        return grad * (x > 0) * (grad > 0), None


def last_block(d: torch.nn.Module, x: torch.Tensor, *, guided: bool = False) -> torch.Tensor:
    """The output of D's last conv block (after its activation); with `guided`, activations backpropagate
    by the guided rule."""
    for layer in d.features:
        if guided and isinstance(layer, torch.nn.LeakyReLU):
            x = _GuidedLeakyReLU.apply(x, layer.negative_slope)
        else:
            x = layer(x)
    return x


@torch.no_grad()
def strongest(d: torch.nn.Module, images: np.ndarray, maps: int, top: int, chunk: int = 256) -> np.ndarray:
    """(maps, top) indices of the images with the strongest responses of each of the first `maps` maps."""
    device = next(d.parameters()).device
    responses = np.concatenate(
        [last_block(d, x)[:, :maps].amax(dim=(2, 3)).cpu().numpy() for x in unit_batches(images, device, chunk)]
    )
    return np.argsort(-responses, axis=0, kind="stable")[:top].T


def guided_gradients(d: torch.nn.Module, images: np.ndarray, maps: list[int]) -> np.ndarray:
    """(N, S, S, 3): for image i, the guided gradient of map maps[i]'s strongest response to the input."""
    x = next(unit_batches(images, next(d.parameters()).device, len(images))).requires_grad_(True)
    out = last_block(d, x, guided=True)
    out[torch.arange(len(maps)), torch.tensor(maps)].flatten(1).amax(dim=1).sum().backward()
    return x.grad.permute(0, 2, 3, 1).cpu().numpy()


def gradient_picture(gradient: np.ndarray) -> np.ndarray:
    """A gradient as an RGB picture: grey at zero, three standard deviations to black or white."""
    spread = 3 * gradient.std() or 1.0
    return np.clip((gradient / spread + 1) * 127.5, 0, 255).round().astype(np.uint8)


def filter_sheet(d: torch.nn.Module, images: np.ndarray, maps: int, top: int = 3) -> np.ndarray:
    """One row per map: its `top` images, each followed by its guided backpropagation."""
    chosen = strongest(d, images, maps, top)
    rows = [(index, k) for k in range(len(chosen)) for index in chosen[k]]
    gradients = guided_gradients(d, images[[i for i, _ in rows]], [k for _, k in rows])
    tiles = [
        tile
        for (index, _), gradient in zip(rows, gradients, strict=True)
        for tile in (images[index], gradient_picture(gradient))
    ]
    return tile_grid(tiles, 2 * top, images.shape[1] + 2)


def filters_figure(
    path: str | Path, trained: torch.nn.Module, random_init: torch.nn.Module, images: np.ndarray, maps: int
) -> None:
    """The trained D's sheet beside the random-init D's."""
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(10, 0.45 * maps + 1.2))
    for ax, network, title in ((axes[0], trained, "trained D"), (axes[1], random_init, "random-init D")):
        ax.imshow(filter_sheet(network, images, maps), interpolation="nearest")
        ax.set_title(f"{title}: last conv block, maps 0-{maps - 1}", fontsize=10)
        ax.axis("off")
    figure.suptitle("strongest training images and their guided backpropagation (paper Fig. 5)", fontsize=11)
    figure.tight_layout()
    save_figure(figure, path)
    plt.close(figure)
