import pytest

from conftest import photo_rgb, pil_bytes
from dcgan.imageformat import is_complete, jpeg_size, sniff_format

PHOTO = photo_rgb("coffee")[:300, :451]  # 451 x 300, odd width


@pytest.mark.parametrize(
    "pil_format, expected",
    [("JPEG", "jpeg"), ("PNG", "png"), ("WEBP", "webp"), ("BMP", "bmp")],
)
def test_sniff_recognises_formats_by_content(pil_format, expected):
    data = pil_bytes(PHOTO, pil_format)
    assert sniff_format(data) == expected
    assert is_complete(data, expected)


@pytest.mark.parametrize("data", [b"", b"GIF89a....", b"<html>hello</html>", b"RIFF\0\0\0\0WAVEfmt "])
def test_sniff_rejects_non_images(data):
    assert sniff_format(data) is None


@pytest.mark.parametrize("pil_format, fmt", [("JPEG", "jpeg"), ("PNG", "png"), ("WEBP", "webp"), ("BMP", "bmp")])
def test_truncated_images_are_incomplete(pil_format, fmt):
    data = pil_bytes(PHOTO, pil_format)
    for cut in (0.3, 0.7, 0.99):
        assert not is_complete(data[: int(len(data) * cut)], fmt)


def test_jpeg_with_trailing_bytes_is_complete():
    data = pil_bytes(PHOTO, "JPEG") + b"\0" * 100 + b"trailer"
    assert is_complete(data, "jpeg")


@pytest.mark.parametrize("options", [{}, {"progressive": True}, {"quality": 30, "subsampling": 0}])
def test_jpeg_size_reads_frame_header(options):
    data = pil_bytes(PHOTO, "JPEG", **options)
    assert jpeg_size(data) == (451, 300)


def test_jpeg_size_skips_exif_and_comments():
    from PIL import Image

    exif = Image.Exif()
    exif[0x010E] = "a description " * 50  # ImageDescription: a long APP1 segment
    data = pil_bytes(PHOTO, "JPEG", exif=exif.tobytes(), comment=b"x" * 3000)
    assert jpeg_size(data) == (451, 300)


def test_jpeg_size_none_without_frame_header(rng):
    assert jpeg_size(b"\xff\xd8" + rng.bytes(400)) is None
    assert jpeg_size(b"\xff\xd8") is None
