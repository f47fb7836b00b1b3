"""Image-folder extraction per core against LSUN LMDB extraction, on the same JPEG bytes.

The demo LMDB's JPEG values (LSUN-sized: shorter side 256) and the same photos re-encoded at
ImageNet's typical size (500x375) are each written both as an LSUN-format LMDB and as a folder of
files in 10 class folders (ImageNet's layout). Then, in one process on one thread, best of --repeats:
  - `extract_part` on the LMDB (the LSUN stage), and
  - `list_images` + `extract_images_part` on the folder (the `source: images` stage),
at N and 4N images, so a rate that holds as N grows shows the cost per image does not grow with N.
The files are read from the page cache after the first repeat, as the LMDB is.

    python benchmarks/extract_images.py [--entries 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import lmdb
import numpy as np

from dcgan.demo.lsun_lmdb import make_lsun_lmdb
from dcgan.imageformat import sniff_format
from dcgan.sources.extract import extract_part
from dcgan.sources.images import extract_images_part
from dcgan.sources.listing import write_list
from dcgan.sources.settings import ExtractSettings

SIZE = 64


def jpeg_values(root: Path, entries: int) -> list[bytes]:
    """The demo LMDB's decodable JPEG values."""
    make_lsun_lmdb(root / "demo", entries=entries, seed=0)
    with lmdb.open(str(root / "demo"), readonly=True, lock=False) as env, env.begin() as txn:
        values = [v for _, v in txn.cursor() if v and sniff_format(v) == "jpeg"]
    return [v for v in values if cv2.imdecode(np.frombuffer(v, np.uint8), cv2.IMREAD_REDUCED_COLOR_8) is not None]


def imagenet_sized(values: list[bytes]) -> list[bytes]:
    """The same pictures as 500x375 JPEGs (quality 90), ImageNet's most common size."""
    out = []
    for value in values:
        image = cv2.imdecode(np.frombuffer(value, np.uint8), cv2.IMREAD_COLOR)
        ok, data = cv2.imencode(
            ".jpg", cv2.resize(image, (500, 375), interpolation=cv2.INTER_CUBIC), [cv2.IMWRITE_JPEG_QUALITY, 90]
        )
        out.append(data.tobytes())
    return out


def write_both(root: Path, values: list[bytes]) -> tuple[Path, Path]:
    """The values as an LMDB (40-hex keys) and as files in 10 class folders; returns (lmdb, inputs list)."""
    root.mkdir(parents=True)
    with lmdb.open(str(root / "lmdb"), map_size=1 << 32) as env, env.begin(write=True) as txn:
        for i, value in enumerate(values):
            txn.put(f"{i:040x}".encode(), value)
    for i, value in enumerate(values):
        path = root / "folder" / f"n{i % 10:08d}" / f"n{i % 10:08d}_{i}.JPEG"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(value)
    write_list(root / "folder", root / "inputs.txt")
    return root / "lmdb", root / "inputs.txt"


def best_seconds(run, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lsun_sized = jpeg_values(tmp, args.entries)
        for label, values in (
            ("LSUN-sized (256 short side)", lsun_sized),
            ("ImageNet-sized (500x375)", imagenet_sized(lsun_sized)),
        ):
            for copies in (1, 4):
                root = tmp / f"{label[:4]}{copies}"
                lmdb_dir, inputs = write_both(root, values * copies)
                n = len(values) * copies
                lmdb_s = best_seconds(
                    lambda: extract_part(lmdb_dir, root / "t1", ExtractSettings(image_size=SIZE)), args.repeats
                )
                folder_s = best_seconds(
                    lambda: (
                        write_list(root / "folder", inputs),
                        extract_images_part(inputs, root / "t2", ExtractSettings(image_size=SIZE)),
                    ),
                    args.repeats,
                )
                rows.append((label, n, n / lmdb_s, n / folder_s))
    print(f"\nextraction to {SIZE}x{SIZE}, one process, one thread (images/s per core), best of {args.repeats}")
    print(f"{'JPEGs':<28} {'n':>6} {'LSUN LMDB':>10} {'image folder':>13} {'folder/LMDB':>12}")
    for label, n, lmdb_rate, folder_rate in rows:
        print(f"{label:<28} {n:>6} {lmdb_rate:>10.0f} {folder_rate:>13.0f} {folder_rate / lmdb_rate:>11.2f}x")


if __name__ == "__main__":
    main()
