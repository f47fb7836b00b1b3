"""Face detections scored against ground-truth boxes (the demo's or a benchmark's truth file), and the box geometry
the detectors share."""

from __future__ import annotations

import numpy as np


def intersection(a, b) -> float:
    """Area shared by two boxes (x, y, w, h)."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy


def iou(a, b) -> float:
    inter = intersection(a, b)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def inside_suppressed(boxes: np.ndarray, scores: np.ndarray, fraction: float = 0.5) -> np.ndarray:
    """Indices (most confident first) of the boxes that do not lie mostly (`fraction` of the smaller
    box or more) inside a more confident kept box: a face part found beside its face."""
    kept = []
    for i in np.argsort(-scores, kind="stable"):
        if all(
            intersection(boxes[i], boxes[j]) / min(boxes[i][2] * boxes[i][3], boxes[j][2] * boxes[j][3]) < fraction
            for j in kept
        ):
            kept.append(i)
    return np.array(kept, int)


def match_faces(faces: list[dict], boxes: list, threshold: float) -> tuple[set[int], int]:
    """(indices of the true faces found, false positives) for one image. Each true face is matched at
    most once, greedily by IoU. A detection on a face marked `ignore` (one cut off or faded in a
    composite) is neither a hit nor a false positive."""
    pairs = sorted(((iou(f["box"], b), i, j) for i, f in enumerate(faces) for j, b in enumerate(boxes)), reverse=True)
    found, used = set(), set()
    for overlap, i, j in pairs:
        if overlap >= threshold and i not in found and j not in used:
            found.add(i)
            used.add(j)
    ignored = {i for i in found if faces[i].get("ignore")}
    return found - ignored, len(boxes) - len(used)


def score_faces(detections: dict[str, list], truth: dict, min_face_size: int, thresholds=(0.3, 0.5)) -> dict:
    """detections: image path -> kept boxes (x, y, w, h); truth: {"images": {path: {"faces": [{"box"}]}}}.

    Recall counts true faces whose shorter side is at least `min_face_size`; a detection is a false
    positive when it overlaps no true face (of any size) by IoU >= the threshold.
    """
    result = {"images": len(truth["images"]), "detections": sum(len(d) for d in detections.values())}
    for t in thresholds:
        found = eligible = false_positives = 0
        for name, info in truth["images"].items():
            faces = info["faces"]
            hits, fp = match_faces(faces, list(detections.get(name, [])), t)
            big = [i for i, f in enumerate(faces) if min(f["box"][2:]) >= min_face_size and not f.get("ignore")]
            eligible += len(big)
            found += sum(i in hits for i in big)
            false_positives += fp
        tag = f"{t:g}"
        result[f"faces@{tag}"] = eligible
        result[f"recall@{tag}"] = found / eligible if eligible else 1.0
        result[f"precision@{tag}"] = (
            (result["detections"] - false_positives) / result["detections"] if result["detections"] else 1.0
        )
        result[f"fp_per_image@{tag}"] = false_positives / len(truth["images"]) if truth["images"] else 0.0
    return result
