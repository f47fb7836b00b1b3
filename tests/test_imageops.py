import cv2
import numpy as np
import pytest

from dcgan.imageops import BadImage, decode, decode_square
from helpers import photo_rgb, pil_bytes


def block_mean_reference(rgb: np.ndarray, size: int) -> np.ndarray:
    """Shorter side scaled by an integer factor with block means, then the centre square: numpy only."""
    h, w = rgb.shape[:2]
    f = min(h, w) // size
    small = rgb[: h // f * f, : w // f * f].reshape(h // f, f, w // f, f, 3).astype(np.float64).mean(axis=(1, 3))
    sh, sw = small.shape[:2]
    y0, x0 = (sh - size) // 2, (sw - size) // 2
    return small[y0 : y0 + size, x0 : x0 + size]


@pytest.mark.parametrize("shape", [(256, 384), (384, 256), (256, 256), (512, 768)])
def test_lossless_decode_matches_block_mean_reference(shape):
    rgb = cv2.resize(photo_rgb("chelsea"), shape[::-1], interpolation=cv2.INTER_AREA)
    out, fmt, width, height = decode_square(pil_bytes(rgb, "PNG"), size=64, min_side=64)
    assert (fmt, width, height) == ("png", shape[1], shape[0])
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(np.float64) - block_mean_reference(rgb, 64)).max() <= 0.5 + 1e-9


def area_weights(n_in: int, n_out: int) -> np.ndarray:
    """Exact area-averaging matrix: output pixel i averages source interval [i s, (i+1) s), s = n_in/n_out."""
    s = n_in / n_out
    weights = np.zeros((n_out, n_in))
    for i in range(n_out):
        lo, hi = i * s, (i + 1) * s
        for j in range(int(lo), min(n_in, int(np.ceil(hi)))):
            weights[i, j] = min(hi, j + 1) - max(lo, j)
    return weights / s


@pytest.mark.parametrize("shape", [(300, 451), (451, 300), (97, 130)])
def test_lossless_decode_is_exact_area_average_at_fractional_scales(shape):
    rgb = cv2.resize(photo_rgb("coffee"), shape[::-1], interpolation=cv2.INTER_AREA)
    out, *_ = decode_square(pil_bytes(rgb, "PNG"), size=64, min_side=64)
    side = min(shape)
    y0, x0 = (shape[0] - side) // 2, (shape[1] - side) // 2
    w = area_weights(side, 64)
    reference = np.einsum("ij,jkc,lk->ilc", w, rgb[y0 : y0 + side, x0 : x0 + side].astype(np.float64), w)
    assert np.abs(out - reference).max() <= 0.5 + 1e-6


def test_output_is_rgb_not_bgr():
    rgb = np.zeros((128, 200, 3), np.uint8)
    rgb[...] = (200, 30, 90)
    out, *_ = decode_square(pil_bytes(rgb, "PNG"), size=64, min_side=64)
    assert tuple(out[32, 32]) == (200, 30, 90)


def test_centre_square_of_portrait_keeps_the_middle():
    rgb = np.zeros((300, 100, 3), np.uint8)
    rgb[:100] = 255  # top third white, the rest black: the centre square is all black
    out, *_ = decode_square(pil_bytes(rgb, "PNG"), size=50, min_side=50)
    assert out.max() == 0


@pytest.mark.parametrize("width", [336, 341, 344, 383])
def test_reduced_jpeg_decode_matches_area_resize_of_the_same_window(width):
    """At 1/4 scale the centre square sits on the decoded grid: within 2 source px of the exact centre."""
    rgb = cv2.resize(photo_rgb("astronaut"), (width, 256), interpolation=cv2.INTER_AREA)
    fast, *_ = decode_square(pil_bytes(rgb, "JPEG", quality=75), size=64, min_side=64, reduced=True)
    x0 = 4 * ((-(-width // 4) - 64) // 2)
    assert abs(x0 + 128 - width / 2) <= 2
    reference = cv2.resize(rgb[:, x0 : x0 + 256], (64, 64), interpolation=cv2.INTER_AREA)
    assert np.abs(fast.astype(int) - reference).mean() < 2.0  # JPEG q75 loss alone is ~1.6


@pytest.mark.parametrize(
    "side, size, expected_short", [(1024, 64, 128), (600, 64, 75), (256, 64, 64), (200, 64, 100), (100, 64, 100)]
)
def test_jpeg_decoded_at_the_smallest_scale_covering_size(side, size, expected_short):
    rgb = cv2.resize(photo_rgb("coffee"), (side * 4 // 3, side), interpolation=cv2.INTER_AREA)
    image, *_ = decode(pil_bytes(rgb, "JPEG"), size=size, min_side=size)
    assert min(image.shape[:2]) == expected_short


def test_too_small_is_rejected_unless_allowed():
    data = pil_bytes(np.full((40, 60, 3), 128, np.uint8), "JPEG")
    with pytest.raises(BadImage, match=r"too small \(60x40"):
        decode_square(data, size=64, min_side=64)
    out, *_ = decode_square(data, size=64, min_side=32)
    assert out.shape == (64, 64, 3)


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty value"),
        (b"hello world, not an image", "not an image"),
        (b"\xff\xd8\x00\x00garbage\xff\xd9", "undecodable jpeg"),
    ],
)
def test_bad_values_raise_with_reason(data, reason):
    with pytest.raises(BadImage, match=reason):
        decode_square(data, size=64, min_side=64)


def test_greyscale_and_alpha_inputs_become_rgb():
    grey = cv2.cvtColor(photo_rgb("coffee"), cv2.COLOR_RGB2GRAY)
    out, *_ = decode_square(pil_bytes(grey, "JPEG"), size=64, min_side=64)
    assert out.shape == (64, 64, 3) and np.array_equal(out[..., 0], out[..., 1])
    rgba = np.dstack([photo_rgb("coffee"), np.full(photo_rgb("coffee").shape[:2], 255, np.uint8)])
    out, fmt, *_ = decode_square(pil_bytes(rgba, "PNG"), size=64, min_side=64)
    assert fmt == "png" and out.shape == (64, 64, 3)
