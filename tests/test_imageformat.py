import pytest

from dcgan.imageformat import header_size, is_complete, jpeg_size, sniff_format
from helpers import photo_rgb, pil_bytes

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


@pytest.mark.parametrize(
    "pil_format, options",
    [
        ("JPEG", {}),
        ("JPEG", {"progressive": True}),
        ("PNG", {}),
        ("BMP", {}),
        ("WEBP", {"quality": 80}),  # lossy: VP8
        ("WEBP", {"lossless": True}),  # VP8L
        ("WEBP", {"quality": 80, "exif": b"Exif\0\0II*\0"}),  # extended: VP8X
    ],
)
def test_header_size_reads_every_format_without_decoding(pil_format, options):
    data = pil_bytes(PHOTO, pil_format, **options)
    assert header_size(data, sniff_format(data)) == (451, 300)
    assert header_size(data[:12], sniff_format(data)) is None  # a header cut short


def test_header_size_of_an_os2_bitmap_and_a_top_down_one():
    os2 = b"BM" + bytes(12) + (12).to_bytes(4, "little") + (640).to_bytes(2, "little") + (480).to_bytes(2, "little")
    assert header_size(os2, "bmp") == (640, 480)
    top_down = bytearray(pil_bytes(PHOTO, "BMP"))
    top_down[22:26] = (-300).to_bytes(4, "little", signed=True)
    assert header_size(bytes(top_down), "bmp") == (451, 300)
