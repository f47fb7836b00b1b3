"""Boxes of an object class on G's samples found by an OpenCV Haar cascade, so that forgetting to draw
(paper Fig. 6) runs without hand annotation: the demo boxes eyes on the faces model's samples. The
paper's own boxes were drawn by hand (52 windows on 150 bedroom samples); `forget.boxes` takes such a file.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from dcgan.errors import UserError
from dcgan.evaluation.generator import generate, seeded_z
from dcgan.train.settings import ModelSettings


def load_cascade(name: str) -> cv2.CascadeClassifier:
    """A cascade file by path, or by name among the ones OpenCV ships (cv2.data.haarcascades)."""
    path = Path(name) if Path(name).is_file() else Path(cv2.data.haarcascades) / name
    cascade = cv2.CascadeClassifier(str(path))
    if not path.is_file() or cascade.empty():
        shipped = sorted(p.name for p in Path(cv2.data.haarcascades).glob("*.xml"))
        raise UserError(f"Haar cascade not found or unreadable: {name} (OpenCV ships: {', '.join(shipped)})")
    return cascade


def find_boxes(
    g: torch.nn.Module, model: ModelSettings, seeds: list[int], cascade_name: str, *, upscale: int = 128
) -> dict[int, list[tuple[float, float, float, float]]]:
    """{seed: boxes (x, y, w, h) in the generated image's pixels} for the samples where the cascade finds
    its object; each sample is looked at upscaled to `upscale` pixels (the cascades need ~20 px objects).
    A sample's boxes are sorted: OpenCV's order depends on its threads' timing."""
    cascade = load_cascade(cascade_name)
    device = next(g.parameters()).device
    images = generate(g, seeded_z(seeds, model, device))
    scale = images.shape[1] / upscale
    boxes = {}
    for seed, image in zip(seeds, images, strict=True):
        grey = cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), (upscale, upscale), interpolation=cv2.INTER_CUBIC)
        found = cascade.detectMultiScale(
            cv2.equalizeHist(grey),
            scaleFactor=1.05,
            minNeighbors=3,
            minSize=(upscale // 10, upscale // 10),
            maxSize=(upscale // 2, upscale // 2),
        )
        if len(found):
            boxes[seed] = sorted(tuple(float(v) * scale for v in box) for box in np.asarray(found))
    return boxes
