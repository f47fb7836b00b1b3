"""Face detections scored against the demo generator's ground truth boxes."""

from __future__ import annotations


def iou(a, b) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def score_faces(detections: dict[str, list], truth: dict, min_face_size: int, thresholds=(0.3, 0.5)) -> dict:
    """detections: image path -> kept boxes (x, y, w, h); truth: faces_truth.json.

    Recall counts true faces whose shorter side is at least `min_face_size`; a detection is a false
    positive when it overlaps no true face (of any size) by IoU >= the threshold. Each true face is
    matched at most once, greedily by IoU.
    """
    result = {"images": len(truth["images"]), "detections": sum(len(d) for d in detections.values())}
    for t in thresholds:
        found = eligible = false_positives = 0
        for name, info in truth["images"].items():
            faces = [f["box"] for f in info["faces"]]
            boxes = list(detections.get(name, []))
            pairs = sorted(((iou(f, b), i, j) for i, f in enumerate(faces) for j, b in enumerate(boxes)), reverse=True)
            face_hit, box_hit = set(), set()
            for overlap, i, j in pairs:
                if overlap >= t and i not in face_hit and j not in box_hit:
                    face_hit.add(i)
                    box_hit.add(j)
            big = [i for i, f in enumerate(faces) if min(f[2], f[3]) >= min_face_size]
            eligible += len(big)
            found += sum(i in face_hit for i in big)
            false_positives += len(boxes) - len(box_hit)
        tag = f"{t:g}"
        result[f"faces@{tag}"] = eligible
        result[f"recall@{tag}"] = found / eligible if eligible else 1.0
        result[f"precision@{tag}"] = (result["detections"] - false_positives) / result["detections"] if result["detections"] else 1.0
        result[f"fp_per_image@{tag}"] = false_positives / len(truth["images"]) if truth["images"] else 0.0
    return result
