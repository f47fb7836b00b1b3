"""Face detection on a benchmark that is not the demo, and speed on the demo, for every detector.

The benchmark (benchmarks/face_set.py) has 24 people from photos in four PyPI packages, used whole and
pasted onto other backgrounds with rotation, blur, lighting and occlusion, plus face-free images with
face-like clutter. Seeds 7 and 8 were used to choose the verified detector's settings; the default
seed 9 was not. The demo's web images (seed 1, as in the workflow) give the speed the issue names.

Each image goes the stage's whole way in one process on one thread (so images/s = per core): read,
decode, detect, then the quality rules that choose the crops. A face counts as found when a box of
at least 64 px overlaps it by IoU >= 0.3; "kept" also needs it to pass the rules (sharpness, border).

    python benchmarks/faces.py [--seed 9] [--count 400] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import torch

from face_set import PEOPLE, fetch_photos, make_face_benchmark

from dcgan.demo.web_images import make_web_images
from dcgan.faces.detectors import HAAR_PRESETS, HaarPreset, make_detector
from dcgan.faces.quality import select_faces
from dcgan.faces.scoring import iou, match_faces
from dcgan.faces.settings import MTCNN_WEIGHTS, FaceSettings
from dcgan.faces.nets import fetch_mtcnn_weights
from dcgan.imageops import BadImage, decode

# The call the issue measured: detectMultiScale(1.1, 5, minSize 30) on the full image.
HAAR_PRESETS["plain"] = HaarPreset(scale_factor=1.1, min_neighbors=5, face_px=None, min_size=30)
DETECTORS = ("paper", "plain", "v1", "verified")
SIZES = ((64, 100), (100, 160), (160, 10**9))


def run(settings: FaceSettings, folder: Path, names: list[str]) -> tuple[dict, dict, float]:
    """Boxes found (>= min_face_size) and boxes kept as crops, per image; images/s of the whole path."""
    detector = make_detector(settings)
    found, kept = {}, {}
    start = time.perf_counter()
    for name in names:
        try:
            rgb, *_ = decode((folder / name).read_bytes(), size=settings.image_size, min_side=settings.min_face_size, reduced=False)
        except BadImage:
            continue
        boxes, scores = detector(rgb)
        faces, _ = select_faces(rgb, boxes, scores, settings)
        found[name] = [b for b in boxes if min(b[2], b[3]) >= settings.min_face_size]
        kept[name] = [f.box for f in faces]
    return found, kept, len(names) / (time.perf_counter() - start)


def size_bin(side: float) -> str:
    return next(f"{lo}-{hi - 1}" if hi < 10**9 else f"{lo}+" for lo, hi in SIZES if lo <= side < hi)


def tally(truth: dict, found: dict, kept: dict) -> dict:
    """Recall of faces >= 64 px by group (view, size, person, edit), false positives, precision."""
    hits = defaultdict(lambda: [0, 0])
    false_positives = detections = 0
    overlaps = []
    for name, info in truth["images"].items():
        faces, boxes = info["faces"], found.get(name, [])
        found_faces, fp = match_faces(faces, boxes, 0.3)
        strict, _ = match_faces(faces, boxes, 0.5)
        kept_faces, _ = match_faces(faces, kept.get(name, []), 0.3)
        false_positives += fp
        detections += len(boxes)
        for i, face in enumerate(faces):
            side = min(face["box"][2:])
            if face.get("ignore") or side < 64:
                continue
            groups = [face["view"], f"person:{face['person']}"]
            if face["view"] == "frontal":
                groups += [f"size:{size_bin(side)}", "frontal@0.5", "frontal kept"] + [f"edit:{e}" for e in face["edits"] or ["none"]]
            if face["view"] != "frontal" and side >= 100:
                groups.append(f"{face['view']} 100+")
            for group in groups:
                hit = {"frontal@0.5": i in strict, "frontal kept": i in kept_faces}.get(group, i in found_faces)
                hits[group][0] += hit
                hits[group][1] += 1
            if i in found_faces and face["view"] == "frontal":
                overlaps.append(max(iou(face["box"], b) for b in boxes))
    images = len(truth["images"])
    return {"recall": {g: (h / n, n) for g, (h, n) in hits.items()}, "fp_per_image": false_positives / images,
            "precision": (detections - false_positives) / detections if detections else 1.0,
            "box_iou": float(np.mean(overlaps)) if overlaps else 0.0}


def table(title: str, rows: list[str], results: dict, label=lambda g: g) -> None:
    print(f"\n{title}")
    print(f"{'':<24}" + "".join(f"{d:>10}" for d in results) + "   faces")
    for group in rows:
        cells = [results[d]["recall"].get(group) for d in results]
        n = next((c[1] for c in cells if c), 0)
        print(f"{label(group):<24}" + "".join(f"{c[0]:>10.3f}" if c else f"{'-':>10}" for c in cells) + f"{n:>8}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=9, help="benchmark seed (7 and 8 were used for tuning)")
    parser.add_argument("--count", type=int, default=400, help="benchmark images")
    parser.add_argument("--demo-count", type=int, default=150, help="demo web images (the workflow's demo has 150)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "dcgan-workflow" / "face-photos")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    results, demo = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        weights = tmp / "mtcnn.pt" if not Path(MTCNN_WEIGHTS).is_file() else Path(MTCNN_WEIGHTS)
        if not weights.is_file():
            fetch_mtcnn_weights(weights)
        truth = make_face_benchmark(tmp / "bench", fetch_photos(args.cache), count=args.count, seed=args.seed)
        demo_truth = make_web_images(tmp / "demo", count=args.demo_count, seed=1)
        names, demo_names = sorted(truth["images"]), sorted(demo_truth["images"])
        for detector in DETECTORS:
            settings = FaceSettings(detector=detector, mtcnn_weights=str(weights))
            found, kept, rate = run(settings, tmp / "bench", names)
            results[detector] = {**tally(truth, found, kept), "images_per_s": rate}
            dfound, dkept, drate = run(settings, tmp / "demo", demo_names)
            demo_faces = {n: {"faces": [{**f, "view": "frontal", "person": f["identity"], "edits": []} for f in v["faces"]]}
                          for n, v in demo_truth["images"].items()}
            demo[detector] = {**tally({"images": demo_faces}, dfound, dkept), "images_per_s": drate}
            print(f"{detector}: {rate:.1f} images/s on the benchmark, {drate:.1f} on the demo", flush=True)
    faces = sum(len(v["faces"]) for v in truth["images"].values())
    empty = sum(not v["faces"] for v in truth["images"].values())
    print(f"\nbenchmark seed {args.seed}: {len(names)} images ({empty} without faces), {faces} faces of {len(PEOPLE)} people;"
          f" demo: {len(demo_names)} images. One process, one thread.")
    print(f"\n{'':<24}" + "".join(f"{d:>10}" for d in results))
    summary = [("frontal recall @.3", lambda r: r["recall"]["frontal"][0]), ("frontal recall @.5", lambda r: r["recall"]["frontal@0.5"][0]),
               ("frontal kept as crops", lambda r: r["recall"]["frontal kept"][0]),
               ("3/4 view recall", lambda r: r["recall"]["three_quarter"][0]), ("profile recall", lambda r: r["recall"]["profile"][0]),
               ("eyes covered recall", lambda r: r["recall"]["eyes_covered"][0]), ("precision", lambda r: r["precision"]),
               ("FP per image", lambda r: r["fp_per_image"]), ("box IoU (found)", lambda r: r["box_iou"]),
               ("images/s per core", lambda r: r["images_per_s"])]
    for label, get in summary:
        print(f"{label:<24}" + "".join(f"{get(results[d]):>10.3f}" for d in results))
    print("demo:")
    for label, get in (("  frontal recall @.3", lambda r: r["recall"]["frontal"][0]), ("  FP per image", lambda r: r["fp_per_image"]),
                       ("  images/s per core", lambda r: r["images_per_s"])):
        print(f"{label:<24}" + "".join(f"{get(demo[d]):>10.3f}" for d in demo))
    table("frontal recall by face size (px)", [f"size:{size_bin(lo)}" for lo, _ in SIZES], results, lambda g: g[5:])
    table("recall by edit (frontal)", sorted({g for r in results.values() for g in r["recall"] if g.startswith("edit:")}), results, lambda g: g[5:])
    table("large faces (100 px and up), other views", ["three_quarter 100+", "profile 100+", "eyes_covered 100+"], results)
    table("recall by person (all views)", [f"person:{p}" for p in PEOPLE], results, lambda g: g[7:])
    if args.json:
        args.json.write_text(json.dumps({"seed": args.seed, "benchmark": results, "demo": demo}, indent=1))


if __name__ == "__main__":
    main()
