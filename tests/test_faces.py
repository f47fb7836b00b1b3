
import cv2
import numpy as np
import pytest

from conftest import photo_rgb
from dcgan.cli import main
from dcgan.demo.web_images import BAD_FILES, make_web_images
from dcgan.errors import UserError
from dcgan.faces import FaceSettings, crop_square, detect, detect_part, make_detector
from dcgan.facescoring import iou, score_faces
from dcgan.summary import reason_category
from dcgan.table import part_prefix, read_part, read_rejects
from dcgan.webimages import list_images, part_slice, write_list

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
    root, paths = list_images(tmp_path)
    assert root == tmp_path and paths == ["a/b/c", "a/z.png", "b.jpg"]
    listing = tmp_path / "list.txt"
    listing.write_text(f"b.jpg\n# a comment\n\n{tmp_path / 'a/z.png'}\nb.jpg\n")
    root, paths = list_images(listing)
    assert root == tmp_path and paths == sorted({"b.jpg", str(tmp_path / "a/z.png")})
    with pytest.raises(UserError, match="not found: .*nowhere"):
        list_images(tmp_path / "nowhere")


@pytest.mark.parametrize("count, parts", [(0, 3), (1, 3), (10, 3), (157, 4), (5, 8)])
def test_part_slices_cover_every_item_once(count, parts):
    items = list(range(count))
    assert [i for p in range(parts) for i in items[part_slice(count, p, parts)]] == items


def test_crop_square_handles_borders():
    rgb = np.arange(200 * 300 * 3, dtype=np.uint32).reshape(200, 300, 3).astype(np.uint8)
    shift = FaceSettings(margin=0.5, image_size=32)
    assert crop_square(rgb, (100, 50, 80, 80), shift).shape == (32, 32, 3)  # 160 square, inside
    assert crop_square(rgb, (0, 0, 80, 80), shift).shape == (32, 32, 3)  # shifted inside
    assert crop_square(rgb, (0, 0, 80, 80), FaceSettings(margin=0.5, border="skip")) is None
    assert crop_square(rgb, (10, 10, 190, 190), shift).shape == (32, 32, 3)  # larger than the image: clamped
    exact = FaceSettings(margin=0.0, image_size=64)
    assert np.array_equal(crop_square(rgb, (100, 50, 64, 64), exact), rgb[50:114, 100:164])


def test_boxes_found_on_the_downscaled_copy_map_back_to_original_pixels():
    face = photo_rgb("astronaut")[20:230, 120:330]  # head and shoulders; the face box is (57, 46, 95, 95)
    canvas = np.full((2400, 3600, 3), 90, np.uint8)
    big = cv2.resize(face, (630, 630), interpolation=cv2.INTER_CUBIC)  # face box x3: (171, 138, 285, 285)
    canvas[1000:1630, 2000:2630] = big
    settings = FaceSettings()
    found = detect(make_detector(settings), canvas, settings)
    assert len(found) == 1
    assert iou(found[0][:4], (2171, 1138, 285, 285)) > 0.6


def test_yunet_without_its_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="YuNet model file not found"):
        make_detector(FaceSettings(detector="yunet", yunet_model=str(tmp_path / "missing.onnx")))


@pytest.fixture(scope="module")
def demo_faces(tmp_path_factory):
    """The demo's 150 web images (same generator and seed as the demo) detected in 3 parts."""
    root = tmp_path_factory.mktemp("faces")
    truth = make_web_images(root / "web", count=150, seed=1)
    write_list(root / "web", root / "inputs.txt")
    metas = [detect_part(root / "inputs.txt", root / "images", part=p, parts=3, settings=FaceSettings()) for p in range(3)]
    return root, truth, metas


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


def test_every_file_is_processed_once_and_every_bad_one_rejected(demo_faces):
    root, truth, metas = demo_faces
    rejected = {}
    for part in range(3):
        rejected.update({r["key"]: r["reason"] for r in read_rejects(part_prefix(root / "images", part))})
    assert {k: reason_category(v) for k, v in rejected.items()} == {k: EXPECTED_REASON[v] for k, v in BAD_FILES.items()}
    assert sum(m["source_images"] for m in metas) == len(truth["images"]) + len(BAD_FILES)
    keys = [r["key"] for p in range(3) for r in read_part(part_prefix(root / "images", p))[1]]
    assert len(keys) == len(set(keys)) and all(r["width"] for p in range(3) for r in read_part(part_prefix(root / "images", p))[1])


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
