"""Face detection quality and speed on the demo web images, scored against their ground truth.

One process, one thread (so images/s = per core), the whole per-image path timed: read, decode,
detect, crop. Settings compared: the Haar cascade with the paper-era OpenCV defaults (scale 1.1,
3 neighbours, the full-resolution image), our tuned defaults, and YuNet when its model file is given.

    python benchmarks/faces.py [--count 150] [--yunet-model face_detection_yunet_2023mar.onnx]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2

from dcgan.demo.web_images import make_web_images
from dcgan.faces import FaceSettings, crop_square, detect, make_detector
from dcgan.facescoring import score_faces
from dcgan.imageops import BadImage, decode
from dcgan.webimages import list_images

PAPER_ERA = FaceSettings(scale_factor=1.1, min_neighbors=3, detect_max_side=10**6, detect_face_px=10**6)


def run(settings: FaceSettings, root: Path, paths: list[str]) -> tuple[dict, float]:
    """Detections per image and the images/s of the whole per-image path."""
    detector = make_detector(settings)
    found = {}
    start = time.perf_counter()
    for path in paths:
        try:
            rgb, *_ = decode((root / path).read_bytes(), size=settings.image_size, min_side=settings.min_face_size, reduced=False)
        except BadImage:
            continue
        kept = detect(detector, rgb, settings)
        for box in kept:
            crop_square(rgb, box[:4], settings)
        found[path] = [d[:4] for d in kept]
    return found, len(paths) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=150, help="demo web images to generate")
    parser.add_argument("--yunet-model", help="YuNet ONNX model file (face_detection_yunet_2023mar.onnx)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    candidates = {"Haar, paper-era settings": PAPER_ERA, "Haar, our defaults": FaceSettings()}
    if args.yunet_model:
        candidates["YuNet"] = FaceSettings(detector="yunet", yunet_model=args.yunet_model, min_score=0.8)
    with tempfile.TemporaryDirectory() as tmp:
        truth = make_web_images(Path(tmp) / "web", count=args.count, seed=1)
        root, paths = list_images(Path(tmp) / "web")
        rows = []
        for name, settings in candidates.items():
            found, rate = run(settings, root, paths)
            rows.append((name, score_faces(found, truth, settings.min_face_size), rate))
    faces = rows[0][1]["faces@0.3"]
    print(f"\n{len(paths)} files, {faces} true faces >= 64 px; one process, one thread")
    print(f"{'detector':<26} {'recall@.3':>9} {'recall@.5':>9} {'precision':>9} {'FP/image':>9} {'images/s':>9}")
    for name, r, rate in rows:
        print(f"{name:<26} {r['recall@0.3']:>9.3f} {r['recall@0.5']:>9.3f} {r['precision@0.3']:>9.3f} "
              f"{r['fp_per_image@0.3']:>9.3f} {rate:>9.1f}")
    ours = next(rate for name, _, rate in rows if name == "Haar, our defaults")
    print(f"\nAt {ours:.1f} images/s per core, 3M web images take {3e6 / ours / 3600:.0f} core-hours: "
          f"{3e6 / ours / 3600 / 16:.1f} h on 16 cores, {3e6 / ours / 3600 / 64:.1f} h on 64.")
    print("(demo images are 180-1,980 px wide; typical web images are smaller and faster)")


if __name__ == "__main__":
    main()
