"""Extraction throughput per core: ours vs the common PIL way vs OpenCV decode alone (the bound).

Runs everything in one process on one thread, on a demo LMDB scaled up with the demo generator:
  (a) ours: `extract_part` end to end (LMDB read, sniff, reduced JPEG decode, crop, INTER_AREA, table write);
  (b) the common way, as torchvision's LSUN reader + Resize(64) + CenterCrop(64) do: PIL open,
      convert("RGB"), resize the shorter side (bilinear, antialiased), centre crop, one image at a time;
  (c) decode alone: cv2.imdecode with the same reduced mode on values already in memory, results dropped.
The ratios that matter are on JPEG values (LSUN scene categories are all JPEG).

    python benchmarks/extract.py [--entries 6000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

import cv2
import lmdb
import numpy as np
from PIL import Image

from dcgan.demo.lsun_lmdb import make_lsun_lmdb
from dcgan.imageformat import sniff_format
from dcgan.sources.extract import extract_part
from dcgan.sources.settings import ExtractSettings

SIZE = 64


def pil_way(value: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(value)).convert("RGB")
    w, h = image.size
    scale = SIZE / min(w, h)
    image = image.resize((max(SIZE, round(w * scale)), max(SIZE, round(h * scale))), Image.Resampling.BILINEAR)
    w, h = image.size
    left, top = (w - SIZE) // 2, (h - SIZE) // 2
    return np.asarray(image.crop((left, top, left + SIZE, top + SIZE)))


REDUCED_4_RGB = cv2.IMREAD_REDUCED_GRAYSCALE_4 | cv2.IMREAD_COLOR_RGB  # the mode ours uses on LSUN JPEGs


def decode_only(value: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(value, np.uint8), REDUCED_4_RGB)


def each(function, values) -> None:
    """Apply `function` to every value, keeping no result (as the stage keeps none in memory)."""
    for value in values:
        function(value)


def best_rates(runs: dict, counts: dict, repeats: int) -> dict:
    """Images per second of each run's fastest repeat; the runs take turns, so drift hits all alike."""
    best = {name: float("inf") for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: counts[name] / best[name] for name in runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=6000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cv2.setNumThreads(1)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_lsun_lmdb(tmp / "all", entries=args.entries, seed=0)
        with lmdb.open(str(tmp / "all"), readonly=True, lock=False) as env, env.begin() as txn:
            values = dict(txn.cursor())
        jpeg = {k: v for k, v in values.items() if sniff_format(v) == "jpeg"}
        with lmdb.open(str(tmp / "jpeg"), map_size=1 << 30) as env, env.begin(write=True) as txn:
            for key, value in jpeg.items():
                txn.put(key, value)

        results = []
        for label, lmdb_dir, subset in (("JPEG values", tmp / "jpeg", jpeg), ("all values", tmp / "all", values)):
            usable = []
            for v in subset.values():
                try:
                    pil_way(v)
                    usable.append(v)
                except Exception:  # the bad values of the demo: PIL raises on them
                    pass
            nonempty = [v for v in subset.values() if v]
            rates = best_rates(
                {
                    "ours": lambda: extract_part(lmdb_dir, tmp / "table", ExtractSettings(image_size=SIZE)),
                    "pil": lambda: each(pil_way, usable),
                    "bound": lambda: each(decode_only, nonempty),
                },
                {"ours": len(subset), "pil": len(usable), "bound": len(nonempty)},
                args.repeats,
            )
            ours, pil, bound = rates["ours"], rates["pil"], rates["bound"]
            results.append((label, len(subset), ours, pil, bound))

    print(f"\nextraction to {SIZE}x{SIZE}, one process, one thread (images/s per core), best of {args.repeats}")
    print(f"{'values':<12} {'n':>6} {'ours':>8} {'PIL way':>8} {'decode only':>12} {'ours/PIL':>9} {'ours/bound':>11}")
    for label, n, ours, pil, bound in results:
        print(f"{label:<12} {n:>6} {ours:>8.0f} {pil:>8.0f} {bound:>12.0f} {ours / pil:>8.2f}x {ours / bound:>10.0%}")
    print("(decode only = cv2.imdecode at 1/4 scale to RGB on values in memory; WebP/PNG are decoded whole)")


if __name__ == "__main__":
    main()
