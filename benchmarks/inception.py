"""The FID extractor on a CPU: the plain fp32 path against channels_last input and bf16 autocast.

Real images (the demo's labelled photo windows at 64x64, two disjoint halves), prepared as TTUR's FID
prepares them, through the TF-Inception network, in one process: images/s of each path (best of
--repeats), the largest feature difference from the plain path, and the FID between the two halves by
each path (the difference that matters).

    python benchmarks/inception.py WEIGHTS [--images 200] [--threads 2] [--repeats 3]

WEIGHTS: resources/fid/tf_inception_fid.pt (rule fid_weights, or `dcgan fid-weights WEIGHTS`).
"""

from __future__ import annotations

import argparse
import contextlib
import time

import numpy as np
import torch

from dcgan.demo.labelled import photo_windows
from dcgan.fid.inception import SIZE, _tf_bilinear
from dcgan.fid.scores import frechet_distance, gaussian

PATHS = {
    "fp32 (plain)": (torch.contiguous_format, False),
    "channels_last (ours)": (torch.channels_last, False),
    "bf16 autocast": (torch.contiguous_format, True),
}


def features(net, images: np.ndarray, layout, bf16: bool, batch: int = 50) -> np.ndarray:
    out = []
    for lo in range(0, len(images), batch):
        x = torch.from_numpy(images[lo : lo + batch]).permute(0, 3, 1, 2).float()
        x = (_tf_bilinear(x, SIZE) / 128 - 1).contiguous(memory_format=layout)
        autocast = torch.autocast("cpu", torch.bfloat16) if bf16 else contextlib.nullcontext()
        with torch.inference_mode(), autocast:
            out.append(net(x).float().double().numpy())
    return np.concatenate(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    net = torch.jit.load(args.weights).eval()
    images, _, _ = photo_windows(64, -(-args.images // 12), seed=0)
    images = images[: args.images]
    half = len(images) // 2
    features(net, images[:50], torch.contiguous_format, False)  # TorchScript's first runs optimise the graph
    results = {}
    for name, (layout, bf16) in PATHS.items():
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            found = features(net, images, layout, bf16)
            best = min(best, time.perf_counter() - start)
        results[name] = (len(images) / best, found)
    plain = results["fp32 (plain)"][1]
    print(f"{args.images} images at 64x64 -> 299, {args.threads} threads, best of {args.repeats}")
    print(f"{'path':<22} {'img/s':>7} {'ratio':>6} {'max |feature diff|':>19} {'FID halves':>11}")
    for name, (rate, found) in results.items():
        fid = frechet_distance(*gaussian(found[:half]), *gaussian(found[half:]))
        print(
            f"{name:<22} {rate:>7.1f} {rate / results['fp32 (plain)'][0]:>5.2f}x "
            f"{np.abs(found - plain).max():>19.2e} {fid:>11.4f}"
        )


if __name__ == "__main__":
    main()
