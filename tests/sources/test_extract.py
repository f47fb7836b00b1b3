import cv2
import numpy as np
import pytest

from dcgan.cli import main
from dcgan.errors import UserError
from dcgan.sources.extract import extract_part, part_quota
from dcgan.sources.settings import ExtractSettings
from dcgan.summary import reason_category, summarise_table
from dcgan.table import part_prefix, read_part, read_rejects
from helpers import photo_rgb, pil_bytes, write_lmdb

SOLID = (210, 40, 120)


def good_values(rng) -> dict[bytes, bytes]:
    """Every kind of usable value, keyed by 40-hex keys."""
    photo = cv2.resize(photo_rgb("chelsea"), (341, 256), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    rgba = np.dstack([photo, np.full(photo.shape[:2], 200, np.uint8)])
    encoded = [
        pil_bytes(photo, "JPEG", quality=75),
        pil_bytes(photo, "JPEG", progressive=True),
        pil_bytes(grey, "JPEG"),
        pil_bytes(photo, "WEBP"),
        pil_bytes(photo, "PNG"),
        pil_bytes(rgba, "PNG"),
        pil_bytes(np.full((256, 300, 3), SOLID, np.uint8), "PNG"),
        cv2.imencode(".png", (photo.astype(np.uint16) * 257)[..., ::-1])[1].tobytes(),  # 16-bit PNG
        pil_bytes(cv2.resize(photo, (64, 64)), "JPEG"),  # exactly the minimum size
    ]
    for i in range(30):
        crop = photo[:, i * 2 : i * 2 + 256]
        encoded.append(pil_bytes(crop, "JPEG", quality=75))
    return {rng.bytes(20).hex().encode(): v for v in encoded}


def bad_values(rng) -> dict[bytes, tuple[bytes, str]]:
    photo = photo_rgb("coffee")
    jpeg, png, webp = (pil_bytes(photo, f) for f in ("JPEG", "PNG", "WEBP"))
    cases = [
        (b"", "empty value"),
        (jpeg[: len(jpeg) // 2], "truncated jpeg"),
        (png[: len(png) // 3], "truncated png"),
        (webp[: len(webp) // 2], "truncated webp"),
        (rng.bytes(3000), "not an image"),
        (b"\xff\xd8" + rng.bytes(3000) + b"\xff\xd9", "undecodable jpeg"),
        (b"\x89PNG\r\n\x1a\n" + rng.bytes(500) + b"IEND\xaeB`\x82", "undecodable png"),
        (pil_bytes(photo[:40, :60], "JPEG"), "too small"),
        (pil_bytes(photo[:63, :300], "PNG"), "too small"),
    ]
    return {rng.bytes(20).hex().encode(): case for case in cases}


@pytest.fixture
def lmdb_with_everything(tmp_path, rng):
    good = good_values(rng)
    bad = bad_values(rng)
    path = write_lmdb(tmp_path / "db", {**good, **{k: v for k, (v, _) in bad.items()}})
    return path, good, bad


@pytest.mark.parametrize("parts", [1, 3])
def test_every_value_is_extracted_or_rejected_with_its_reason(tmp_path, lmdb_with_everything, parts):
    path, good, bad = lmdb_with_everything
    table = tmp_path / "table"
    for part in range(parts):
        extract_part(path, table, ExtractSettings(part=part, parts=parts))
    kept, rejected = {}, {}
    for part in range(parts):
        images, rows = read_part(part_prefix(table, part))
        assert images.shape == (len(rows), 64, 64, 3) and images.dtype == np.uint8
        kept.update({r["key"]: (images[i], r) for i, r in enumerate(rows)})
        rejected.update({r["key"]: r["reason"] for r in read_rejects(part_prefix(table, part))})
    assert set(kept) == {k.decode() for k in good}  # no good value lost
    assert {k: reason_category(r) for k, r in rejected.items()} == {k.decode(): why for k, (_, why) in bad.items()}
    solid = next(image for image, row in kept.values() if (image == image[0, 0]).all())
    assert tuple(solid[0, 0]) == SOLID
    summary = summarise_table(table, parts)
    assert summary["images"] == len(good) and summary["rejects"] == len(bad)


@pytest.mark.parametrize("max_images, parts", [(10, 3), (5, 8), (1, 4)])
def test_max_images_keeps_exactly_that_many(tmp_path, lmdb_with_everything, max_images, parts):
    path, good, _ = lmdb_with_everything
    table = tmp_path / "table"
    counts = [
        extract_part(path, table, ExtractSettings(part=p, parts=parts, max_images=max_images))["images"]
        for p in range(parts)
    ]
    assert sum(counts) == max_images  # more parts than images: the later parts keep none
    assert counts == [part_quota(max_images, p, parts) for p in range(parts)]
    assert part_quota(0, 0, parts) is None  # 0: no limit


def test_extraction_is_deterministic(tmp_path, lmdb_with_everything):
    path, *_ = lmdb_with_everything
    for name in ("a", "b"):
        extract_part(path, tmp_path / name, ExtractSettings(part=0, parts=2))
    for suffix in (".npy", ".tsv", ".rejects.tsv"):
        first = part_prefix(tmp_path / "a", 0).with_suffix(suffix).read_bytes()
        assert first == part_prefix(tmp_path / "b", 0).with_suffix(suffix).read_bytes()


def test_empty_lmdb_stops_extraction_naming_it(tmp_path):
    path = write_lmdb(tmp_path / "db", {})
    with pytest.raises(UserError, match="is empty"):
        extract_part(path, tmp_path / "table", ExtractSettings(part=1, parts=2))
    assert not (tmp_path / "table").exists()


def test_provenance_records_settings_and_versions(tmp_path, lmdb_with_everything):
    path, *_ = lmdb_with_everything
    meta = extract_part(path, tmp_path / "table", ExtractSettings(image_size=32))
    assert meta["settings"]["image_size"] == 32 and meta["settings"]["min_size"] == 32
    assert {"python", "numpy", "opencv-python-headless", "lmdb"} <= set(meta["versions"])


def test_cli_reports_user_errors_in_one_line(tmp_path, capsys):
    assert main(["extract", str(tmp_path / "missing_lmdb"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing_lmdb" in err and "Traceback" not in err


def test_cli_extracts(tmp_path, lmdb_with_everything, capsys):
    path, good, bad = lmdb_with_everything
    assert main(["extract", str(path), str(tmp_path / "t"), "--part", "1", "--parts", "2"]) == 0
    assert "part 1/2" in capsys.readouterr().out
    assert part_prefix(tmp_path / "t", 1).with_suffix(".npy").is_file()
